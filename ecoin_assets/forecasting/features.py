"""Daily features per coin, as a forecaster of crypto prices would use them.

Everything on row `date` is known at that day's 00:00 UTC close: returns and volatilities look
backwards only, and the sentiment columns hold the *previous* day's aggregates, so nothing
leaks from the future when they are joined to a forecast origin.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FEATURE_COLUMNS = [
    "coin_id",
    "date",
    "price_usd",
    "log_price",
    "log_return",
    "volatility_7d",
    "volatility_30d",
    "log_volume",
    "volume_ratio_7d",
    "log_market_cap",
    "weekday",
    "sentiment_prev_day",
    "posts_prev_day",
]


def _log(series: pd.Series) -> pd.Series:
    return np.log(series.where(series > 0))


def build_features(prices: pd.DataFrame, sentiment: pd.DataFrame | None = None) -> pd.DataFrame:
    """Features from rows of `prices` (one or more coins).

    `sentiment`, when given, has `coin_id, date, sentiment_mean, posts` per day; it is joined
    lagged by one day.
    """
    frames = []
    for coin, group in prices.sort_values(["coin_id", "date"]).groupby("coin_id", sort=True):
        g = group.copy()
        g["date"] = pd.to_datetime(g["date"])
        g["log_price"] = np.log(g["price_usd"])
        consecutive = g["date"].diff() == pd.Timedelta(days=1)
        g["log_return"] = g["log_price"].diff().where(consecutive)
        g["volatility_7d"] = g["log_return"].rolling(7, min_periods=5).std()
        g["volatility_30d"] = g["log_return"].rolling(30, min_periods=20).std()
        g["log_volume"] = _log(g["volume_usd"])
        g["volume_ratio_7d"] = g["volume_usd"] / g["volume_usd"].rolling(7, min_periods=5).mean()
        g["log_market_cap"] = _log(g["market_cap_usd"])
        g["weekday"] = g["date"].dt.weekday
        g["coin_id"] = coin
        frames.append(g)
    if not frames:
        return pd.DataFrame(columns=FEATURE_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    if sentiment is not None and not sentiment.empty:
        lagged = sentiment.assign(date=pd.to_datetime(sentiment["date"]) + pd.Timedelta(days=1))
        lagged = lagged.rename(
            columns={"sentiment_mean": "sentiment_prev_day", "posts": "posts_prev_day"}
        )
        out = out.merge(
            lagged[["coin_id", "date", "sentiment_prev_day", "posts_prev_day"]],
            on=["coin_id", "date"],
            how="left",
        )
    else:
        out["sentiment_prev_day"] = np.nan
        out["posts_prev_day"] = pd.NA
    out["date"] = out["date"].dt.date
    out = out.replace([np.inf, -np.inf], np.nan)
    return out[FEATURE_COLUMNS]
