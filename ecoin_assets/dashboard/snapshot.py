"""What the dashboard shows, read in one short read-only visit to the database.

The dashboard never writes and never keeps a connection open: every refresh opens the file
read-only, runs these queries and closes it (ARCHITECTURE.md, "Storage"), so the pipeline's
writers wait at most a few milliseconds for it. A busy database or a missing one is not an
error to the user: the caller keeps showing the last snapshot, or "no data yet".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

from ecoin_assets.alerts.watch import alert_history
from ecoin_assets.analysis.correlation import (
    align_asof,
    best_lag,
    lagged_correlations,
    rolling_correlation,
)
from ecoin_assets.errors import NoDataError, NotFoundError
from ecoin_assets.forecasting.realized import stored_scores
from ecoin_assets.sentiment.scoring import window_totals
from ecoin_assets.signals.series import minute_series, window_signals
from ecoin_assets.signals.trending import trending_terms
from ecoin_assets.storage import Connection
from ecoin_assets.tweets.topics import stored_topics

# window name -> (length, minutes per point of its time series)
WINDOWS = {
    "15 min": (timedelta(minutes=15), 1),
    "1 hour": (timedelta(hours=1), 1),
    "24 hours": (timedelta(hours=24), 10),
    "7 days": (timedelta(days=7), 60),
}
POSTS_SHOWN = 300
PRICE_DAYS = 180
SCORED_HORIZONS = (1, 7, 14)  # the realized forecast scores the page shows
STALE_POSTS = timedelta(minutes=5)  # the stream stores posts within seconds, the sensor 20-30 s
ALERT_DAYS = timedelta(days=7)  # the alerts the page lists
STALE_PRICE_DAYS = 1  # yesterday's daily price is the newest CoinGecko has all day


@dataclass
class Snapshot:
    taken_at: datetime
    topics: list[str]
    series: pd.DataFrame  # topic, ts, posts_per_min, scored, mean_sentiment, shares, weighted
    headlines: pd.DataFrame  # topic, scored, mean_sentiment, shares, weighted, previous, change
    coins: list[str]
    prices: pd.DataFrame = field(default_factory=pd.DataFrame)  # date, price_usd
    forecast: pd.DataFrame = field(default_factory=pd.DataFrame)  # target_date, yhat, bands
    daily: pd.DataFrame = field(default_factory=pd.DataFrame)  # date, sentiment, return
    lags: pd.DataFrame = field(default_factory=pd.DataFrame)  # lag, r, n
    rolling: pd.DataFrame = field(default_factory=pd.DataFrame)  # date, r
    health: dict = field(default_factory=dict)
    signals: pd.DataFrame = field(default_factory=pd.DataFrame)  # topic, volume, dominance, ...
    trending: pd.DataFrame = field(default_factory=pd.DataFrame)  # of `trending_topic`
    alerts: pd.DataFrame = field(default_factory=pd.DataFrame)  # the latest firings
    # realized scores of the coin's stored forecasts (forecasting/realized.py's summary)
    forecast_scores: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def empty(self) -> bool:
        return self.series.empty and self.prices.empty and self.health.get("last_post_at") is None


def read_snapshot(
    con: Connection,
    version: str,
    window: str,
    coin: str | None,
    now: datetime,
    topics: list[str],
    coins: list[str],
    topic: str | None = None,
) -> Snapshot:
    """Everything the page shows at `now` (naive UTC) for the chosen window, coin and topic
    (whose trending terms it reads)."""
    length, step = WINDOWS[window]
    stored = stored_topics(con)  # `topics` (the seeds) until the first `ecoin topics` change
    active = [t.name for t in stored if t.active] if stored else list(topics)
    removed = {t.name for t in stored if not t.active}
    with_posts = set(_column(con, "SELECT DISTINCT topic FROM post_topics")) - removed
    known_topics = sorted(set(active) | with_posts)
    known_coins = sorted(set(coins) | set(_column(con, "SELECT DISTINCT coin_id FROM prices")))
    snapshot = Snapshot(
        taken_at=now,
        topics=known_topics,
        series=minute_series(con, version, now - length, now, step),
        headlines=_headlines(con, version, now, length),
        coins=known_coins,
        health=_health(con, version, now),
        signals=_signals(con, version, active, now, length),
        trending=(
            trending_terms(con, topic, now, 60, limit=10)
            if topic and _has_table(con, "topic_term_counts")
            else pd.DataFrame()
        ),
        alerts=(
            alert_history(con, now - ALERT_DAYS, now + timedelta(minutes=1)).head(8)
            if _has_table(con, "alerts")
            else pd.DataFrame()
        ),
    )
    if coin:
        _add_coin(snapshot, con, version, coin)
    return snapshot


def _signals(
    con: Connection, version: str, topics: list[str], now: datetime, length: timedelta
) -> pd.DataFrame:
    """Per active topic, its signals over the window ending now (as alerts see them)."""
    minutes = max(int(length.total_seconds() // 60), 1)
    rows = [
        {"topic": t, **window_signals(con, t, version, now, minutes, baseline=12)} for t in topics
    ]
    return pd.DataFrame(rows)


def _has_table(con: Connection, name: str) -> bool:
    """Whether the table exists (a database an earlier release made gets new tables at its
    next write; the page only reads)."""
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchone()
    return bool(found and found[0])


def _column(con: Connection, sql: str) -> list:
    return [row[0] for row in con.execute(sql).fetchall()]


def _headlines(con, version: str, now: datetime, length: timedelta) -> pd.DataFrame:
    """Per topic: this window's totals, the previous window's mean and the change."""
    current = window_totals(con, version, now - length, now)
    previous = window_totals(con, version, now - 2 * length, now - length)
    previous = previous[["topic", "mean_sentiment", "scored"]].rename(
        columns={"mean_sentiment": "previous_sentiment", "scored": "previous_scored"}
    )
    merged = current.merge(previous, on="topic", how="left")
    merged["change"] = merged["mean_sentiment"] - merged["previous_sentiment"]
    return merged.sort_values("topic").reset_index(drop=True)


#: the posts table's read (`latest_posts`): its parameters are since, POSTS_SHOWN and version
LATEST_POSTS_SQL = """
    SELECT p.post_id, p.created_at, p.ingested_at,
           string_agg(t.topic, ', ' ORDER BY t.topic) AS topic,
           p.text_raw AS text, s.label,
           greatest(s.p_negative, s.p_neutral, s.p_positive) AS confidence, s.score
    FROM (
        SELECT * FROM posts WHERE keep AND ingested_at >= ?
        ORDER BY ingested_at DESC, post_id DESC LIMIT ?
    ) p
    JOIN post_topics t USING (post_id)
    LEFT JOIN post_sentiment s ON s.post_id = p.post_id AND s.model_version = ?
    GROUP BY p.post_id, p.created_at, p.ingested_at, p.text_raw, s.label, s.p_negative,
             s.p_neutral, s.p_positive, s.score
    ORDER BY p.ingested_at DESC, p.post_id DESC
"""


def latest_posts(con: Connection, version: str, since: datetime | None = None) -> pd.DataFrame:
    """The newest POSTS_SHOWN kept posts, newest stored first (post_id, created_at,
    ingested_at, topic, text, label, confidence, score), of those stored at or after `since`:
    the page's posts table polls with it so that each poll reads only the last seconds."""
    since = since or datetime(1970, 1, 1)
    return con.execute(LATEST_POSTS_SQL, [since, POSTS_SHOWN, version]).df()


def _add_coin(snapshot: Snapshot, con, version: str, coin: str) -> None:
    prices = con.execute(
        "SELECT date, price_usd FROM prices WHERE coin_id = ? ORDER BY date", [coin]
    ).df()
    snapshot.prices = prices.tail(PRICE_DAYS).reset_index(drop=True)
    try:
        scores = stored_scores(con, coin)
        snapshot.forecast_scores = scores[scores["horizon"].isin(SCORED_HORIZONS)]
    except (NoDataError, NotFoundError):
        pass  # nothing has come due yet
    snapshot.forecast = con.execute(
        """
        WITH latest AS (
            SELECT forecast_date, model_version FROM forecasts WHERE coin_id = ?
            ORDER BY forecast_date DESC, created_at DESC LIMIT 1
        )
        SELECT target_date, yhat, yhat_lower, yhat_upper, interval, model_version, forecast_date
        FROM forecasts JOIN latest USING (forecast_date, model_version)
        WHERE coin_id = ? ORDER BY target_date
        """,
        [coin, coin],
    ).df()
    sentiment = con.execute(
        """
        SELECT CAST(CAST(minute AS DATE) AS TIMESTAMP) AS ts,
               sum(mean_sentiment * scored) / sum(scored) AS sentiment, sum(scored) AS posts
        FROM topic_minute_sentiment WHERE topic = ? AND model_version = ?
        GROUP BY CAST(CAST(minute AS DATE) AS TIMESTAMP) ORDER BY ts
        """,
        [coin, version],
    ).df()
    # the same pairing as `ecoin analysis correlation`: day t's sentiment, the price known at
    # the day's end and that day's return
    observed = pd.DataFrame(
        {"ts": pd.to_datetime(prices["date"]), "price_usd": prices["price_usd"]}
    )
    daily = align_asof(sentiment, observed, "day").rename(columns={"ts": "date"})
    snapshot.daily = daily.dropna(subset=["sentiment"])
    snapshot.lags = lagged_correlations(daily)
    lag = best_lag(snapshot.lags)
    if lag is not None:
        snapshot.rolling = rolling_correlation(daily, lag)


def _health(con, version: str, now: datetime) -> dict:
    prices = con.execute(
        "SELECT max(date), max(ingested_at), count(DISTINCT coin_id) FROM prices"
    ).fetchone()
    posts = con.execute(  # two subqueries, so that PostgreSQL answers both from its index
        "SELECT (SELECT max(ingested_at) FROM posts), "
        "(SELECT count(*) FROM posts WHERE ingested_at >= ?)",
        [now - STALE_POSTS],
    ).fetchone()
    forecast = con.execute("SELECT max(created_at) FROM forecasts").fetchone()
    scored = con.execute(
        "SELECT max(scored_at) FROM post_sentiment WHERE model_version = ?", [version]
    ).fetchone()
    last_price_date, last_price_at, coins = prices
    last_post_at, recent_posts = posts
    problems = []
    if last_price_date is None:
        problems.append("no prices stored yet")
    elif (now.date() - last_price_date).days > STALE_PRICE_DAYS:
        problems.append(f"prices are stale: the newest is of {last_price_date}")
    if last_post_at is None:
        problems.append("no X posts stored yet")
    elif now - last_post_at > STALE_POSTS:
        minutes = int((now - last_post_at).total_seconds() // 60)
        problems.append(
            f"no new X posts for {minutes} min: is the ingestion ('ecoin tweets stream', "
            "or Dagster's sensor) running?"
        )
    return {
        "last_price_date": last_price_date,
        "last_price_at": last_price_at,
        "coins_with_prices": coins,
        "last_post_at": last_post_at,
        "posts_last_5_min": recent_posts,
        "last_forecast_at": forecast[0],
        "last_scored_at": scored[0],
        "sentiment_model": version,
        "problems": problems,
    }
