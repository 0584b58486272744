"""Dagster assets of the analysis domain, one partition per coin."""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from ecoin_assets.analysis import service
from ecoin_assets.analysis.correlation import FREQUENCIES
from ecoin_assets.analysis.publish import publish
from ecoin_assets.automation import AFTER_NEW_INPUTS, stale_after
from ecoin_assets.dagster_shared import DUCKDB_POOL, coin_partitions, md_table, per_coin_prices
from ecoin_assets.errors import UserError
from ecoin_assets.forecasting.assets import forecast_backtest
from ecoin_assets.prices.assets import prices, prices_hourly
from ecoin_assets.resources import EcoinSettings, EcoinStore
from ecoin_assets.sentiment.assets import post_sentiment
from ecoin_assets.sentiment.registry import active_version
from ecoin_assets.tweets.topics import active_topics, seeds, topic_coins


@dg.asset(
    partitions_def=coin_partitions,
    automation_condition=AFTER_NEW_INPUTS,
    deps=[per_coin_prices],
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
            "latest": md_table(features.tail(3).T.reset_index()),
        }
    )


@dg.asset(
    partitions_def=coin_partitions,
    automation_condition=AFTER_NEW_INPUTS,
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
    return dg.MaterializeResult(metadata={"one_day_ahead": md_table(shown)})


analysis_coin_assets = [finance_features, model_comparison]


@dg.asset(
    deps=[post_sentiment, prices, prices_hourly],
    automation_condition=AFTER_NEW_INPUTS,
    freshness_policy=stale_after(2.5, warn_hours=1.5),
    pool=DUCKDB_POOL,
    group_name="analysis",
    kinds={"scipy", "duckdb"},
    description=(
        "Hourly and daily Pearson and Spearman correlation (with p-values and pairs) of each "
        "coin-linked topic's sentiment (`ecoin topics add --coin`), by the active model, with "
        "the coin's price and returns at lags -3..+3 periods, prices taken as of each period's end "
        "(`sentiment_price_correlation`); published with the per-topic sentiment aggregates "
        "and the aligned series to `published/analysis.duckdb` for the sentiment service."
    ),
)
def sentiment_price_correlation(store: EcoinStore, settings: EcoinSettings) -> dg.MaterializeResult:
    settings = settings.resolve()
    version = active_version(settings.home)
    db = store.database()
    best: dict[str, dict[str, str]] = {freq: {} for freq in FREQUENCIES}
    series = []
    seeded = seeds(settings)
    for topic, coin in topic_coins(db, seeded).items():
        for freq in FREQUENCIES:
            try:
                aligned, stats = service.correlate(db, coin, topic, version, freq)
            except UserError as exc:  # no posts or no prices for this topic yet
                best[freq][topic] = str(exc)
                continue
            series.append(aligned.assign(coin_id=coin, topic=topic, freq=freq))
            best[freq][topic] = service.best_lag_text(stats, freq)
    now = datetime.now(UTC).replace(tzinfo=None)
    aggregates = [
        service.sentiment_periods(db, topic, version, freq, datetime(1970, 1, 1), now).assign(
            topic=topic, freq=freq
        )
        for topic in active_topics(db, seeded)
        for freq in FREQUENCIES
    ]
    path = publish(
        settings.home,
        pd.concat(aggregates, ignore_index=True),
        pd.concat(series, ignore_index=True) if series else pd.DataFrame(),
        db.query_df("SELECT * FROM sentiment_price_correlation"),
        version,
    )
    return dg.MaterializeResult(
        metadata={
            "model_version": version,
            "best_lag_vs_returns_hourly": dg.MetadataValue.json(best["hour"]),
            "best_lag_vs_returns_daily": dg.MetadataValue.json(best["day"]),
            "published": str(path),
        }
    )


correlation_job = dg.define_asset_job(
    "correlation_job", selection=[prices_hourly, sentiment_price_correlation]
)


correlation_job = dg.define_asset_job(
    "correlation_job", selection=[prices_hourly, sentiment_price_correlation]
)
