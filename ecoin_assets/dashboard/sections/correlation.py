"""The coin topic's daily sentiment against the coin's daily returns: the rolling 30-day
correlation at the best lag, and a note on the correlation by lag."""

from __future__ import annotations

import pandas as pd
import panel as pn
from bokeh.models import Range, Range1d, Span

from ecoin_assets.dashboard.sections.common import SENTIMENT, source, time_figure
from ecoin_assets.dashboard.sections.prices import chart_columns
from ecoin_assets.dashboard.snapshot import Snapshot


def strongest_lag(lags: pd.DataFrame) -> dict | None:
    """The lag of the strongest correlation: `lag, r, n, lead` (in words), and `by_lag`
    (lag -> r); None without enough days to correlate."""
    lags = lags.dropna(subset=["r"]) if not lags.empty else lags
    if lags.empty:
        return None
    best = lags.loc[lags["r"].abs().idxmax()]
    lead = (
        "sentiment leads returns"
        if best["lag"] > 0
        else ("sentiment follows returns" if best["lag"] < 0 else "same day")
    )
    return {
        "lag": int(best["lag"]),
        "r": float(best["r"]),
        "n": int(best["n"]),
        "lead": lead,
        "by_lag": {int(r.lag): float(r.r) for r in lags.itertuples()},
    }


def correlation_note(lags: pd.DataFrame) -> str:
    best = strongest_lag(lags)
    if best is None:
        return "Not enough days with both sentiment and prices yet."
    return (
        f"Best lag: {best['lag']:+d} day(s) ({best['lead']}), r = {best['r']:+.2f} over "
        f"{best['n']} days. By lag: "
        + ", ".join(f"{lag:+d}: {r:+.2f}" for lag, r in best["by_lag"].items())
    )


class CorrelationView:
    """The rolling correlation chart (sharing the price chart's dates) and the lag note."""

    def __init__(self, x_range: Range) -> None:
        self.rolling_src = source(["date", "r"], "rolling_correlation")
        self.chart = time_figure(
            "Rolling 30-day correlation: daily sentiment vs returns",
            "Pearson r",
            height=200,
            x_range=x_range,
        )
        self.chart.xaxis.axis_label = "date (UTC)"
        self.chart.y_range = Range1d(-1, 1)
        self.chart.add_layout(Span(location=0, dimension="width", line_color="#adb5bd"))
        self.chart.line("date", "r", source=self.rolling_src, color=SENTIMENT, width=2)
        self.note = pn.pane.HTML("", css_classes=["ecoin-muted"], margin=(0, 10))

    def components(self) -> list:
        return [pn.pane.Bokeh(self.chart, sizing_mode="stretch_width"), self.note]

    def update(self, snapshot: Snapshot) -> None:
        self.rolling_src.data = chart_columns(snapshot.rolling, ["date", "r"])
        self.note.object = correlation_note(snapshot.lags)
