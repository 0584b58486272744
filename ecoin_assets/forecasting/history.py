"""Forecasts as they would have been issued on past days, so that realized scores exist at once.

From a start day on, the days are cut into retraining periods: for each period one model is
trained and calibrated on the prices known at the period's first day (exactly as a daily job
would have trained it then), and it forecasts from every day of the period using only the
prices up to that day. Days that already have a stored forecast are left alone. The models
are not saved (they are not the served one); their forecasts are stored under versions named
`history-...`, and scored like any other (`ecoin_assets.forecasting.realized`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from ecoin_assets.errors import InvalidInputError
from ecoin_assets.forecasting import model as price_model
from ecoin_assets.forecasting.backtest import price_paths
from ecoin_assets.forecasting.model import ModelConfig
from ecoin_assets.forecasting.realized import score_new_forecasts
from ecoin_assets.forecasting.service import FORECAST_COLUMNS, FORECAST_DAYS, new_version
from ecoin_assets.prices.store import load_prices
from ecoin_assets.storage import Database
from ecoin_assets.storage.rows import insert_frame

RETRAIN_DAYS = 30


@dataclass
class History:
    coin_id: str
    start: date
    end: date
    models: list[str] = field(default_factory=list)
    issued_days: int = 0  # origins forecast now
    skipped_days: int = 0  # origins that already had a stored forecast
    points: int = 0
    scored: int = 0  # points scored once stored (their target day's price is known)


def issue_history(
    db: Database,
    coin_id: str,
    start: date,
    *,
    horizon: int = FORECAST_DAYS,
    retrain_days: int = RETRAIN_DAYS,
    config: ModelConfig | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> History:
    """Issue the forecasts of every day from `start` to the latest stored price."""
    price_model.check_horizon(horizon)
    if retrain_days < 1:
        raise InvalidInputError(f"the retraining period must be at least 1 day, not {retrain_days}")
    config = config or price_model.DEFAULT_CONFIG
    prices = load_prices(db, coin_id)
    days = pd.to_datetime(prices["date"]).dt.date
    first, last = days.min(), days.max()
    if start > last:
        raise InvalidInputError(f"start {start} is after {coin_id}'s latest stored price ({last})")
    earliest = first + timedelta(days=config.min_history)
    if start < earliest:
        raise InvalidInputError(
            f"a forecast from {start} needs {config.min_history} days of {coin_id} prices "
            f"before it; they start on {first}: start on {earliest} or later, or fetch older "
            "prices"
        )
    stored = {
        pd.Timestamp(d).date()
        for (d,) in db.query(
            "SELECT DISTINCT forecast_date FROM forecasts WHERE coin_id = ? AND forecast_date >= ?",
            [coin_id, start],
        )
    }
    result = History(coin_id, start, last)
    n_periods = (last - start).days // retrain_days + 1
    for index in range(n_periods):
        period_start = start + timedelta(days=index * retrain_days)
        period = [
            period_start + timedelta(days=i)
            for i in range(retrain_days)
            if period_start + timedelta(days=i) <= last
        ]
        todo = [day for day in period if day not in stored]
        result.skipped_days += len(period) - len(todo)
        if not todo:
            continue
        known = prices[days <= period_start]
        version = "history-" + new_version(coin_id, known, config)
        model = price_model.train(coin_id, known, config, version=version, horizon=horizon)
        rows = _forecasts(model, prices[days <= todo[-1]], period_start, todo[-1], horizon)
        rows = rows[rows["forecast_date"].isin(todo)]
        with db.write() as con:
            insert_frame(con, "forecasts", rows, FORECAST_COLUMNS)
        result.models.append(version)
        result.issued_days += len(todo)
        result.points += len(rows)
        progress(
            f"{coin_id}: model {index + 1}/{n_periods} trained on prices to {period_start} "
            f"({model.train_seconds:.0f} s); forecasts from {todo[0]}..{todo[-1]}"
        )
    result.scored = score_new_forecasts(db, coin_id)
    return result


def _forecasts(
    model: price_model.PriceModel, prices: pd.DataFrame, first: date, last: date, horizon: int
) -> pd.DataFrame:
    """Forecast rows from every origin first..last, each from the prices up to its day."""
    frame = price_model.returns_frame(prices)
    n_origins = (last - first).days + 1
    predicted, actual, vol, log_price = price_model.origin_paths(
        model.network, frame, n_origins - 1, model.config, horizon
    )
    predicted = predicted * np.array(model.shrink[:horizon])
    origins = frame["ds"].iloc[-n_origins:].to_numpy()
    paths = price_paths(model, origins, predicted, actual, vol, log_price, horizon)
    return pd.DataFrame(
        {
            "coin_id": model.coin_id,
            "forecast_date": pd.to_datetime(paths["origin"]).dt.date,
            "target_date": pd.to_datetime(paths["target"]).dt.date,
            "model_version": model.version,
            "horizon": paths["horizon"],
            "yhat": paths["yhat"],
            "yhat_lower": paths["yhat_lower"],
            "yhat_upper": paths["yhat_upper"],
            "interval": model.config.interval,
            "created_at": datetime.now(UTC).replace(tzinfo=None),
        }
    )
