"""The latest alerts (of the last ALERT_DAYS): when, which rule, which topic, what it said and
whether it was delivered."""

from __future__ import annotations

import pandas as pd
import panel as pn

from ecoin_assets.dashboard.sections.common import heading
from ecoin_assets.dashboard.snapshot import Snapshot

ALERT_COLUMNS = ["fired_at", "rule", "topic", "text", "delivered"]


def alert_rows(alerts: pd.DataFrame) -> pd.DataFrame:
    """The alerts as the table shows them (an empty table when none is stored)."""
    return pd.DataFrame(
        {
            "fired_at": alerts.get("fired_at", pd.Series(dtype="datetime64[ns]")),
            "rule": alerts.get("rule", pd.Series(dtype=str)),
            "topic": alerts.get("topic", pd.Series(dtype=str)),
            "text": alerts.get("text", pd.Series(dtype=str)),
            "delivered": alerts.get("delivered_at", pd.Series(dtype=object)).notna()
            if len(alerts)
            else pd.Series(dtype=bool),
        }
    )


class AlertsView:
    def __init__(self) -> None:
        self.table = pn.widgets.Tabulator(
            pd.DataFrame(columns=ALERT_COLUMNS),
            name="alerts",
            show_index=False,
            disabled=True,
            height=190,
            sizing_mode="stretch_width",
            formatters={"text": {"type": "textarea"}},
            layout="fit_data_stretch",
        )

    def components(self) -> list:
        return [pn.pane.HTML(heading("Latest alerts")), self.table]

    def update(self, snapshot: Snapshot) -> None:
        shown = alert_rows(snapshot.alerts)
        if not shown.equals(self.table.value):
            self.table.value = shown
