"""How the coin's published forecasts did: realized MASE and interval coverage per window and
horizon (forecasting/realized.py's summary, as `ecoin forecast scores` shows it)."""

from __future__ import annotations

import pandas as pd
import panel as pn

from ecoin_assets.dashboard.snapshot import Snapshot

HEADING = "<h4 style='margin:6px 0 2px'>How the published forecasts did</h4>"
NONE_YET = (
    "<span class='ecoin-muted'>No stored forecast has reached its day yet "
    "('ecoin forecast history' issues past ones).</span>"
)


def score_rows(scores: pd.DataFrame) -> list[tuple[str, ...]]:
    """Per window and horizon: targets, ahead, n, MASE and coverage, as text."""
    return [
        (
            f"{r.window_days} days",
            f"{r.horizon} d",
            f"{r.n}",
            "-" if pd.isna(r.mase) else f"{r.mase:.3f}",
            f"{r.coverage:.0%} of {r.interval:.0%}",
        )
        for r in scores.itertuples()
    ]


def realized_html(scores: pd.DataFrame) -> str:
    if scores.empty:
        return NONE_YET
    rows = "".join(
        "<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in score_rows(scores)
    )
    return (
        "<table class='ecoin-realized' style='font-size:13px'><tr class='ecoin-muted'>"
        "<td>targets</td><td>ahead</td><td>n</td><td>MASE</td><td>in interval</td></tr>"
        f"{rows}</table><span class='ecoin-muted' style='font-size:12px'>MASE below 1 beats "
        f"the naive forecast; target days up to {scores['last_target'].max()}</span>"
    )


class RealizedView:
    def __init__(self) -> None:
        self.scores = pn.pane.HTML("", margin=(0, 10), name="realized")

    def components(self) -> list:
        return [pn.pane.HTML(HEADING), self.scores]

    def update(self, snapshot: Snapshot) -> None:
        self.scores.object = realized_html(snapshot.forecast_scores)
