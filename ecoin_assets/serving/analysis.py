"""The published analysis snapshot, read for the sentiment service's JSON endpoints.

Reads `$ECOIN_HOME/published/analysis.duckdb` (written whole and renamed into place by the
`sentiment_price_correlation` asset), never the pipeline's own database: no lock to wait on.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ecoin_assets.analysis.publish import snapshot_path
from ecoin_assets.errors import UserError
from ecoin_assets.serving.forecasts import NotReadyError

FREQS = ("hour", "day")


class UnknownSeriesError(LookupError):
    """No such topic, or coin and topic pair, in the snapshot."""


def _naive_utc(value: datetime | None) -> datetime | None:
    """Stored times are naive UTC: an aware bound is converted, a naive one taken as UTC."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def _plain(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class PublishedAnalysis:
    def __init__(self, home: Path):
        self.path = snapshot_path(home)

    def _rows(self, sql: str, params: list) -> tuple[dict, list[dict]]:
        """The snapshot's metadata and the query's rows as dicts."""
        if not self.path.exists():
            raise NotReadyError(
                "no analysis published yet: materialize sentiment_price_correlation "
                "(the demo and the hourly schedule do)"
            )
        con = duckdb.connect(str(self.path), read_only=True)
        try:
            published_at, version = con.execute(
                "SELECT published_at, model_version FROM snapshot"
            ).fetchall()[0]
            cursor = con.execute(sql, params)
            names = [d[0] for d in cursor.description]
            rows = [
                {n: _plain(v) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()
            ]
        finally:
            con.close()
        meta = {"published_at": published_at.isoformat(), "model_version": version}
        return meta, rows

    def _known(self, table: str, where: str, params: list, what: str) -> None:
        _, found = self._rows(f"SELECT 1 AS found FROM {table} WHERE {where} LIMIT 1", params)
        if not found:
            raise UnknownSeriesError(f"the published analysis has no {what}")

    @staticmethod
    def _window(start: datetime | None, end: datetime | None) -> tuple[str, list]:
        start, end = _naive_utc(start), _naive_utc(end)
        if start and end and start >= end:
            raise UserError(f"the window {start} .. {end} is empty: start must come before end")
        return (
            " AND ts >= coalesce(?, ts) AND ts < coalesce(?, ts + INTERVAL 1 SECOND)",
            [start, end],
        )

    def aggregates(
        self, topic: str, freq: str, start: datetime | None, end: datetime | None
    ) -> dict:
        """The topic's sentiment per hour or day: mean, posts and label counts."""
        self._known("sentiment_aggregates", "topic = ?", [topic], f"topic {topic!r}")
        window, params = self._window(start, end)
        meta, rows = self._rows(
            "SELECT ts, sentiment, posts, negative, neutral, positive FROM sentiment_aggregates "
            f"WHERE topic = ? AND freq = ?{window} ORDER BY ts",
            [topic, freq, *params],
        )
        return {**meta, "topic": topic, "freq": freq, "points": rows}

    def series(
        self, coin: str, topic: str, freq: str, start: datetime | None, end: datetime | None
    ) -> dict:
        """The merged series: per period, sentiment and posts beside the price known at the
        period's end and its log return."""
        self._known(
            "price_sentiment",
            "coin_id = ? AND topic = ?",
            [coin, topic],
            f"series of {coin} prices and topic {topic!r}",
        )
        window, params = self._window(start, end)
        meta, rows = self._rows(
            'SELECT ts, sentiment, posts, price_usd, "return" AS log_return FROM price_sentiment '
            f"WHERE coin_id = ? AND topic = ? AND freq = ?{window} ORDER BY ts",
            [coin, topic, freq, *params],
        )
        return {**meta, "coin": coin, "topic": topic, "freq": freq, "points": rows}

    def correlation(self, coin: str, topic: str, freq: str) -> dict:
        """The stored correlation rows (lags -3..+3, price and return, Pearson and Spearman)."""
        self._known(
            "correlation",
            "coin_id = ? AND topic = ? AND freq = ?",
            [coin, topic, freq],
            f"{freq}ly correlation of {coin} and topic {topic!r}",
        )
        meta, rows = self._rows(
            "SELECT lag, against, method, r, p_value, n, window_start, window_end, computed_at "
            "FROM correlation WHERE coin_id = ? AND topic = ? AND freq = ? "
            "ORDER BY lag, against, method",
            [coin, topic, freq],
        )
        return {**meta, "coin": coin, "topic": topic, "freq": freq, "rows": rows}
