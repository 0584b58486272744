"""The coin × day partitions of the price assets, and turning a run's keys into API ranges."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta

import dagster as dg

HISTORY_START = "2019-01-01"


def price_partitions(coins: Iterable[str]) -> dg.MultiPartitionsDefinition:
    """Coins (static) × UTC days since 2019-01-01, today included."""
    return dg.MultiPartitionsDefinition(
        {
            "coin": dg.StaticPartitionsDefinition(list(coins)),
            "date": dg.DailyPartitionsDefinition(
                start_date=HISTORY_START, end_offset=1, timezone="UTC"
            ),
        }
    )


def coin_ranges(keys: Iterable[str | dg.MultiPartitionKey]) -> dict[str, list[tuple[date, date]]]:
    """Group `coin|date` keys into per-coin runs of consecutive days (sorted)."""
    days: dict[str, set[date]] = defaultdict(set)
    for key in keys:
        dims = (
            key.keys_by_dimension
            if isinstance(key, dg.MultiPartitionKey)
            else dict(zip(("coin", "date"), str(key).split("|"), strict=True))
        )
        days[dims["coin"]].add(date.fromisoformat(dims["date"]))
    ranges: dict[str, list[tuple[date, date]]] = {}
    for coin, ds in sorted(days.items()):
        ordered = sorted(ds)
        spans = [[ordered[0], ordered[0]]]
        for d in ordered[1:]:
            if d == spans[-1][1] + timedelta(days=1):
                spans[-1][1] = d
            else:
                spans.append([d, d])
        ranges[coin] = [(a, b) for a, b in spans]
    return ranges
