"""Correlation of daily sentiment with daily returns, at lags.

Lag `k` pairs the sentiment of day `t` with the return of day `t + k`: a positive lag means
sentiment leads prices, a negative one that it follows them. Series are put on a daily
calendar first, so a missing day is a gap, never a shift.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LAGS = range(-3, 4)
MIN_PAIRS = 10


def _daily(frame: pd.DataFrame) -> pd.DataFrame:
    """`date`-indexed, one row per calendar day from the first to the last."""
    if frame.empty:
        return frame.set_index("date")
    indexed = frame.assign(date=pd.to_datetime(frame["date"])).set_index("date").sort_index()
    return indexed.asfreq("D")


def lagged_correlations(daily: pd.DataFrame, lags=LAGS) -> pd.DataFrame:
    """Pearson r and pairs per lag of a frame with `date`, `sentiment`, `return`, put on a
    daily calendar first; r is NaN below MIN_PAIRS pairs or when either side is constant."""
    stats = correlation_stats(_daily(daily).reset_index(drop=True), lags)
    pearson = stats[(stats["against"] == "return") & (stats["method"] == "pearson")]
    return pearson[["lag", "r", "n"]].reset_index(drop=True)


def best_lag(lags: pd.DataFrame) -> int | None:
    """The lag with the strongest correlation (either sign), if any could be computed."""
    known = lags.dropna(subset=["r"])
    return None if known.empty else int(known.loc[known["r"].abs().idxmax(), "lag"])


def rolling_correlation(daily: pd.DataFrame, lag: int, window: int = 30) -> pd.DataFrame:
    """`date`, `r`: Pearson r over the trailing `window` days at `lag` (MIN_PAIRS at least)."""
    frame = _daily(daily)
    if frame.empty:
        return pd.DataFrame(columns=["date", "r"])
    r = frame["sentiment"].rolling(window, min_periods=MIN_PAIRS).corr(frame["return"].shift(-lag))
    out = r.rename("r").reset_index()
    return out.dropna().reset_index(drop=True)


FREQUENCIES = {"hour": "h", "day": "D"}


def align_asof(sentiment: pd.DataFrame, prices: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Sentiment per period beside the price known at the period's end, with no look-ahead.

    `sentiment`: `ts` (period start, naive UTC) and `sentiment` (mean over the period's
    posts), with `posts`; `prices`: `ts` (when the price was observed) and `price_usd`. Each
    period [ts, ts + 1 freq) gets the last price observed at or before its end (an as-of join
    backwards, never a later one), and `return`, the log change of that price from the
    previous period's. Periods are on a regular calendar: a gap stays a gap.
    """
    step = pd.Timedelta(1, unit=FREQUENCIES[freq])
    periods = sentiment.assign(ts=pd.to_datetime(sentiment["ts"]).astype("datetime64[ns]"))
    periods = periods.sort_values("ts")
    if periods.empty:
        return pd.DataFrame(columns=["ts", "sentiment", "posts", "price_usd", "return"])
    calendar = pd.DataFrame(
        {"ts": pd.date_range(periods["ts"].min(), periods["ts"].max(), freq=step)}
    ).merge(periods, on="ts", how="left")
    calendar["end"] = calendar["ts"] + step
    known = prices.assign(ts=pd.to_datetime(prices["ts"]).astype("datetime64[ns]"))
    known = known.sort_values("ts")
    merged = pd.merge_asof(
        calendar.sort_values("end"),
        known[["ts", "price_usd"]].rename(columns={"ts": "observed"}),
        left_on="end",
        right_on="observed",
        direction="backward",
    )
    # float whatever the driver gave: PostgreSQL's empty answer is of object dtype
    merged["price_usd"] = pd.to_numeric(merged["price_usd"], errors="coerce").astype(float)
    merged["return"] = np.log(merged["price_usd"]).diff()
    return merged[["ts", "sentiment", "posts", "price_usd", "return"]]


def correlation_stats(aligned: pd.DataFrame, lags=LAGS) -> pd.DataFrame:
    """Pearson and Spearman correlation of sentiment with price and with returns (those of the
    two columns present) per lag (sentiment of period t against the price or return of period
    t + lag), with the number of pairs and the two-sided p-value; r and p are NaN below
    MIN_PAIRS pairs or when either side is constant. Periods must be regular (`align_asof`)."""
    from scipy import stats

    rows = []
    present = [c for c in ("price_usd", "return") if c in aligned.columns]
    for lag in lags:
        for against in present:
            pairs = pd.concat(
                [aligned["sentiment"], aligned[against].shift(-lag)], axis=1, keys=["s", "x"]
            ).dropna()
            for method, test in (("pearson", stats.pearsonr), ("spearman", stats.spearmanr)):
                r = p = np.nan
                if (
                    len(pairs) >= MIN_PAIRS
                    and pairs["s"].nunique() > 1
                    and pairs["x"].nunique() > 1
                ):
                    result = test(pairs["s"], pairs["x"])
                    r, p = float(result[0]), float(result[1])
                rows.append(
                    {
                        "lag": lag,
                        "against": "price" if against == "price_usd" else "return",
                        "method": method,
                        "r": r,
                        "p_value": p,
                        "n": len(pairs),
                    }
                )
    return pd.DataFrame(rows, columns=["lag", "against", "method", "r", "p_value", "n"])
