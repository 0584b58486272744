"""Writes to the `prices` table and its companions, inside the caller's transaction.

Every write is an upsert keyed by (coin_id, date) that touches a row only when its values
change, so writing the same data twice leaves the table exactly as it was. The monthly
min/max table is recomputed for the months a write touched, in the same transaction.
The SQL here runs unchanged on DuckDB and PostgreSQL (ecoin_assets/storage).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pandas as pd

from ecoin_assets.config import validate_coin_id
from ecoin_assets.errors import NotFoundError, Remedy
from ecoin_assets.sources.coingecko import ApiAnswer, DailyPoint
from ecoin_assets.storage import Connection, Database

PRICE_COLUMNS = ["coin_id", "date", "price_usd", "market_cap_usd", "volume_usd"]
VALUE_COLUMNS = ["price_usd", "market_cap_usd", "volume_usd"]


@dataclass
class WriteSummary:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    per_coin: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def changed(self) -> int:
        return self.inserted + self.updated

    def as_dict(self) -> dict:
        return {
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "per_coin": self.per_coin,
        }


def points_frame(points: Iterable[DailyPoint]) -> pd.DataFrame:
    rows = [(p.coin_id, p.date, p.price_usd, p.market_cap_usd, p.volume_usd) for p in points]
    return pd.DataFrame(rows, columns=PRICE_COLUMNS)


def upsert_prices(
    con: Connection, frame: pd.DataFrame, source: str, now: datetime | None = None
) -> WriteSummary:
    """Upsert rows with `PRICE_COLUMNS`; return what changed, per coin."""
    summary = WriteSummary()
    if frame.empty:
        return summary
    now = (now or datetime.now(UTC)).replace(tzinfo=None)
    incoming = frame[PRICE_COLUMNS].copy()
    incoming["date"] = pd.to_datetime(incoming["date"]).dt.date
    # numbers as float64 (a column of only None would otherwise have no type; NaN is NULL)
    incoming[VALUE_COLUMNS] = incoming[VALUE_COLUMNS].astype("float64")
    incoming["source"] = source
    duplicated = incoming.duplicated(["coin_id", "date"])
    if duplicated.any():
        coin, day = incoming.loc[duplicated, ["coin_id", "date"]].iloc[0]
        raise ValueError(f"more than one row for {coin} on {day}: give one row per coin and day")
    # Unregistered after success only: after a failed statement the transaction is aborted,
    # so a clean-up statement would fail too and hide the error (the view goes with it anyway).
    con.register("incoming_prices", incoming)
    existing = dict(
        con.execute("""
        SELECT i.coin_id, count(*) FROM incoming_prices i
        JOIN prices p USING (coin_id, date) GROUP BY i.coin_id
    """).fetchall()
    )
    changed = con.execute(
        """
        INSERT INTO prices
        SELECT coin_id, CAST(date AS DATE), price_usd, market_cap_usd, volume_usd, source, ?
        FROM incoming_prices
        ON CONFLICT (coin_id, date) DO UPDATE SET
            price_usd = excluded.price_usd,
            market_cap_usd = excluded.market_cap_usd,
            volume_usd = excluded.volume_usd,
            source = excluded.source,
            ingested_at = excluded.ingested_at
        WHERE prices.price_usd IS DISTINCT FROM excluded.price_usd
           OR prices.market_cap_usd IS DISTINCT FROM excluded.market_cap_usd
           OR prices.volume_usd IS DISTINCT FROM excluded.volume_usd
           OR prices.source IS DISTINCT FROM excluded.source
        RETURNING coin_id, date
    """,
        [now],
    ).fetchall()
    con.unregister("incoming_prices")
    changed_by_coin: dict[str, int] = {}
    for coin, _ in changed:
        changed_by_coin[coin] = changed_by_coin.get(coin, 0) + 1
    for coin, n_rows in incoming.groupby("coin_id").size().items():
        had, moved = existing.get(coin, 0), changed_by_coin.get(coin, 0)
        inserted = n_rows - had
        updated = moved - inserted
        stats = {
            "inserted": int(inserted),
            "updated": int(updated),
            "unchanged": int(n_rows - moved),
        }
        summary.per_coin[str(coin)] = stats
        summary.inserted += stats["inserted"]
        summary.updated += stats["updated"]
        summary.unchanged += stats["unchanged"]
    months = incoming.assign(month=pd.to_datetime(incoming["date"]).dt.to_period("M"))
    for coin, group in months.groupby("coin_id"):
        refresh_monthly_range(
            con,
            str(coin),
            group["month"].min().start_time.date(),
            group["month"].max().start_time.date(),
            now,
        )
    return summary


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def refresh_monthly_range(
    con: Connection, coin_id: str, first_month: date, last_month: date, now: datetime
) -> None:
    """Recompute `price_monthly_range` for one coin's months in [first_month, last_month]."""
    con.execute(
        "DELETE FROM price_monthly_range WHERE coin_id = ? AND month BETWEEN ? AND ?",
        [coin_id, first_month, last_month],
    )
    # The dates of the extremes: the first day at the month's lowest / highest price.
    con.execute(
        """
        INSERT INTO price_monthly_range
        SELECT coin_id, month,
               min(price_usd), min(CASE WHEN low_rank = 1 THEN date END),
               max(price_usd), min(CASE WHEN high_rank = 1 THEN date END),
               count(*), ?
        FROM (
            SELECT coin_id, month, date, price_usd,
                   row_number() OVER (PARTITION BY month ORDER BY price_usd, date) AS low_rank,
                   row_number() OVER (PARTITION BY month ORDER BY price_usd DESC, date)
                       AS high_rank
            FROM (
                SELECT coin_id, date, price_usd,
                       CAST(date_trunc('month', CAST(date AS TIMESTAMP)) AS DATE) AS month
                FROM prices
                WHERE coin_id = ? AND date >= ? AND date < ?
            ) AS days
        ) AS ranked
        GROUP BY coin_id, month
    """,
        [now, coin_id, first_month, _next_month(last_month)],
    )


def store_answers(con: Connection, answers: Sequence[ApiAnswer]) -> int:
    """Append API answers, as received, to `raw_coingecko_answers`."""
    rows = [
        (
            str(uuid.uuid4()),
            a.coin_id,
            a.endpoint,
            a.url,
            json.dumps(a.params),
            a.status,
            a.error,
            a.body,
            a.received_at.replace(tzinfo=None),
        )
        for a in answers
    ]
    if rows:
        con.executemany(
            "INSERT INTO raw_coingecko_answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
        )
    return len(rows)


def load_prices(db: Database, coin_id: str) -> pd.DataFrame:
    coin_id = validate_coin_id(coin_id)
    frame = db.query_df(
        "SELECT coin_id, date, price_usd, market_cap_usd, volume_usd FROM prices "
        "WHERE coin_id = ? ORDER BY date",
        [coin_id],
    )
    if frame.empty:
        raise NotFoundError(
            f"no prices stored for {coin_id}", remedy=Remedy.FETCH_PRICES, coin=coin_id
        )
    return frame
