"""Forecasting operations on stored data, shared by the CLI and the Dagster assets."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ecoin_assets.config import validate_coin_id
from ecoin_assets.errors import InvalidInputError
from ecoin_assets.forecasting import gate
from ecoin_assets.forecasting import model as price_model
from ecoin_assets.forecasting.backtest import Backtest, run_backtest
from ecoin_assets.forecasting.features import FEATURE_COLUMNS, build_features
from ecoin_assets.forecasting.gate import Verdict
from ecoin_assets.forecasting.model import MAX_HORIZON, ModelConfig, PriceModel
from ecoin_assets.prices.store import load_prices
from ecoin_assets.storage import Database
from ecoin_assets.storage.rows import replace_rows

FORECAST_DAYS = 14  # the daily forecast's days ahead (asset price_forecasts)
FORECAST_COLUMNS = [  # a stored forecast point (`forecasts`)
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
]
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


def new_version(coin_id: str, prices: pd.DataFrame, config: ModelConfig) -> str:
    """`<UTC time>-<hash of the data and config>`: sortable, and telling what it was fit on."""
    digest = hashlib.sha256(
        f"{coin_id}|{prices['date'].iloc[-1]}|{prices['price_usd'].iloc[-1]!r}|{len(prices)}|"
        f"{config}".encode()
    ).hexdigest()[:8]
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{digest}"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def refresh_features(db: Database, home: Path, coin_id: str) -> pd.DataFrame:
    """Rebuild `price_features` for one coin (delete then insert, one transaction), with the
    daily sentiment of the topic named like the coin, by the active sentiment model."""
    from ecoin_assets.sentiment.registry import active_version
    from ecoin_assets.sentiment.scoring import daily_sentiment

    sentiment = daily_sentiment(db, coin_id, active_version(home))
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
    *,
    force: bool = False,
    fit: Callable[..., PriceModel] | None = None,
) -> tuple[PriceModel, Verdict]:
    """Train and save the coin's model; it is served only if it passes the gate
    (`gate.py`), or with `force`. Its verdict is stored beside it. `fit` replaces the
    training procedure (default `model.train`), in the model and in its backtest alike."""
    price_model.check_horizon(horizon)
    prices = load_prices(db, coin_id)
    config = config or price_model.DEFAULT_CONFIG
    version = new_version(coin_id, prices, config)
    trained = (fit or price_model.train)(coin_id, prices, config, version=version, horizon=horizon)
    evidence = gate_evidence(db, coin_id, prices, config, version, fit)
    verdict = gate.judge(evidence, forced=force)
    folder = price_model.save(trained, home, serve=verdict.serve)
    gate.write_verdict(folder, verdict)
    return trained, verdict


def gate_evidence(
    db: Database,
    coin_id: str,
    prices: pd.DataFrame,
    config: ModelConfig,
    version: str,
    fit: Callable[..., PriceModel] | None = None,
) -> dict:
    """The backtest scores at the gate's horizon of this training on these prices: the
    stored backtest when one was made of them with the standard training (the
    `forecast_backtest` asset runs before `price_model`), else a new one, stored."""
    digest = version.rsplit("-", 1)[-1]
    stored = (
        pd.DataFrame()
        if fit
        else db.query_df(
            "SELECT * FROM forecast_backtests WHERE coin_id = ? AND horizon = ? "
            "AND model_version LIKE ? ORDER BY created_at DESC LIMIT 1",
            [coin_id, gate.GATE_HORIZON, f"backtest-%-{digest}"],
        )
    )
    if not stored.empty:
        return stored.iloc[0].to_dict()
    result = run_backtest(
        coin_id, prices, config, version="backtest-" + version, fit=fit or price_model.train
    )
    if fit is None:  # another procedure's backtest is no evidence for the standard one
        store_backtest(db, result)
    return result.at(gate.GATE_HORIZON)


def promote(home: Path, coin_id: str, version: str, *, force: bool = False) -> Verdict | None:
    """Serve a stored version: one its gate refused only with `force` (the verdict is then
    marked forced). Returns its verdict (None for a model saved before gates existed)."""
    coin_id = validate_coin_id(coin_id)
    folder = price_model.model_dir(home, coin_id) / version
    verdict = gate.read_verdict(folder)
    if verdict is not None and not verdict.passed and not force:
        raise InvalidInputError(
            f"{coin_id} model {version} was {verdict.summary()}; add --force to serve it anyway"
        )
    price_model.promote(home, coin_id, version)
    if verdict is not None and not verdict.passed:
        verdict.forced = True
        gate.write_verdict(folder, verdict)
    return verdict


def model_versions(home: Path, coin_id: str) -> list[dict]:
    """Every stored version of the coin's model, newest first, with its verdict."""
    coin_id = validate_coin_id(coin_id)
    served = price_model.served_version(home, coin_id)
    rows = []
    for version in reversed(price_model.stored_versions(home, coin_id)):
        verdict = gate.read_verdict(price_model.model_dir(home, coin_id) / version)
        rows.append(
            {
                "version": version,
                "served": version == served,
                "gate": "ungated" if verdict is None else "passed" if verdict.passed else "refused",
                "verdict": None if verdict is None else verdict.as_json(),
            }
        )
    return rows


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
            FORECAST_COLUMNS,
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
