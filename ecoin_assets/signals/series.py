"""Per-period series of a topic (volume, authors, dominance, sentiment, z-scores) and of a
coin (prices), read from one open connection.

Topic figures come from the per-minute aggregates that ingestion writes with each batch of
posts (`topic_minute_stats`, `topic_minute_authors`, `topic_minute_sentiment`), never from the
posts themselves, so a request reads its window and the trailing baseline of those, whatever
is stored.

- **volume**: posts that matched the topic in the period (retweets and spam included: what
  was said about it); **kept**: those kept for sentiment.
- **authors**: distinct authors among them.
- **dominance**: the topic's share of the mentions of every tracked topic in the period (a
  post on two topics counts for each).
- **sentiment**: mean of p_positive - p_negative over the scored posts, by `version`.
- **engaged_sentiment**: the same, each post weighted by 1 + ln(1 + likes + 2 retweets +
  replies + quotes) (`sentiment.scoring.ENGAGEMENT_WEIGHT`), X's public_metrics as they were
  when the post was stored. Posts are stored seconds after they are written, when their
  metrics are still young (mostly zero), and the metrics are not read again: the weighting
  tells apart posts that had already drawn engagement when collected (recovered or older
  posts), and weighs every fresh one as 1.
- **volume_z**, **sentiment_z**: how far the period is from the `baseline` periods before it,
  in standard deviations of those periods (at least Poisson noise for volume, 0.05 for
  sentiment; empty until a third of the baseline exists, periods before the topic's first
  post not counted). The last period may be partial.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from ecoin_assets.errors import NoDataError, NotFoundError
from ecoin_assets.signals.periods import Interval
from ecoin_assets.storage import Connection
from ecoin_assets.storage.sql import period_start, ratio, time_bucket

SIGNAL_COLUMNS = [
    "ts",
    "volume",
    "kept",
    "authors",
    "dominance",
    "scored",
    "sentiment",
    "engaged_sentiment",
    "share_negative",
    "share_positive",
    "volume_z",
    "sentiment_z",
]


def _frame(con: Connection, sql: str, params: list) -> pd.DataFrame:
    frame = con.execute(sql, params).df()
    if "ts" in frame:
        frame["ts"] = pd.to_datetime(frame["ts"])
    return frame


def _bucket(con: Connection, column: str, iv: Interval) -> str:
    return period_start(con, column, iv.minutes, iv.unit)


def zscore(values: pd.Series, periods: int, counts: bool = False) -> pd.Series:
    """Each value against the `periods` values before it (z; NaN while too few exist). The
    baseline's spread is taken as at least Poisson noise for counts (the square root of their
    mean, at least 1) and 0.05 for sentiment, so that a perfectly steady baseline still gives
    finite, comparable z-scores."""
    base = values.shift(1).rolling(periods, min_periods=max(3, periods // 3))
    mean, std = base.mean(), base.std()
    floor = np.sqrt(mean).clip(lower=1.0) if counts else pd.Series(0.05, index=values.index)
    return ((values - mean) / np.maximum(std, floor)).round(3)


def topic_signals(
    con: Connection, topic: str, version: str, start: datetime, end: datetime, iv: Interval
) -> pd.DataFrame:
    """One row per period of [start, end) with SIGNAL_COLUMNS (see the module docstring)."""
    since = iv.shift(iv.start_of(start), -iv.baseline)
    minute = _bucket(con, "minute", iv)
    volume = _frame(
        con,
        f"""
        SELECT {minute} AS ts, topic, sum(posts) AS volume, sum(kept) AS kept
        FROM topic_minute_stats WHERE minute >= ? AND minute < ?
        GROUP BY 1, 2
        """,
        [since, end],
    )
    mood = _frame(
        con,
        f"""
        SELECT {minute} AS ts, sum(scored) AS scored,
               sum(mean_sentiment * scored) / sum(scored) AS sentiment,
               sum(negative) AS negative, sum(positive) AS positive,
               sum(engaged_total) / sum(engaged_weight) AS engaged_sentiment
        FROM topic_minute_sentiment
        WHERE topic = ? AND model_version = ? AND minute >= ? AND minute < ?
        GROUP BY 1
        """,
        [topic, version, since, end],
    )
    authors = _frame(
        con,
        f"""
        SELECT {minute} AS ts, count(DISTINCT author_id) AS authors
        FROM topic_minute_authors WHERE topic = ? AND minute >= ? AND minute < ?
        GROUP BY 1
        """,
        [topic, iv.start_of(start), end],
    )
    index = pd.DataFrame({"ts": iv.starts(since, end)})
    mine = volume[volume["topic"] == topic].drop(columns="topic")
    total = volume.groupby("ts", as_index=False)["volume"].sum().rename(columns={"volume": "all"})
    out = index.merge(mine, on="ts", how="left").merge(total, on="ts", how="left")
    out = out.merge(mood, on="ts", how="left").merge(authors, on="ts", how="left")
    out["engaged_sentiment"] = out["engaged_sentiment"].astype(float).round(4)
    for column in ("volume", "kept", "all", "scored", "negative", "positive"):
        out[column] = out[column].fillna(0).astype(int)
    out["authors"] = out["authors"].astype("Int64")
    out["dominance"] = (out["volume"] / out["all"].where(out["all"] > 0)).round(4)
    scored = out["scored"].where(out["scored"] > 0)
    out["share_negative"] = (out["negative"] / scored).round(4)
    out["share_positive"] = (out["positive"] / scored).round(4)
    out["sentiment"] = out["sentiment"].astype(float).round(4)
    first = con.execute(
        "SELECT min(minute) FROM topic_minute_stats WHERE topic = ?", [topic]
    ).fetchone()
    collected = out["volume"].astype(float)  # before the topic's first post: unknown, not 0
    if first and first[0] is not None:
        collected = collected.where(out["ts"] >= pd.Timestamp(iv.start_of(first[0])))
    out["volume_z"] = zscore(collected, iv.baseline, counts=True)
    out["sentiment_z"] = zscore(out["sentiment"], iv.baseline)
    out = out[out["ts"] >= pd.Timestamp(iv.start_of(start))]
    out["authors"] = out["authors"].fillna(0)
    return out[SIGNAL_COLUMNS].reset_index(drop=True)


def coin_prices(
    con: Connection, coin: str, start: datetime, end: datetime, iv: Interval
) -> tuple[pd.DataFrame, list[str]]:
    """Per period with an observation: the last price, market cap and volume observed in it
    (`ts` the period start, `observed_at` the observation), and notes on what the stored
    prices cannot resolve."""
    known = con.execute("SELECT count(*) FROM prices WHERE coin_id = ?", [coin]).fetchone()
    hourly = con.execute(
        "SELECT count(*), min(ts), max(ts) FROM prices_hourly WHERE coin_id = ?", [coin]
    ).fetchone()
    if not (known and known[0]) and not (hourly and hourly[0]):
        raise NotFoundError(f"no prices stored for coin {coin!r}")
    notes: list[str] = []
    points = _frame(
        con,
        "SELECT CAST(date AS TIMESTAMP) AS ts, price_usd, market_cap_usd, volume_usd "
        "FROM prices WHERE coin_id = ? AND date >= ? AND date < ?",
        [coin, iv.start_of(start).date(), end],
    )
    if iv.minutes is not None and iv.minutes < 1440:
        fine = _frame(
            con,
            "SELECT ts, price_usd, market_cap_usd, volume_usd FROM prices_hourly "
            "WHERE coin_id = ? AND ts >= ? AND ts < ?",
            [coin, start, end],
        )
        points = pd.concat([points, fine], ignore_index=True)
        if iv.minutes < 60:
            notes.append(
                "prices are hourly at the finest: 30-minute periods without an hourly "
                "observation have no price"
            )
        first, last = (hourly[1], hourly[2]) if hourly and hourly[0] else (None, None)
        if first is None or first > start or last < end - pd.Timedelta(hours=2):
            covered = f"{first:%Y-%m-%d %H:%M} .. {last:%Y-%m-%d %H:%M}" if first else "none"
            notes.append(
                f"hourly prices of {coin} cover {covered} UTC (CoinGecko keeps hourly points "
                "for recent days); elsewhere there is one price a day, at 00:00 UTC"
            )
    points = points[points["ts"] >= pd.Timestamp(iv.start_of(start))]
    if points.empty:
        raise NoDataError(f"no prices of {coin!r} in {start} .. {end}")
    points = points.sort_values("ts", kind="stable").drop_duplicates("ts", keep="last")
    points["period"] = iv.floor(points["ts"])
    last = points.groupby("period", as_index=False).last()
    last = last.rename(columns={"ts": "observed_at", "period": "ts"})
    last["return"] = last["price_usd"].pct_change().round(6)
    columns = ["ts", "observed_at", "price_usd", "market_cap_usd", "volume_usd", "return"]
    return last[columns], notes


def merged(
    con: Connection,
    coin: str,
    topic: str,
    version: str,
    start: datetime,
    end: datetime,
    iv: Interval,
) -> tuple[pd.DataFrame, list[str]]:
    """A topic's signals beside a coin's prices, period by period."""
    prices, notes = coin_prices(con, coin, start, end, iv)
    signals = topic_signals(con, topic, version, start, end, iv)
    out = signals.merge(prices, on="ts", how="left")
    return out, notes


def correlation(con: Connection, coin: str, topic: str, freq: str) -> pd.DataFrame:
    """The stored correlation of `topic`'s sentiment with `coin` at every lag (the
    `sentiment_price_correlation` asset writes it, hourly and daily)."""
    frame = _frame(
        con,
        "SELECT freq, lag, against, method, r, p_value, n, window_start, window_end, "
        "model_version, computed_at FROM sentiment_price_correlation "
        "WHERE coin_id = ? AND topic = ? AND freq = ? ORDER BY against, method, lag",
        [coin, topic, freq],
    )
    if frame.empty:
        raise NoDataError(
            f"no correlation of {topic!r} with {coin!r} at {freq} stored yet: the "
            "sentiment_price_correlation asset computes it for coin-linked topics"
        )
    return frame.replace({np.nan: None})


def window_signals(
    con: Connection,
    topic: str,
    version: str,
    end: datetime,
    minutes: int,
    baseline: int = 24,
) -> dict[str, float | None]:
    """The signals of `topic` over the trailing window [end - minutes, end), with z-scores
    against the `baseline` windows before it (what alerts compare with their thresholds)."""
    width = pd.Timedelta(minutes=minutes)
    since = pd.Timestamp(end) - width * (baseline + 1)
    stats = _frame(
        con,
        "SELECT topic, minute AS ts, posts FROM topic_minute_stats "
        "WHERE minute >= ? AND minute < ?",
        [since.to_pydatetime(), end],
    )
    mood = _frame(
        con,
        "SELECT minute AS ts, scored, mean_sentiment, engaged_weight, engaged_total "
        "FROM topic_minute_sentiment "
        "WHERE topic = ? AND model_version = ? AND minute >= ? AND minute < ?",
        [topic, version, since.to_pydatetime(), end],
    )
    first = con.execute(
        "SELECT min(minute) FROM topic_minute_stats WHERE topic = ?", [topic]
    ).fetchone()
    authors = con.execute(
        "SELECT count(DISTINCT author_id) FROM topic_minute_authors "
        "WHERE topic = ? AND minute >= ? AND minute < ?",
        [topic, (pd.Timestamp(end) - width).to_pydatetime(), end],
    ).fetchone()
    # windows back from `end`: a minute starting in [end - (k+1) w, end - k w) is in window k
    # (0: the current one, the window's own first minute included)
    ago = lambda ts: (-((ts - pd.Timestamp(end)) // width) - 1).astype(int)  # noqa: E731
    windows = pd.Series(0.0, index=range(baseline + 1))
    if first and first[0] is not None:  # windows before the topic's first post are unknown
        known = int((pd.Timestamp(end) - pd.Timestamp(first[0])) // width)
        windows[windows.index > known] = np.nan
    mine = stats[stats["topic"] == topic]
    volume = windows.add(mine.groupby(ago(mine["ts"]))["posts"].sum(), fill_value=0)
    volume = volume.where(windows.notna())
    total = stats.groupby(ago(stats["ts"]))["posts"].sum()
    mood["weighted"] = mood["mean_sentiment"] * mood["scored"]
    grouped = mood.groupby(ago(mood["ts"]))[["weighted", "scored"]].sum()
    sentiment = (grouped["weighted"] / grouped["scored"].where(grouped["scored"] > 0)).reindex(
        windows.index
    )
    order = list(reversed(windows.index))  # oldest first, the current window last
    volume_z = zscore(volume[order].reset_index(drop=True), baseline, counts=True).iloc[-1]
    sentiment_z = zscore(sentiment[order].reset_index(drop=True), baseline).iloc[-1]
    latest = mood[ago(mood["ts"]) == 0].dropna(subset=["engaged_weight"])
    engaged = (
        latest["engaged_total"].sum() / latest["engaged_weight"].sum() if len(latest) else None
    )
    current = float(volume.get(0, 0.0) or 0.0)
    all_now = float(total.get(0, 0))
    return {
        "volume": current,
        "authors": float(authors[0]) if authors else 0.0,
        "dominance": round(current / all_now, 4) if all_now else None,
        "sentiment": None if pd.isna(sentiment.get(0)) else round(float(sentiment[0]), 4),
        "engaged_sentiment": None if engaged is None else round(float(engaged), 4),
        "volume_z": None if pd.isna(volume_z) else float(volume_z),
        "sentiment_z": None if pd.isna(sentiment_z) else float(sentiment_z),
    }


def minute_series(
    con: Connection, version: str, start: datetime, end: datetime, step: int
) -> pd.DataFrame:
    """Per topic and point of `step` minutes: posts a minute (volume), posts scored, mean
    sentiment (each post once), label shares and the volume-weighted score."""
    bucket = time_bucket(con, "minute")
    return con.execute(
        f"""
        WITH volume AS (
            SELECT topic, ts, sum(posts) AS posts
            FROM (SELECT topic, posts, {bucket} AS ts FROM topic_minute_stats
                  WHERE minute >= ? AND minute < ?) bucketed
            GROUP BY topic, ts
        ), mood AS (
            SELECT topic, ts, sum(scored) AS scored, sum(mean_sentiment * scored) AS total,
                   sum(negative) AS negative, sum(neutral) AS neutral, sum(positive) AS positive
            FROM (SELECT *, {bucket} AS ts FROM topic_minute_sentiment
                  WHERE model_version = ? AND minute >= ? AND minute < ?) bucketed
            GROUP BY topic, ts
        )
        SELECT topic, ts, coalesce(posts, 0) / ? AS posts_per_min,
               coalesce(scored, 0) AS scored,
               total / scored AS mean_sentiment,
               {ratio("negative", "scored")} AS share_negative,
               {ratio("neutral", "scored")} AS share_neutral,
               {ratio("positive", "scored")} AS share_positive,
               total / scored * ln(1 + scored) AS weighted_sentiment
        FROM volume FULL JOIN mood USING (topic, ts)
        ORDER BY topic, ts
        """,
        [step, start, end, step, version, start, end, float(step)],
    ).df()
