"""Asset checks on the `prices` table: no gaps, no duplicates, positive values, freshness."""

from datetime import date, timedelta

import dagster as dg

from ecoin_assets.prices.assets import prices
from ecoin_assets.prices.status import coverage, gaps
from ecoin_assets.resources import EcoinSettings, EcoinStore
from ecoin_assets.sources.coingecko import utc_today

FRESHNESS_DAYS = 1  # the newest point may be yesterday's 00:00 UTC, not older


@dg.asset_check(
    asset=prices, description="Every coin has a row for every day between its first and last date."
)
def prices_no_gaps(store: EcoinStore) -> dg.AssetCheckResult:
    with store.database().read() as con:
        found = gaps(con)
    missing = sum((end - start).days + 1 for _, start, end in found)
    return dg.AssetCheckResult(
        passed=not found,
        metadata={
            "missing_days": missing,
            "gaps": "; ".join(f"{c} {s}..{e}" for c, s, e in found[:20]) or "none",
        },
    )


@dg.asset_check(
    asset=prices,
    blocking=True,
    description="No (coin, date) appears twice (blocking: nothing downstream runs on them).",
)
def prices_no_duplicates(store: EcoinStore) -> dg.AssetCheckResult:
    with store.database().read() as con:
        dupes = con.execute("""
            SELECT coin_id, date, count(*) FROM prices GROUP BY coin_id, date HAVING count(*) > 1
        """).fetchall()
    return dg.AssetCheckResult(passed=not dupes, metadata={"duplicate_keys": len(dupes)})


@dg.asset_check(
    asset=prices,
    blocking=True,
    description="Prices are positive; market caps and volumes are not negative (blocking: "
    "nothing downstream runs on them).",
)
def prices_positive(store: EcoinStore) -> dg.AssetCheckResult:
    with store.database().read() as con:
        (bad,) = con.execute("""
            SELECT count(*) FROM prices
            WHERE NOT (price_usd > 0) OR market_cap_usd < 0 OR volume_usd < 0
               OR price_usd IN (CAST('NaN' AS DOUBLE PRECISION),
                                CAST('Infinity' AS DOUBLE PRECISION),
                                CAST('-Infinity' AS DOUBLE PRECISION))
        """).fetchone()
    return dg.AssetCheckResult(passed=bad == 0, metadata={"bad_rows": bad})


def stale_coins(
    latest: dict[str, date], coins: list[str], today: date, max_age_days: int = FRESHNESS_DAYS
) -> dict[str, str]:
    """Coins whose newest row is older than `max_age_days` (or that have none)."""
    limit = today - timedelta(days=max_age_days)
    return {
        c: (str(latest[c]) if c in latest else "no rows")
        for c in coins
        if c not in latest or latest[c] < limit
    }


@dg.asset_check(asset=prices, description="Every configured coin has yesterday's or today's price.")
def prices_fresh(store: EcoinStore, settings: EcoinSettings) -> dg.AssetCheckResult:
    with store.database().read() as con:
        latest = {c.coin_id: c.last_date for c in coverage(con)}
    stale = stale_coins(latest, list(settings.resolve().coins), utc_today())
    return dg.AssetCheckResult(
        passed=not stale,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"stale": ", ".join(f"{c} (last {d})" for c, d in stale.items()) or "none"},
    )


price_checks = [prices_no_gaps, prices_no_duplicates, prices_positive, prices_fresh]
