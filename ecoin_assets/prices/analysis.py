"""SQL analyses over `prices` (DuckDB or PostgreSQL), each rebuilt as a table in one transaction."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from ecoin_assets.prices.store import refresh_monthly_range
from ecoin_assets.storage import Connection
from ecoin_assets.storage.rows import replace_rows

MONTHLY_AVG_SQL = """
    SELECT coin_id,
           CAST(date_trunc('month', date) AS DATE) AS month,
           avg(price_usd) AS avg_price_usd,
           count(*) AS days
    FROM prices
    GROUP BY coin_id, CAST(date_trunc('month', date) AS DATE)
    ORDER BY coin_id, month
"""

# A "fall" is a close below the previous day's close; a day ends a losing streak of length n
# when the n days up to it all fell. Every day whose streak is longer than `min_streak` days is
# an event, and we look at how the price moved over the next 1, 3 and 7 days.
LOSING_STREAK_SQL = """
    WITH daily AS (
        SELECT coin_id, date, price_usd,
               price_usd < lag(price_usd) OVER w
                   AND lag(date) OVER w = date - 1 AS fell,
               lead(price_usd, 1) OVER w AS p1, lead(date, 1) OVER w AS d1,
               lead(price_usd, 3) OVER w AS p3, lead(date, 3) OVER w AS d3,
               lead(price_usd, 7) OVER w AS p7, lead(date, 7) OVER w AS d7
        FROM prices
        WINDOW w AS (PARTITION BY coin_id ORDER BY date)
    ),
    runs AS (
        SELECT *, sum(CASE WHEN fell THEN 0 ELSE 1 END)
                      OVER (PARTITION BY coin_id ORDER BY date ROWS UNBOUNDED PRECEDING) AS run
        FROM daily
    ),
    streaks AS (
        SELECT *, sum(CASE WHEN fell THEN 1 ELSE 0 END)
                      OVER (PARTITION BY coin_id, run ORDER BY date
                            ROWS UNBOUNDED PRECEDING) AS streak
        FROM runs
    ),
    events AS (
        SELECT coin_id,
               CASE WHEN d1 = date + 1 THEN p1 - price_usd END AS rise_1d,
               CASE WHEN d1 = date + 1 THEN (p1 / price_usd - 1) * 100 END AS pct_1d,
               CASE WHEN d3 = date + 3 THEN (p3 / price_usd - 1) * 100 END AS pct_3d,
               CASE WHEN d7 = date + 7 THEN (p7 / price_usd - 1) * 100 END AS pct_7d
        FROM streaks WHERE streak > $min_streak
    ),
    latest AS (
        SELECT coin_id, market_cap_usd, date AS market_cap_date
        FROM (SELECT coin_id, market_cap_usd, date,
                     row_number() OVER (PARTITION BY coin_id ORDER BY date DESC) AS newest
              FROM prices WHERE market_cap_usd IS NOT NULL) ranked
        WHERE newest = 1
    ),
    coins AS (SELECT DISTINCT coin_id FROM prices)
    SELECT c.coin_id,
           count(e.rise_1d) AS events,
           avg(e.rise_1d) AS avg_next_day_rise_usd,
           avg(e.pct_1d) AS avg_next_day_rise_pct,
           avg(e.pct_3d) AS avg_3_day_rise_pct,
           avg(e.pct_7d) AS avg_7_day_rise_pct,
           avg(CASE WHEN e.pct_1d > 0 THEN 1.0 WHEN e.pct_1d IS NOT NULL THEN 0.0 END)
               AS share_next_day_up,
           min(l.market_cap_usd) AS current_market_cap_usd,
           min(l.market_cap_date) AS market_cap_date
    FROM coins c
    LEFT JOIN events e USING (coin_id)
    LEFT JOIN latest l USING (coin_id)
    GROUP BY c.coin_id
    ORDER BY c.coin_id
"""


def monthly_average(con: Connection) -> pd.DataFrame:
    return con.execute(MONTHLY_AVG_SQL).df()


def losing_streak_rebound(con: Connection, min_streak: int = 3) -> pd.DataFrame:
    """Per coin: the average rise after it fell more than `min_streak` days in a row."""
    return con.execute(LOSING_STREAK_SQL, {"min_streak": min_streak}).df()


def monthly_range(con: Connection) -> pd.DataFrame:
    return con.execute(
        "SELECT coin_id, month, min_price_usd, min_date, max_price_usd, max_date, days "
        "FROM price_monthly_range ORDER BY coin_id, month"
    ).df()


def rebuild_monthly_average(con: Connection) -> pd.DataFrame:
    frame = monthly_average(con)
    replace_rows(con, "analysis_monthly_avg_price", frame)
    return frame


def rebuild_losing_streak_rebound(con: Connection) -> pd.DataFrame:
    frame = losing_streak_rebound(con)
    replace_rows(con, "analysis_losing_streak_rebound", frame)
    return frame


def rebuild_monthly_range(con: Connection) -> pd.DataFrame:
    """Recompute `price_monthly_range` for every coin (writes keep it current anyway)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    bounds = con.execute(
        "SELECT coin_id, min(date), max(date) FROM prices GROUP BY coin_id"
    ).fetchall()
    con.execute("DELETE FROM price_monthly_range")
    for coin, first, last in bounds:
        refresh_monthly_range(con, coin, first.replace(day=1), last.replace(day=1), now)
    return monthly_range(con)
