"""The forecasting domain's Dagster definitions."""

import dagster as dg

from ecoin_assets.forecasting.assets import forecasting_assets
from ecoin_assets.forecasting.jobs import forecast_job

defs = dg.Definitions(assets=forecasting_assets, jobs=[forecast_job])
