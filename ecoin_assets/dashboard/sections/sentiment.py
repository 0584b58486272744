"""Sentiment over the window: a headline card per topic (mean sentiment against the previous
window) and the chosen topic's timeline (mean and volume-weighted sentiment, mention volume,
label shares)."""

from __future__ import annotations

import html

import pandas as pd
import panel as pn
from bokeh.models import HoverTool, Range1d, Span

from ecoin_assets.dashboard.sections.common import (
    COLORS,
    SENTIMENT,
    legend,
    second_axis,
    source,
    time_figure,
)
from ecoin_assets.dashboard.snapshot import WINDOWS, Snapshot

SERIES_COLUMNS = [
    "ts",
    "posts_per_min",
    "scored",
    "mean_sentiment",
    "weighted_sentiment",
    "share_negative",
    "share_neutral",
    "share_positive",
]


def topic_series(snapshot: Snapshot, topic: str | None) -> dict[str, object]:
    """The chosen topic's time series, as the charts' columns."""
    series = snapshot.series[snapshot.series["topic"] == topic]
    return {c: series[c].to_numpy() for c in SERIES_COLUMNS}


def headlines(snapshot: Snapshot) -> list[tuple[str, pd.Series | None]]:
    """Per known topic, its headline row (None: no posts in the window)."""
    rows = snapshot.headlines.set_index("topic")
    return [(t, rows.loc[t] if t in rows.index else None) for t in snapshot.topics]


def card(topic: str, row: pd.Series | None, window: str) -> str:
    if row is None or pd.isna(row.get("mean_sentiment")):
        value, change, scored = "–", "no posts in this window", 0
        color = COLORS["neutral"]
    else:
        mean = float(row["mean_sentiment"])
        color = (
            COLORS["positive"]
            if mean > 0.05
            else COLORS["negative"]
            if mean < -0.05
            else (COLORS["neutral"])
        )
        value, scored = f"{mean:+.2f}", int(row["scored"])
        if pd.isna(row.get("change")):
            change = "no previous window"
        else:
            arrow = "▲" if row["change"] > 0 else "▼" if row["change"] < 0 else "="
            change = f"{arrow} {row['change']:+.2f} vs previous {window}"
    return (
        f'<div class="ecoin-card"><div class="topic">{html.escape(topic)}</div>'
        f'<div class="value" style="color:{color}">{value}</div>'
        f'<div class="change">{html.escape(change)}</div>'
        f'<div class="ecoin-muted">{scored} posts scored</div></div>'
    )


def cards(snapshot: Snapshot, window: str) -> str:
    return (
        '<div style="display:flex;gap:10px;flex-wrap:wrap">'
        + "".join(card(t, row, window) for t, row in headlines(snapshot))
        + "</div>"
    )


class SentimentView:
    """The headline cards and the three charts of the chosen topic."""

    def __init__(self) -> None:
        self.cards = pn.pane.HTML("", margin=(0, 10))
        self.series = source(SERIES_COLUMNS, "sentiment_series")
        self.mood = time_figure("Mean sentiment (-1 negative … +1 positive)", "sentiment")
        self.mood.y_range = Range1d(-1.05, 1.05)
        self.mood.add_layout(Span(location=0, dimension="width", line_color="#adb5bd"))
        self.mood.line(
            "ts",
            "mean_sentiment",
            source=self.series,
            color=SENTIMENT,
            width=2,
            legend_label="mean",
        )
        self.mood.scatter("ts", "mean_sentiment", source=self.series, color=SENTIMENT, size=4)
        second_axis(self.mood, "weighted", -5, 5, "volume-weighted")
        self.mood.line(
            "ts",
            "weighted_sentiment",
            source=self.series,
            y_range_name="weighted",
            color="#f4a261",
            width=1.5,
            line_dash="dashed",
            legend_label="volume-weighted (mean × ln(1+posts))",
        )
        legend(self.mood, location="bottom_left")
        self.mood.add_tools(
            HoverTool(
                tooltips=[
                    ("time", "@ts{%H:%M}"),
                    ("mean", "@mean_sentiment{+0.00}"),
                    ("posts scored", "@scored"),
                ],
                formatters={"@ts": "datetime"},
                mode="vline",
            )
        )

        self.volume = time_figure("Mention volume", "posts per minute", x_range=self.mood.x_range)
        self.volume.vbar(
            x="ts", top="posts_per_min", source=self.series, width=50_000, color="#457b9d"
        )
        self.volume.y_range.start = 0

        self.shares = time_figure(
            "Share of posts by label", "share of posts", x_range=self.mood.x_range
        )
        self.shares.vbar_stack(
            ["share_negative", "share_neutral", "share_positive"],
            x="ts",
            width=50_000,
            source=self.series,
            color=list(COLORS.values()),
            legend_label=list(COLORS),
        )
        self.shares.y_range = Range1d(0, 1)
        legend(self.shares, location="bottom_left", orientation="horizontal")

    def components(self) -> list:
        return [
            self.cards,
            pn.pane.Bokeh(self.mood, sizing_mode="stretch_width"),
            pn.pane.Bokeh(self.volume, sizing_mode="stretch_width"),
            pn.pane.Bokeh(self.shares, sizing_mode="stretch_width"),
        ]

    def update(self, snapshot: Snapshot, topic: str | None, window: str) -> None:
        self.series.data = topic_series(snapshot, topic)
        _, step = WINDOWS[window]
        for renderer in (*self.volume.renderers, *self.shares.renderers):
            renderer.glyph.width = step * 60_000 * 0.8
        self.volume.yaxis.axis_label = "posts per minute" + (
            f" ({step}-min mean)" if step > 1 else ""
        )
        self.cards.object = cards(snapshot, window)
