"""Finance features, risk classes and the model comparison on stored data (CLI and assets)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from ecoin_assets.analysis.finance import FINANCE_COLUMNS, finance_features, risk_classes
from ecoin_assets.analysis.linear import backtest_linear, scores
from ecoin_assets.forecasting.backtest import TEST_DAYS
from ecoin_assets.forecasting.service import load_prices
from ecoin_assets.storage import Database

COMPARISON_COLUMNS = [
    "coin_id",
    "model",
    "horizon",
    "n_origins",
    "mae",
    "mape",
    "naive_mae",
    "mase",
    "test_start",
    "test_end",
    "created_at",
]


def _replace(db: Database, table: str, coin: str, frame: pd.DataFrame, columns: list[str]):
    """Delete the coin's rows of `table` and insert `frame`'s, in one transaction."""
    with db.write() as con:
        con.execute(f"DELETE FROM {table} WHERE coin_id = ?", [coin])
        con.register("new_rows", frame[columns])
        try:
            con.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM new_rows")
        finally:
            con.unregister("new_rows")


def refresh_finance(db: Database, coin: str) -> pd.DataFrame:
    """Rebuild the coin's `finance_features` and `price_risk_classes` from its prices."""
    prices = load_prices(db, coin)
    features = finance_features(prices)
    _replace(db, "finance_features", coin, features, FINANCE_COLUMNS)
    risks = risk_classes(prices)
    _replace(db, "price_risk_classes", coin, risks, list(risks.columns))
    return features


def compare_models(db: Database, coin: str) -> pd.DataFrame:
    """One-day-ahead MAE, MAPE and MASE of the naive forecast, the linear regression and the
    NeuralProphet model on the same test window (the coin's latest NeuralProphet backtest's,
    else the last 365 days); stored in `model_comparison`."""
    features = refresh_finance(db, coin)
    prophet = db.query_df(
        "SELECT * FROM forecast_backtests WHERE coin_id = ? AND horizon = 1 "
        "ORDER BY created_at DESC LIMIT 1",
        [coin],
    )
    if prophet.empty:
        last = pd.Timestamp(features["date"].max())
        window = (last - pd.Timedelta(days=TEST_DAYS - 1), last)
    else:
        window = (pd.Timestamp(prophet["test_start"][0]), pd.Timestamp(prophet["test_end"][0]))
    cutoff = window[0] - pd.Timedelta(days=1)  # the last day the models learn from
    paths = backtest_linear(features, cutoff)
    paths = paths[pd.to_datetime(paths["target"]) <= window[1]]
    actual, naive = paths["actual"].to_numpy(), paths["naive"].to_numpy()
    rows = [
        {"model": "naive", **scores(actual, naive, naive)},
        {"model": "linear regression", **scores(actual, paths["yhat"].to_numpy(), naive)},
    ]
    if not prophet.empty:
        p = prophet.iloc[0]
        rows.append(
            {
                "model": "neuralprophet",
                **{k: p[k] for k in ("n_origins", "mae", "mape", "naive_mae", "mase")},
            }
        )
    table = pd.DataFrame(rows).assign(
        coin_id=coin,
        horizon=1,
        test_start=window[0].date(),
        test_end=window[1].date(),
        created_at=datetime.now(UTC).replace(tzinfo=None),
    )
    _replace(db, "model_comparison", coin, table, COMPARISON_COLUMNS)
    return table[COMPARISON_COLUMNS]
