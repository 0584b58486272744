"""Forecast refresh: features, model, backtest, forecasts and the model comparison per coin."""

import dagster as dg

from ecoin_assets.analysis.assets import analysis_coin_assets
from ecoin_assets.forecasting.assets import coin_partitions, forecasting_assets

forecast_job = dg.define_asset_job(
    "forecast_job", selection=[*forecasting_assets, *analysis_coin_assets]
)


@dg.schedule(
    job=forecast_job,
    cron_schedule="0 1 * * *",
    execution_timezone="UTC",
    description="Retrain, backtest and forecast every coin after the day's prices.",
)
def daily_forecast_schedule(context: dg.ScheduleEvaluationContext):
    day = context.scheduled_execution_time.date().isoformat()
    for coin in coin_partitions.get_partition_keys():
        yield dg.RunRequest(run_key=f"{coin}|{day}", partition_key=coin)
