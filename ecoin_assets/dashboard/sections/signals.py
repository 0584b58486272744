"""Signals per active topic over the window, as alerts see them: volume, authors, dominance,
mean and engagement-weighted sentiment, and their z-scores against the topic's baseline."""

from __future__ import annotations

import pandas as pd
import panel as pn
from bokeh.models import NumberFormatter

from ecoin_assets.dashboard.sections.common import heading
from ecoin_assets.dashboard.snapshot import Snapshot

SIGNAL_COLUMNS = [
    "topic",
    "volume",
    "authors",
    "dominance",
    "sentiment",
    "engaged_sentiment",
    "volume_z",
    "sentiment_z",
]


def signal_rows(snapshot: Snapshot) -> pd.DataFrame:
    """One row per active topic, in SIGNAL_COLUMNS."""
    return snapshot.signals.reindex(columns=SIGNAL_COLUMNS)


class SignalsView:
    def __init__(self) -> None:
        self.table = pn.widgets.Tabulator(
            pd.DataFrame(columns=SIGNAL_COLUMNS),
            name="signals",
            show_index=False,
            disabled=True,
            height=190,
            sizing_mode="stretch_width",
            formatters={
                "dominance": NumberFormatter(format="0%", text_align="right"),
                "sentiment": NumberFormatter(format="+0.00", text_align="right"),
                "engaged_sentiment": NumberFormatter(format="+0.00", text_align="right"),
                "volume_z": NumberFormatter(format="+0.0", text_align="right"),
                "sentiment_z": NumberFormatter(format="+0.0", text_align="right"),
            },
            titles={"engaged_sentiment": "engaged sent.", "volume_z": "volume z"},
            layout="fit_data_stretch",
        )

    def components(self) -> list:
        return [pn.pane.HTML(heading("Signals over the window")), self.table]

    def update(self, snapshot: Snapshot) -> None:
        signals = signal_rows(snapshot)
        if not signals.equals(self.table.value):
            self.table.value = signals
