"""Rolling-origin backtests of the price model against the naive last-value forecast.

The model is trained and calibrated exactly as in production, but on the history before the
last `test_days`; it then forecasts from every origin in those days (each using only the
prices known at its origin) and is scored per horizon: MAE and MAPE of the price, the naive
forecast's MAE on the same origins, MASE (model MAE / naive MAE: below 1 beats naive), and
the empirical coverage of the nominal interval.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecoin_assets.errors import NoDataError, Remedy
from ecoin_assets.forecasting.model import (
    DEFAULT_CONFIG,
    MAX_HORIZON,
    ModelConfig,
    PriceModel,
    origin_paths,
    returns_frame,
    train,
)

TEST_DAYS = 365


@dataclass
class Backtest:
    coin_id: str
    model: PriceModel
    test_start: str
    test_end: str
    metrics: pd.DataFrame  # one row per horizon
    paths: pd.DataFrame  # origin, target date, horizon, actual, yhat, lower, upper, naive

    def at(self, horizon: int) -> dict:
        row = self.metrics.set_index("horizon").loc[horizon]
        out = {"coin": self.coin_id, "horizon": horizon}
        out |= {
            k: float(row[k]) for k in ("mae", "mape", "mase", "naive_mae", "interval", "coverage")
        }
        out |= {
            "n_origins": int(row["n_origins"]),
            "test_start": self.test_start,
            "test_end": self.test_end,
            "model_version": self.model.version,
        }
        return out


def score(
    predicted: np.ndarray,
    actual: np.ndarray,
    vol: np.ndarray,
    log_price: np.ndarray,
    scale: list[float],
    interval: float,
) -> pd.DataFrame:
    """Per-horizon metrics from log-price paths (rows: origins, columns: horizons)."""
    rows = []
    for h in range(predicted.shape[1]):
        ok = ~np.isnan(actual[:, h]) & ~np.isnan(predicted[:, h])
        if not ok.any():
            continue
        base = log_price[ok]
        truth = np.exp(base + actual[ok, h])
        yhat = np.exp(base + predicted[ok, h])
        naive = np.exp(base)
        mae = float(np.mean(np.abs(truth - yhat)))
        naive_mae = float(np.mean(np.abs(truth - naive)))
        inside = np.abs(actual[ok, h] - predicted[ok, h]) <= scale[h] * vol[ok]
        rows.append(
            {
                "horizon": h + 1,
                "n_origins": int(ok.sum()),
                "mae": mae,
                "mape": float(np.mean(np.abs(truth - yhat) / truth) * 100),
                "naive_mae": naive_mae,
                "mase": mae / naive_mae if naive_mae else float("nan"),
                "interval": interval,
                "coverage": float(np.mean(inside)),
            }
        )
    return pd.DataFrame(rows)


def run_backtest(
    coin_id: str,
    prices: pd.DataFrame,
    config: ModelConfig | None = None,
    *,
    version: str,
    test_days: int = TEST_DAYS,
    horizon: int = MAX_HORIZON,
    fit: Callable[..., PriceModel] = train,
) -> Backtest:
    """`fit` trains the model (as `model.train`, its default, does): a backtest of another
    training procedure is a backtest of what that procedure makes."""
    config = config or DEFAULT_CONFIG
    frame = returns_frame(prices)
    needed = config.min_history + test_days
    if len(frame) < needed:
        raise NoDataError(
            f"a backtest of {coin_id} needs at least {needed} days of prices "
            f"({test_days} test days after {config.min_history} for training); it has "
            f"{len(frame)}",
            remedy=Remedy.FETCH_HISTORY,
            coin=coin_id,
        )
    cutoff = frame["ds"].iloc[-test_days - 1]
    history = prices[pd.to_datetime(prices["date"]) <= cutoff]
    model = fit(coin_id, history, config, version=version, horizon=horizon)
    predicted, actual, vol, log_price = origin_paths(
        model.network, frame, test_days, config, horizon
    )
    predicted = predicted * np.array(model.shrink)
    metrics = score(predicted, actual, vol, log_price, model.scale, config.interval)
    origins = frame["ds"].iloc[-test_days - 1 :].to_numpy()[: len(predicted)]
    paths = price_paths(model, origins, predicted, actual, vol, log_price, horizon)
    return Backtest(
        coin_id,
        model,
        str(frame["ds"].iloc[-test_days].date()),
        str(frame["ds"].iloc[-1].date()),
        metrics,
        paths.dropna(subset=["actual"]),
    )


def price_paths(
    model: PriceModel,
    origins: np.ndarray,
    predicted: np.ndarray,
    actual: np.ndarray,
    vol: np.ndarray,
    log_price: np.ndarray,
    horizon: int,
) -> pd.DataFrame:
    """Prices from `origin_paths`' log paths (`predicted` already shrunk): per origin and
    horizon the target day, forecast, interval, naive forecast and actual (NaN if unknown)."""
    paths = []
    for h in range(horizon):
        width = np.array(model.scale[h]) * vol
        paths.append(
            pd.DataFrame(
                {
                    "origin": origins,
                    "horizon": h + 1,
                    "target": origins + np.timedelta64(h + 1, "D"),
                    "actual": np.exp(log_price + actual[:, h]),
                    "yhat": np.exp(log_price + predicted[:, h]),
                    "yhat_lower": np.exp(log_price + predicted[:, h] - width),
                    "yhat_upper": np.exp(log_price + predicted[:, h] + width),
                    "naive": np.exp(log_price),
                }
            )
        )
    return pd.concat(paths, ignore_index=True)
