"""Jobs over the price assets, for runs by hand (the UI, `ecoin demo`); the automation sensor
runs the same assets by their conditions (ecoin_assets/automation.py)."""

import dagster as dg

from ecoin_assets.prices.assets import analysis_assets, prices

daily_prices_job = dg.define_asset_job("daily_prices_job", selection=[prices])
price_analysis_job = dg.define_asset_job("price_analysis_job", selection=analysis_assets)
