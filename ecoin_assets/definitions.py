"""The one Dagster code location (`dagster dev -w workspace.yaml`)."""

import dagster as dg

from ecoin_assets.analysis.assets import (
    analysis_coin_assets,
    correlation_job,
    sentiment_price_correlation,
)
from ecoin_assets.automation import automation_sensor
from ecoin_assets.forecasting.assets import forecasting_assets
from ecoin_assets.forecasting.jobs import forecast_job
from ecoin_assets.prices.assets import analysis_assets, prices, prices_hourly
from ecoin_assets.prices.checks import price_checks
from ecoin_assets.prices.jobs import analysis_job, prices_job
from ecoin_assets.reports.assets import coin_report_job, report_assets, sentiment_report_job
from ecoin_assets.resources import CoinGeckoResource, EcoinStore, XResource
from ecoin_assets.sentiment.assets import sentiment_assets, sentiment_job
from ecoin_assets.tweets.assets import x_posts
from ecoin_assets.tweets.checks import x_posts_freshness_checks, x_posts_freshness_sensor
from ecoin_assets.tweets.sensors import topic_partitions_sensor, x_ingest_job, x_posts_sensor

defs = dg.Definitions(
    assets=[
        prices,
        prices_hourly,
        *analysis_assets,
        *forecasting_assets,
        *analysis_coin_assets,
        x_posts,
        *sentiment_assets,
        sentiment_price_correlation,
        *report_assets,
    ],
    asset_checks=[*price_checks, *x_posts_freshness_checks],
    jobs=[
        prices_job,
        analysis_job,
        forecast_job,
        x_ingest_job,
        sentiment_job,
        correlation_job,
        coin_report_job,
        sentiment_report_job,
    ],
    sensors=[automation_sensor, x_posts_sensor, x_posts_freshness_sensor, topic_partitions_sensor],
    resources={"store": EcoinStore(), "coingecko": CoinGeckoResource(), "x": XResource()},
)
