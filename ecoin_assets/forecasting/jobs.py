"""The forecast refresh of one coin as a job (features, backtest, model, forecasts, scores and
the model comparison), for runs by hand; the automation sensor runs the same assets when
their inputs are new (ecoin_assets/automation.py)."""

import dagster as dg

from ecoin_assets.forecasting.assets import forecasting_assets

# the analysis domain's per-coin assets by key: analysis builds on forecasting, not back
forecast_job = dg.define_asset_job(
    "forecast_job",
    selection=dg.AssetSelection.assets(*forecasting_assets)
    | dg.AssetSelection.assets("finance_features", "model_comparison"),
)
