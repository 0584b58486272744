"""Daily schedules: today's 00:00 UTC price for every coin, then the SQL analyses."""

import dagster as dg

from ecoin_assets.prices.assets import analysis_assets, prices

prices_job = dg.define_asset_job("daily_prices_job", selection=[prices])
analysis_job = dg.define_asset_job("price_analysis_job", selection=analysis_assets)


@dg.schedule(
    job=prices_job,
    cron_schedule="15 0 * * *",
    execution_timezone="UTC",
    description="Fetch the day's 00:00 UTC price of every coin (one run per coin).",
)
def daily_prices_schedule(context: dg.ScheduleEvaluationContext):
    day = context.scheduled_execution_time.date().isoformat()
    coins = prices.partitions_def.get_partitions_def_for_dimension("coin").get_partition_keys()
    for coin in coins:
        yield dg.RunRequest(
            run_key=f"{coin}|{day}",
            partition_key=dg.MultiPartitionKey({"coin": coin, "date": day}),
        )


daily_analysis_schedule = dg.ScheduleDefinition(
    name="daily_analysis_schedule",
    job=analysis_job,
    cron_schedule="45 0 * * *",
    execution_timezone="UTC",
    description="Rebuild the SQL analyses after the day's prices are in.",
)
