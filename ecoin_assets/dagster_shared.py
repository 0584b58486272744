"""What several domains' Dagster definitions share: the DuckDB writers' pool, the coin
partitions, the per-coin view of `prices`, and markdown tables for metadata."""

import warnings

import dagster as dg
import pandas as pd

from ecoin_assets.config import load_settings

DUCKDB_POOL = "duckdb"  # one DuckDB writer at a time (limit set in dagster.yaml)

# The coin-dimension mapping from `prices` (coin x day) is marked beta in Dagster 1.13.
warnings.filterwarnings(
    "ignore", message="Class `MultiToSingleDimensionPartitionMapping`", category=dg.BetaWarning
)
# Dagster needs the partition keys when the definitions load, before any resource exists, so
# the coins (ECOIN_COINS) are the one setting read at import; changing them means reloading the
# code location, as with any static partitions.
PARTITION_COINS = load_settings().coins
coin_partitions = dg.StaticPartitionsDefinition(list(PARTITION_COINS))
# a coin's partition depends on every day of that coin's prices
per_coin_prices = dg.AssetDep(
    "prices",
    partition_mapping=dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="coin"),
)


def md_table(frame: pd.DataFrame) -> dg.MetadataValue:
    return dg.MetadataValue.md(frame.to_markdown(index=False, floatfmt=".4g"))
