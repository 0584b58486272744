"""Finance features per coin and day, the month's risk class, and a linear next-day model.

Definitions (every value on row `date` uses prices up to that day only, except `target`):

- `change_1d`: the price change from the previous calendar day, `p[t] / p[t-1] - 1` (NaN when
  the previous day is missing).
- Risk class of a calendar month: **high** if the price fell 50% or more between two
  consecutive days of that month (`change_1d <= -0.5` on some day), **medium** if it fell
  more than 20% (`change_1d < -0.2`), otherwise **low**.
- `lag_1` … `lag_7`: the prices of the 7 previous calendar days; `target`: the next day's.
- `trend_7d` and `var_7d`: day T against T-1 … T-7, i.e. the mean and the variance of
  `p[T] / p[T-k] - 1` for k = 1 … 7.
- Calendar: `weekday` (0 = Monday), `is_weekend`, ISO `week_of_year`, `month`, and whether the
  day is a public holiday in the US or in China (`holidays` package).
- Volume: `volume_usd`, `volume_change` (log of the volume against the previous day's) and
  `volume_ratio_7d` (the volume against the mean of the 7 previous days).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

LAGS = 7
HIGH_DROP = -0.5
MEDIUM_DROP = -0.2
LAG_COLUMNS = [f"lag_{k}" for k in range(1, LAGS + 1)]
FINANCE_COLUMNS = [
    "coin_id",
    "date",
    "price_usd",
    "change_1d",
    *LAG_COLUMNS,
    "trend_7d",
    "var_7d",
    "weekday",
    "is_weekend",
    "week_of_year",
    "month",
    "is_us_holiday",
    "is_cn_holiday",
    "volume_usd",
    "volume_change",
    "volume_ratio_7d",
    "risk_class",
    "target",
]


@functools.cache
def _holidays(country: str, years: tuple[int, ...]) -> frozenset:
    import holidays

    return frozenset(holidays.country_holidays(country, years=list(years)))


def _daily(group: pd.DataFrame) -> pd.DataFrame:
    """One coin's rows on a full daily calendar (missing days are NaN rows)."""
    g = group.assign(date=pd.to_datetime(group["date"])).set_index("date").sort_index()
    return g[~g.index.duplicated()].asfreq("D")


def risk_classes(prices: pd.DataFrame) -> pd.DataFrame:
    """Per coin and calendar month: the worst day-to-day change and the risk class."""
    rows = []
    for coin, group in prices.groupby("coin_id", sort=True):
        g = _daily(group)
        change = g["price_usd"] / g["price_usd"].shift(1) - 1
        worst = change.groupby(change.index.to_period("M")).min()
        months = g["price_usd"].dropna().index.to_period("M").unique()
        for month in months:
            drop = worst.get(month, np.nan)
            rows.append(
                {
                    "coin_id": coin,
                    "month": month.start_time.date(),
                    "worst_change_1d": drop,
                    "risk_class": _risk(drop),
                }
            )
    return pd.DataFrame(rows, columns=["coin_id", "month", "worst_change_1d", "risk_class"])


def _risk(drop: float) -> str:
    if pd.notna(drop) and drop <= HIGH_DROP:
        return "high"
    if pd.notna(drop) and drop < MEDIUM_DROP:
        return "medium"
    return "low"


def finance_features(prices: pd.DataFrame) -> pd.DataFrame:
    """The features of every stored day of every coin in `prices` (`coin_id, date,
    price_usd, volume_usd`), with FINANCE_COLUMNS."""
    frames = []
    risks = risk_classes(prices)
    for coin, group in prices.groupby("coin_id", sort=True):
        g = _daily(group)
        price = g["price_usd"]
        out = pd.DataFrame(index=g.index)
        out["price_usd"] = price
        out["change_1d"] = price / price.shift(1) - 1
        for k in range(1, LAGS + 1):
            out[f"lag_{k}"] = price.shift(k)
        relative = np.column_stack([price / price.shift(k) - 1 for k in range(1, LAGS + 1)])
        out["trend_7d"] = relative.mean(axis=1)
        out["var_7d"] = relative.var(axis=1, ddof=1)
        out["weekday"] = out.index.weekday
        out["is_weekend"] = out["weekday"] >= 5
        out["week_of_year"] = out.index.isocalendar().week.astype(int).to_numpy()
        out["month"] = out.index.month
        years = tuple(sorted(set(out.index.year)))
        days = out.index.date
        out["is_us_holiday"] = [d in _holidays("US", years) for d in days]
        out["is_cn_holiday"] = [d in _holidays("CN", years) for d in days]
        volume = g["volume_usd"].astype(float).where(g["volume_usd"] > 0)
        out["volume_usd"] = volume
        out["volume_change"] = np.log(volume / volume.shift(1))
        out["volume_ratio_7d"] = volume / volume.shift(1).rolling(LAGS, min_periods=LAGS).mean()
        out["target"] = price.shift(-1)
        out = out[price.notna()].reset_index()
        out["coin_id"] = coin
        month = out["date"].dt.to_period("M").dt.start_time.dt.date
        coin_risk = risks[risks["coin_id"] == coin].set_index("month")["risk_class"]
        out["risk_class"] = month.map(coin_risk).fillna("low").to_numpy()
        out["date"] = out["date"].dt.date
        frames.append(out[FINANCE_COLUMNS])
    if not frames:
        return pd.DataFrame(columns=FINANCE_COLUMNS)
    return pd.concat(frames, ignore_index=True)
