"""The stream service's reports to Dagster: a runless materialization of `x_posts` about once
a minute, with what the minute stored and how late, so the Dagster UI shows the asset live,
its freshness check passes while posts flow, and the X sensor stands aside (`sensors.py`).

Reports go to the Dagster instance of `DAGSTER_HOME` (the one `ecoin demo` and the deployment
use); without it the service runs unreported.
"""

from __future__ import annotations

import logging
import statistics
import time

from ecoin_assets.config import environment_value

log = logging.getLogger(__name__)

REPORTED_BY = "ecoin tweets stream"
REPORT_SECONDS = 60.0


def lag_percentiles(lags: list[float]) -> dict[str, float]:
    """`lag_p50_s` and `lag_p95_s` of lags in seconds (empty when there are none)."""
    if not lags:
        return {}
    ordered = sorted(lags)
    return {
        "lag_p50_s": round(statistics.median(ordered), 3),
        "lag_p95_s": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3),
    }


class DagsterReporter:
    """Collects batch figures; `maybe_report()` sends them when a report is due."""

    def __init__(self, every: float = REPORT_SECONDS, instance=None):
        self.every = every
        self._instance = instance
        self._due = time.monotonic()  # the first batch is reported at once
        self._stored = self._kept = self._batches = 0
        self._lags: list[float] = []
        self.sent = 0

    @classmethod
    def from_environment(cls) -> DagsterReporter | None:
        if not environment_value("DAGSTER_HOME"):
            log.info("DAGSTER_HOME is not set: the stream service will not report to Dagster")
            return None
        return cls()

    def add(self, stored: int, kept: int, lags: list[float]) -> None:
        self._stored += stored
        self._kept += kept
        self._batches += 1
        self._lags += lags

    def maybe_report(self, mode: str, topics: list[str], gaps: int) -> None:
        if time.monotonic() < self._due:
            return
        import dagster as dg

        metadata = {
            "reported_by": REPORTED_BY,
            "mode": mode,
            "topics": ", ".join(topics),
            "stored": self._stored,
            "kept_for_sentiment": self._kept,
            "batches": self._batches,
            "gaps_recovered": gaps,
        } | lag_percentiles(self._lags)
        try:
            instance = self._instance or dg.DagsterInstance.get()
            self._instance = instance
            instance.report_runless_asset_event(
                dg.AssetMaterialization(asset_key="x_posts", metadata=metadata)
            )
            self.sent += 1
        except Exception as exc:  # reporting must never stop ingestion
            log.warning("could not report to Dagster: %s", exc)
        self._due = time.monotonic() + self.every
        self._stored = self._kept = self._batches = 0
        self._lags = []
