"""Hourly prices (`prices_hourly`): what the hourly sentiment–price correlation needs.

CoinGecko serves hourly points for ranges of 2 to 90 days (`/market_chart/range`), off the
hour like every intraday point; each is stored under the UTC hour it falls in, with the instant
it was observed (`ts`), which is what the as-of joins use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd

from ecoin_assets.errors import UserError
from ecoin_assets.sources.coingecko import ApiAnswer, CoinGeckoClient, HourlyPoint
from ecoin_assets.storage import Database
from ecoin_assets.storage.sql import feed_columns

MAX_DAYS = 365
HOURLY_COLUMNS = ["coin_id", "hour", "ts", "price_usd", "market_cap_usd", "volume_usd"]


@dataclass
class HourlyFetch:
    coin_id: str
    points: int
    calls: int


def store_hourly(
    db: Database, points: Sequence[HourlyPoint], source: str, now: datetime | None = None
) -> int:
    """Upsert the points (one row per coin and hour) in one transaction; rows written."""
    if not points:
        return 0
    now = (now or datetime.now(UTC)).replace(tzinfo=None)
    frame = pd.DataFrame([{c: getattr(p, c) for c in HOURLY_COLUMNS} for p in points])
    frame = frame.assign(source=source, ingested_at=now)
    with db.write() as con:
        # typed per column: a market cap or volume of only None must still store as NULL
        select = feed_columns(con, "prices_hourly", list(frame.columns))
        con.register("incoming_hourly", frame)
        con.execute(
            f"""
            INSERT INTO prices_hourly ({", ".join(frame.columns)})
            SELECT {select} FROM incoming_hourly
            ON CONFLICT (coin_id, hour) DO UPDATE SET
                ts = excluded.ts,
                price_usd = excluded.price_usd,
                market_cap_usd = excluded.market_cap_usd,
                volume_usd = excluded.volume_usd,
                source = excluded.source,
                ingested_at = excluded.ingested_at
            """
        )
        con.unregister("incoming_hourly")
    return len(frame)


def fetch_hourly(
    db: Database,
    client: CoinGeckoClient,
    coins: Sequence[str],
    days: float,
    *,
    now: datetime | None = None,
    on_call=None,
) -> list[HourlyFetch]:
    """Fetch every coin's hourly points of the last `days` days, then store them all in one
    transaction (nothing is written when any coin fails)."""
    if not 0 < days <= MAX_DAYS:
        raise UserError(f"--days must be between 1 and {MAX_DAYS}, got {days:g}")
    end = (now or datetime.now(UTC)).replace(tzinfo=None)
    start = end - timedelta(days=days)
    fetched: list[tuple[str, list[HourlyPoint], list[ApiAnswer]]] = []
    for coin in coins:
        points, answers = client.hourly_prices(coin, start, end, on_call=on_call)
        fetched.append((coin, points, answers))
    store_hourly(db, [p for _, points, _ in fetched for p in points], f"coingecko:{client.host}")
    return [HourlyFetch(coin, len(points), len(answers)) for coin, points, answers in fetched]


def load_hourly(db: Database, coin: str) -> pd.DataFrame:
    """`ts`, `price_usd`: the coin's stored hourly observations, oldest first."""
    return db.query_df(
        "SELECT ts, price_usd FROM prices_hourly WHERE coin_id = ? ORDER BY ts", [coin]
    )
