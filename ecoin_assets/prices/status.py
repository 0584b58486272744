"""What is stored, per coin: coverage, gaps and freshness."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime

from ecoin_assets.storage import Connection

COVERAGE_SQL = """
    SELECT coin_id, min(date) AS first_date, max(date) AS last_date, count(*) AS rows,
           max(date) - min(date) + 1 - count(*) AS missing_days,
           max(ingested_at) AS last_update
    FROM prices
    {where}
    GROUP BY coin_id
    ORDER BY coin_id
"""

GAPS_SQL = """
    SELECT coin_id, prev_date + 1 AS gap_start, date - 1 AS gap_end
    FROM (SELECT coin_id, date, lag(date) OVER (PARTITION BY coin_id ORDER BY date) AS prev_date
          FROM prices) dated
    WHERE date - prev_date > 1
    ORDER BY coin_id, gap_start
"""


@dataclass(frozen=True)
class CoinCoverage:
    coin_id: str
    first_date: date
    last_date: date
    rows: int
    missing_days: int
    last_update: datetime

    def as_json(self) -> dict:
        return {
            k: (v.isoformat() if isinstance(v, (date, datetime)) else v)
            for k, v in asdict(self).items()
        }


def coverage(con: Connection, coins: list[str] | None = None) -> list[CoinCoverage]:
    where, params = "", []
    if coins:
        where = f"WHERE coin_id IN ({', '.join('?' for _ in coins)})"
        params = list(coins)
    rows = con.execute(COVERAGE_SQL.format(where=where), params).fetchall()
    return [CoinCoverage(*row) for row in rows]


def gaps(con: Connection) -> list[tuple[str, date, date]]:
    return con.execute(GAPS_SQL).fetchall()
