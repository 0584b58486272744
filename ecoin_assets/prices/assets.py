"""Dagster assets of the price domain: the partitioned `prices` table and the SQL analyses."""

import warnings
from collections.abc import Callable

import dagster as dg
import pandas as pd

from ecoin_assets.automation import (
    AFTER_NEW_INPUTS,
    DAILY_PRICES_CRON,
    HOURLY_PRICES_CRON,
    on_clock,
    stale_after,
)
from ecoin_assets.dagster_shared import DUCKDB_POOL, PARTITION_COINS
from ecoin_assets.prices import analysis
from ecoin_assets.prices.fetch import store_results
from ecoin_assets.prices.partitions import coin_ranges, price_partitions
from ecoin_assets.resources import CoinGeckoResource, EcoinSettings, EcoinStore
from ecoin_assets.storage import Connection

# `backfill_policy` is marked beta in Dagster 1.13; single-run backfills are what we need.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)


@dg.asset(
    partitions_def=price_partitions(PARTITION_COINS),
    backfill_policy=dg.BackfillPolicy.single_run(),
    automation_condition=on_clock(DAILY_PRICES_CRON),
    freshness_policy=stale_after(26, warn_hours=25),
    pool=DUCKDB_POOL,
    group_name="prices",
    kinds={"duckdb", "python"},
    description=(
        "Daily CoinGecko prices (00:00 UTC) per coin and day, in the DuckDB table `prices`. "
        "A backfill runs once per coin and fetches its range in as few "
        "`/market_chart/range` calls as the API allows; every answer is kept as received in "
        "`raw_coingecko_answers`."
    ),
)
def prices(
    context: dg.AssetExecutionContext, store: EcoinStore, coingecko: CoinGeckoResource
) -> dg.MaterializeResult:
    client = coingecko.client()
    ranges = coin_ranges(context.partition_keys)
    results = []
    for coin, spans in ranges.items():
        for start, end in spans:
            result = client.daily_prices(coin, start, end)
            context.log.info(
                f"{coin} {start}..{end}: {len(result.points)} days in "
                f"{result.data_calls} data call(s), {len(result.answers)} answer(s)"
            )
            results.append(result)
    summary = store_results(store.database(), results, source=f"coingecko:{client.host}")
    days_asked = sum((e - s).days + 1 for spans in ranges.values() for s, e in spans)
    return dg.MaterializeResult(
        metadata={
            "coins": ", ".join(ranges),
            "ranges": "; ".join(f"{c} {s}..{e}" for c, spans in ranges.items() for s, e in spans),
            "days_requested": days_asked,
            "days_received": sum(len(r.points) for r in results),
            "inserted": summary.inserted,
            "updated": summary.updated,
            "unchanged": summary.unchanged,
            "data_calls": sum(r.data_calls for r in results),
            "api_answers": sum(len(r.answers) for r in results),
        }
    )


def _table_result(frame: pd.DataFrame, table: str) -> dg.MaterializeResult:
    return dg.MaterializeResult(
        metadata={
            "table": table,
            "dagster/row_count": len(frame),
            "preview": dg.MetadataValue.md(frame.head(20).to_markdown(index=False)),
        }
    )


def _analysis_asset(
    name: str,
    table: str,
    rebuild: Callable[[Connection], pd.DataFrame],
    description: str,
) -> dg.AssetsDefinition:
    """An unpartitioned asset that rebuilds one SQL analysis table from `prices`."""

    @dg.asset(
        name=name,
        deps=[prices],
        automation_condition=AFTER_NEW_INPUTS,
        pool=DUCKDB_POOL,
        group_name="price_analysis",
        kinds={"duckdb"},
        description=f"{description} (table `{table}`).",
    )
    def _asset(store: EcoinStore) -> dg.MaterializeResult:
        with store.database().write() as con:
            frame = rebuild(con)
        return _table_result(frame, table)

    return _asset


monthly_avg_price = _analysis_asset(
    "monthly_avg_price",
    "analysis_monthly_avg_price",
    analysis.rebuild_monthly_average,
    "Average price per coin per calendar month",
)
monthly_price_range = _analysis_asset(
    "monthly_price_range",
    "price_monthly_range",
    analysis.rebuild_monthly_range,
    "Monthly minimum and maximum price per coin, also kept current by every write to `prices`",
)
losing_streak_rebound = _analysis_asset(
    "losing_streak_rebound",
    "analysis_losing_streak_rebound",
    analysis.rebuild_losing_streak_rebound,
    "Per coin, the average price rise in the days after it fell more than 3 days in a row, "
    "with its current market cap",
)
analysis_assets = [monthly_avg_price, monthly_price_range, losing_streak_rebound]


class HourlyPricesConfig(dg.Config):
    days: float = 7.0  # how far back each run refreshes (1..365; CoinGecko serves hourly)


@dg.asset(
    automation_condition=on_clock(HOURLY_PRICES_CRON),
    pool=DUCKDB_POOL,
    group_name="prices",
    kinds={"duckdb"},
    description=(
        "Hourly CoinGecko points of every coin (ECOIN_COINS) over the last `days` days, one "
        "per coin and UTC hour with the instant observed (`prices_hourly`); the hourly "
        "sentiment–price correlation's prices."
    ),
)
def prices_hourly(
    config: HourlyPricesConfig,
    store: EcoinStore,
    coingecko: CoinGeckoResource,
    settings: EcoinSettings,
) -> dg.MaterializeResult:
    from ecoin_assets.prices.hourly import fetch_hourly

    fetched = fetch_hourly(
        store.database(), coingecko.client(), settings.resolve().coins, config.days
    )
    return dg.MaterializeResult(
        metadata={
            "days": config.days,
            "hours_per_coin": {f.coin_id: f.points for f in fetched},
            "api_calls": sum(f.calls for f in fetched),
        }
    )
