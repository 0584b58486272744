"""Forecasting operations on stored data, shared by the CLI and the Dagster assets."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ecoin_assets.config import validate_coin_id
from ecoin_assets.errors import UserError
from ecoin_assets.forecasting import model as price_model
from ecoin_assets.forecasting.backtest import Backtest, run_backtest
from ecoin_assets.forecasting.features import FEATURE_COLUMNS, build_features
from ecoin_assets.forecasting.model import MAX_HORIZON, ModelConfig, PriceModel
from ecoin_assets.storage import Database
from ecoin_assets.storage.rows import replace_rows

FORECAST_DAYS = 14  # the daily forecast's days ahead (asset price_forecasts)
# a stored backtest's scores per horizon (`forecast_backtests`, besides coin, model and time)
BACKTEST_SCORES = [
    "horizon",
    "n_origins",
    "mae",
    "mape",
    "naive_mae",
    "mase",
    "interval",
    "coverage",
    "test_start",
    "test_end",
]


def load_prices(db: Database, coin_id: str) -> pd.DataFrame:
    coin_id = validate_coin_id(coin_id)
    frame = db.query_df(
        "SELECT coin_id, date, price_usd, market_cap_usd, volume_usd FROM prices "
        "WHERE coin_id = ? ORDER BY date",
        [coin_id],
    )
    if frame.empty:
        raise UserError(
            f"no prices stored for {coin_id}: fetch them first, e.g. 'ecoin prices fetch "
            f"--coin {coin_id} --start 2022-01-01 --end <yesterday>'"
        )
    return frame


def new_version(coin_id: str, prices: pd.DataFrame, config: ModelConfig) -> str:
    """`<UTC time>-<hash of the data and config>`: sortable, and telling what it was fit on."""
    digest = hashlib.sha256(
        f"{coin_id}|{prices['date'].iloc[-1]}|{prices['price_usd'].iloc[-1]!r}|{len(prices)}|"
        f"{config}".encode()
    ).hexdigest()[:8]
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{digest}"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def refresh_features(db: Database, coin_id: str) -> pd.DataFrame:
    """Rebuild `price_features` for one coin (delete then insert, one transaction), with the
    daily sentiment of the topic named like the coin, by the active sentiment model."""
    from ecoin_assets.config import load_settings
    from ecoin_assets.sentiment.registry import active_version
    from ecoin_assets.sentiment.scoring import daily_sentiment

    sentiment = daily_sentiment(db, coin_id, active_version(load_settings().home))
    features = build_features(load_prices(db, coin_id), sentiment)
    with db.write() as con:
        replace_rows(con, "price_features", features, FEATURE_COLUMNS, {"coin_id": coin_id})
    return features


def train_model(
    db: Database,
    home: Path,
    coin_id: str,
    horizon: int = MAX_HORIZON,
    config: ModelConfig | None = None,
) -> PriceModel:
    price_model.check_horizon(horizon)
    prices = load_prices(db, coin_id)
    config = config or price_model.DEFAULT_CONFIG
    trained = price_model.train(
        coin_id, prices, config, version=new_version(coin_id, prices, config), horizon=horizon
    )
    price_model.save(trained, home)
    return trained


def predict(
    db: Database, home: Path, coin_id: str, horizon: int, version: str | None = None
) -> tuple[PriceModel, pd.DataFrame]:
    price_model.check_horizon(horizon)
    loaded = price_model.load(home, validate_coin_id(coin_id), version)
    return loaded, price_model.forecast(loaded, load_prices(db, coin_id), horizon)


def store_forecast(db: Database, model: PriceModel, points: pd.DataFrame) -> None:
    """Replace this model's forecast from the same origin (idempotent)."""
    origin = points["date"].iloc[0] - pd.Timedelta(days=1)
    rows = points.assign(
        coin_id=model.coin_id,
        forecast_date=origin,
        model_version=model.version,
        horizon=range(1, len(points) + 1),
        interval=model.config.interval,
        created_at=_now(),
    )
    with db.write() as con:
        replace_rows(
            con,
            "forecasts",
            rows.rename(columns={"date": "target_date"}),
            [
                "coin_id",
                "forecast_date",
                "target_date",
                "model_version",
                "horizon",
                "yhat",
                "yhat_lower",
                "yhat_upper",
                "interval",
                "created_at",
            ],
            {"coin_id": model.coin_id, "forecast_date": origin, "model_version": model.version},
        )


def backtest(
    db: Database, coin_id: str, horizon: int = MAX_HORIZON, config: ModelConfig | None = None
) -> Backtest:
    price_model.check_horizon(horizon)
    prices = load_prices(db, coin_id)
    config = config or price_model.DEFAULT_CONFIG
    return run_backtest(
        coin_id,
        prices,
        config,
        horizon=horizon,
        version="backtest-" + new_version(coin_id, prices, config),
    )


def store_backtest(db: Database, result: Backtest) -> None:
    rows = result.metrics.assign(
        coin_id=result.coin_id,
        model_version=result.model.version,
        test_start=result.test_start,
        test_end=result.test_end,
        created_at=_now(),
    )
    with db.write() as con:
        replace_rows(
            con,
            "forecast_backtests",
            rows,
            ["coin_id", "model_version", *BACKTEST_SCORES, "created_at"],
            {"coin_id": result.coin_id, "model_version": result.model.version},
        )
