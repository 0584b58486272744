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
    """Pearson r and pairs per lag of a frame with `date`, `sentiment`, `return`; r is NaN
    below MIN_PAIRS pairs or when either side is constant."""
    frame = _daily(daily)
    rows = []
    for lag in lags:
        pairs = pd.concat(
            [frame["sentiment"], frame["return"].shift(-lag)], axis=1, keys=["s", "r"]
        ).dropna()
        r = np.nan
        if len(pairs) >= MIN_PAIRS and pairs["s"].std() > 0 and pairs["r"].std() > 0:
            r = float(pairs["s"].corr(pairs["r"]))
        rows.append({"lag": lag, "r": r, "n": len(pairs)})
    return pd.DataFrame(rows, columns=["lag", "r", "n"])


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
