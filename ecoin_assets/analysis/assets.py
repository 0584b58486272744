"""Dagster assets of the analysis domain, one partition per coin."""

import dagster as dg
import pandas as pd

from ecoin_assets.analysis import service
from ecoin_assets.forecasting.assets import _md_table, _per_coin, coin_partitions, forecast_backtest
from ecoin_assets.prices.assets import DUCKDB_POOL
from ecoin_assets.resources import EcoinStore


@dg.asset(
    partitions_def=coin_partitions,
    deps=[_per_coin],
    pool=DUCKDB_POOL,
    group_name="analysis",
    kinds={"duckdb"},
    description=(
        "Per coin and day (`finance_features`): the previous 7 days' prices and the next day's "
        "as target, 7-day trend and variance, calendar and US/China holidays, volume features "
        "and the month's risk class (`price_risk_classes`: high after a 50% day-to-day fall, "
        "medium after 20%)."
    ),
)
def finance_features(context: dg.AssetExecutionContext, store: EcoinStore) -> dg.MaterializeResult:
    features = service.refresh_finance(store.database(), context.partition_key)
    months = features.assign(month=pd.to_datetime(features["date"]).dt.to_period("M"))
    risk = months.drop_duplicates("month")["risk_class"].value_counts()
    return dg.MaterializeResult(
        metadata={
            "days": len(features),
            "months_by_risk": {str(k): int(v) for k, v in risk.items()},
            "latest": _md_table(features.tail(3).T.reset_index()),
        }
    )


@dg.asset(
    partitions_def=coin_partitions,
    deps=[finance_features, forecast_backtest],
    pool=DUCKDB_POOL,
    group_name="analysis",
    kinds={"scikitlearn", "duckdb"},
    description=(
        "One-day-ahead MAE, MAPE and MASE of the naive forecast, a linear regression on the "
        "finance features and the NeuralProphet model, on the same backtest origins "
        "(`model_comparison`)."
    ),
)
def model_comparison(context: dg.AssetExecutionContext, store: EcoinStore) -> dg.MaterializeResult:
    table = service.compare_models(store.database(), context.partition_key)
    shown = table[["model", "n_origins", "mae", "mape", "mase"]].round(4)
    return dg.MaterializeResult(metadata={"one_day_ahead": _md_table(shown)})


analysis_coin_assets = [finance_features, model_comparison]
