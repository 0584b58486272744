"""The pipeline's health: when prices, posts, forecasts and scores last arrived, and a banner
with what needs attention."""

from __future__ import annotations

import html

import pandas as pd
import panel as pn

from ecoin_assets.dashboard.sections.common import heading
from ecoin_assets.dashboard.snapshot import Snapshot


def _when(value) -> str:
    return "never" if value is None or pd.isna(value) else f"{value:%Y-%m-%d %H:%M} UTC"


def health_rows(health: dict) -> list[tuple[str, str]]:
    """What the health table lists: (what, when or how many)."""
    h = health
    return [
        ("newest price", "none" if h["last_price_date"] is None else str(h["last_price_date"])),
        ("prices stored", _when(h["last_price_at"])),
        ("newest post stored", _when(h["last_post_at"])),
        ("posts in the last 5 min", str(h["posts_last_5_min"])),
        ("forecasts made", _when(h["last_forecast_at"])),
        ("posts last scored", _when(h["last_scored_at"])),
        ("sentiment model", h["sentiment_model"]),
    ]


def problems(snapshot: Snapshot) -> list[str]:
    """What the banner says needs attention (nothing while there is no data at all)."""
    return snapshot.health["problems"] if not snapshot.empty else []


def health_html(health: dict) -> str:
    return (
        "<table style='font-size:13px'>"
        + "".join(
            f"<tr><td class='ecoin-muted' style='padding-right:12px'>{k}</td>"
            f"<td>{html.escape(v)}</td></tr>"
            for k, v in health_rows(health)
        )
        + "</table>"
    )


class HealthView:
    """The health table; the banner sits at the top of the page."""

    def __init__(self) -> None:
        self.banner = pn.pane.Alert("", alert_type="danger", visible=False, margin=(0, 10))
        self.table = pn.pane.HTML("", margin=(0, 10))

    def layout(self) -> pn.Column:
        return pn.Column(pn.pane.HTML(heading("Pipeline health")), self.table, width=380)

    def update(self, snapshot: Snapshot) -> None:
        shown = problems(snapshot)
        self.banner.object = "**Pipeline attention needed:** " + "; ".join(shown)
        self.banner.visible = bool(shown)
        self.table.object = health_html(snapshot.health)

    def hide_banner(self) -> None:
        self.banner.visible = False
