"""Builders of test data shared by the test modules: price frames and the rows of a stored
database (prices, posts, per-minute figures) written the way ingestion and scoring write them."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from ecoin_assets.forecasting.model import MAX_HORIZON, ModelConfig
from ecoin_assets.prices.store import upsert_prices
from ecoin_assets.storage import Database


def geometric_walk(
    days: int, seed: int, *, start: float = 100.0, scale: float = 0.03, tails: int | None = None
) -> np.ndarray:
    """`days` prices of a seeded geometric random walk from `start`: the log price moves by
    normal(0, scale) a day, or by Student-t steps with `tails` degrees of freedom times scale."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, scale, days) if tails is None else rng.standard_t(tails, days) * scale
    return np.exp(math.log(start) + np.cumsum(steps))


def small_model_config(horizon: int = MAX_HORIZON) -> ModelConfig:
    """A price model that trains in seconds: 5 epochs, 300 training days, 60 calibration days,
    forecasting `horizon` days."""
    return ModelConfig(
        epochs=5,
        train_days=300,
        calibration_days=60,
        min_calibration_days=60,
        min_fit_days=200,
        n_forecasts=horizon,
    )


def daily_prices(
    coin: str,
    price_usd,
    *,
    first: date | None = None,
    last: date | None = None,
    market_cap_usd=None,
    volume_usd=None,
) -> pd.DataFrame:
    """The rows `upsert_prices` takes: `coin`'s prices on consecutive days from `first` or up
    to `last` (one of them)."""
    n = len(price_usd)
    if first is None:
        assert last is not None, "daily_prices needs first= or last="
        first = last - timedelta(days=n - 1)
    return pd.DataFrame(
        {
            "coin_id": coin,
            "date": [first + timedelta(days=i) for i in range(n)],
            "price_usd": price_usd,
            "market_cap_usd": market_cap_usd,
            "volume_usd": volume_usd,
        }
    )


def store_prices(db: Database, prices: pd.DataFrame, *, now: datetime | None = None) -> None:
    """Upsert `prices` into `db`'s prices table (source "test")."""
    with db.write() as con:
        upsert_prices(con, prices, source="test", now=now)


def insert_post(
    con,
    post_id: int,
    created: datetime,
    topic: str,
    *,
    text: str = "x",
    text_clean: str | None = None,
    tokens: tuple[str, ...] = (),
    author: str = "a",
    keep: bool = True,
    ingested_at: datetime | None = None,
    source: str = "test",
) -> None:
    """One English post linked to `topic`, not a retweet, without engagement counts (the
    cleaned text defaults to `text`, `ingested_at` to `created`), and its author in the
    topic's minute (`topic_minute_authors`, as ingestion keeps it)."""
    con.execute(
        "INSERT INTO posts VALUES (?, ?, ?, 'en', ?, ?, ?, false, ?, NULL, ?, ?, 0, 0, 0, 0)",
        [
            post_id,
            created,
            author,
            text,
            text if text_clean is None else text_clean,
            list(tokens),
            keep,
            source,
            ingested_at or created,
        ],
    )
    con.execute("INSERT INTO post_topics VALUES (?, ?)", [post_id, topic])
    con.execute(
        "INSERT INTO topic_minute_authors VALUES (?, date_trunc('minute', CAST(? AS TIMESTAMP)), "
        "?) ON CONFLICT DO NOTHING",
        [topic, created, author],
    )


def insert_neutral_minute(
    con, topic: str, minute: datetime, version: str, posts: int, mood: float, updated: datetime
) -> None:
    """A minute of `topic` with `posts` posts, all kept and scored neutral by `version`, of
    mean (and weighted) sentiment `mood`: its `topic_minute_stats` and sentiment rows (no
    engagement sums: the engagement-weighted sentiment comes from scored posts alone)."""
    con.execute(
        "INSERT INTO topic_minute_stats VALUES (?, ?, ?, ?, ?)",
        [topic, minute, posts, posts, updated],
    )
    con.execute(
        "INSERT INTO topic_minute_sentiment VALUES "
        "(?, ?, ?, ?, 0, ?, 0, ?, 0, 0, ?, ?, NULL, NULL)",
        [topic, minute, version, posts, posts, mood, mood, updated],
    )


def insert_mood(con, topic: str, at, version: str, value: float) -> None:
    """A minute of `topic` scored by `version` (10 posts: 3 negative, 4 neutral, 3 positive) of
    mean sentiment `value` (a sentiment row only)."""
    con.execute(
        "INSERT INTO topic_minute_sentiment VALUES (?, ?, ?, 10, 3, 4, 3, ?, 0.3, 0.3, ?, now(), "
        "NULL, NULL)",
        [topic, at, version, float(value), float(value) * np.log(11)],
    )
