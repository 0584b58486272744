"""Backfill price partitions through Dagster: one run per coin over a date range."""

from datetime import date

import dagster as dg

PARTITION_RANGE_START = "dagster/asset_partition_range_start"
PARTITION_RANGE_END = "dagster/asset_partition_range_end"
# Runs log to the instance (the UI shows everything); the terminal gets warnings only.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def backfill_prices(
    defs: dg.Definitions, instance: dg.DagsterInstance, coins: list[str], start: date, end: date
) -> list[dg.ExecuteInProcessResult]:
    """Materialize `prices` (and its checks) for each coin's [start, end] in a single run."""
    job = defs.resolve_job_def("daily_prices_job")
    results = []
    for coin in coins:
        results.append(
            job.execute_in_process(
                instance=instance,
                tags={
                    PARTITION_RANGE_START: f"{coin}|{start.isoformat()}",
                    PARTITION_RANGE_END: f"{coin}|{end.isoformat()}",
                    "ecoin/backfill": f"{coin} {start}..{end}",
                },
                run_config=QUIET,
                raise_on_error=False,
            )
        )
    return results


def materialize_analyses(
    defs: dg.Definitions, instance: dg.DagsterInstance
) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def("price_analysis_job").execute_in_process(
        instance=instance, run_config=QUIET, raise_on_error=False
    )


def materialize_forecasts(
    defs: dg.Definitions, instance: dg.DagsterInstance, coins: list[str]
) -> list[dg.ExecuteInProcessResult]:
    """Features, model, backtest and forecasts for each coin (one run per coin)."""
    job = defs.resolve_job_def("forecast_job")
    return [
        job.execute_in_process(
            partition_key=coin, instance=instance, run_config=QUIET, raise_on_error=False
        )
        for coin in coins
    ]
