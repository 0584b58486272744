"""The prices domain's Dagster definitions."""

import dagster as dg

from ecoin_assets.prices.assets import analysis_assets, prices, prices_hourly
from ecoin_assets.prices.checks import price_checks
from ecoin_assets.prices.jobs import daily_prices_job, price_analysis_job

defs = dg.Definitions(
    assets=[prices, prices_hourly, *analysis_assets],
    asset_checks=price_checks,
    jobs=[daily_prices_job, price_analysis_job],
)
