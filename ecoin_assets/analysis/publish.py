"""The analysis snapshot the pipeline publishes for other teams (read by the sentiment service).

One small DuckDB file, `$ECOIN_HOME/published/analysis.duckdb`, written whole to a temporary
file and renamed over the old one: a reader opens either the previous snapshot or the new one,
never a half-written file, and never the pipeline's own database (so never its lock).

Tables: `sentiment_aggregates` (per topic, hour and day), `price_sentiment` (the aligned
price–sentiment series per coin, topic and frequency), `correlation` (the
`sentiment_price_correlation` rows) and `snapshot` (when, and by which model).
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

SNAPSHOT = Path("published") / "analysis.duckdb"
AGGREGATE_COLUMNS = [
    "topic",
    "freq",
    "ts",
    "sentiment",
    "posts",
    "negative",
    "neutral",
    "positive",
]
SERIES_COLUMNS = ["coin_id", "topic", "freq", "ts", "sentiment", "posts", "price_usd", "return"]


def snapshot_path(home: Path) -> Path:
    return Path(home) / SNAPSHOT


def publish(
    home: Path,
    aggregates: pd.DataFrame,
    series: pd.DataFrame,
    correlation: pd.DataFrame,
    model_version: str,
) -> Path:
    """Write the snapshot atomically; frames need AGGREGATE_COLUMNS, SERIES_COLUMNS and the
    correlation table's columns."""
    target = snapshot_path(home)
    target.parent.mkdir(parents=True, exist_ok=True)
    meta = pd.DataFrame(
        {
            "published_at": [datetime.now(UTC).replace(tzinfo=None)],
            "model_version": [model_version],
        }
    )
    tables = {
        "sentiment_aggregates": aggregates.reindex(columns=AGGREGATE_COLUMNS),
        "price_sentiment": series.reindex(columns=SERIES_COLUMNS),
        "correlation": correlation,
        "snapshot": meta,
    }
    fd, tmp = tempfile.mkstemp(prefix=".analysis-", suffix=".duckdb", dir=target.parent)
    os.close(fd)
    os.unlink(tmp)  # DuckDB creates the file itself
    try:
        con = duckdb.connect(tmp)
        try:
            for name, frame in tables.items():
                con.register("frame", frame)
                con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame')
                con.unregister("frame")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, target)
    finally:
        for leftover in (tmp, tmp + ".wal"):
            if os.path.exists(leftover):
                os.unlink(leftover)
    return target
