"""SQL analyses, coverage and gaps, partition ranges, freshness and range validation, on small
hand-made price series with known answers."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from ecoin_assets.errors import UserError
from ecoin_assets.prices.analysis import (
    losing_streak_rebound,
    monthly_average,
    monthly_range,
    rebuild_losing_streak_rebound,
    rebuild_monthly_average,
    rebuild_monthly_range,
)
from ecoin_assets.prices.checks import stale_coins
from ecoin_assets.prices.fetch import EARLIEST_DATE, check_range, parse_date
from ecoin_assets.prices.partitions import coin_ranges
from ecoin_assets.prices.status import CoinCoverage, coverage, gaps
from ecoin_assets.prices.store import PRICE_COLUMNS, upsert_prices
from ecoin_assets.storage import Database

T1 = datetime(2024, 6, 1, 8, 0)
T2 = datetime(2024, 6, 2, 8, 0)
D0 = date(2024, 1, 1)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(tmp_path / "ecoin.duckdb")


def series(coin: str, prices: list[float], start: date = D0, caps=None) -> list[tuple]:
    """Consecutive daily rows from `start`."""
    caps = caps or [None] * len(prices)
    return [
        (coin, start + timedelta(days=i), float(p), cap, None)
        for i, (p, cap) in enumerate(zip(prices, caps, strict=True))
    ]


def load(db: Database, *groups: list[tuple], now: datetime = T1) -> None:
    rows = [row for group in groups for row in group]
    with db.write() as con:
        upsert_prices(con, pd.DataFrame(rows, columns=PRICE_COLUMNS), "test", now=now)


def rebound(db: Database, **kw) -> dict[str, dict]:
    with db.read() as con:
        df = losing_streak_rebound(con, **kw)
    return {r["coin_id"]: r for r in df.to_dict("records")}


def isnull(value) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


# --- monthly average -----------------------------------------------------------------------


def test_monthly_average(db: Database) -> None:
    load(
        db,
        series("bitcoin", [10, 20, 30], start=date(2024, 1, 30)),  # Jan 30, 31, Feb 1
        series("bitcoin", [1, 2, 3, 4], start=date(2024, 2, 26)),  # Feb 26..29
        series("ethereum", [5], start=date(2023, 12, 31)),
    )
    with db.read() as con:
        df = monthly_average(con)
    assert list(df.columns) == ["coin_id", "month", "avg_price_usd", "days"]
    got = [(r.coin_id, r.month.date(), r.avg_price_usd, r.days) for r in df.itertuples(index=False)]
    assert got == [
        ("bitcoin", date(2024, 1, 1), 15.0, 2),
        ("bitcoin", date(2024, 2, 1), 8.0, 5),  # (30 + 1 + 2 + 3 + 4) / 5
        ("ethereum", date(2023, 12, 1), 5.0, 1),
    ]


def test_rebuild_monthly_average_writes_table(db: Database) -> None:
    load(db, series("bitcoin", [1, 3], start=date(2024, 3, 31)))
    with db.write() as con:
        frame = rebuild_monthly_average(con)
    assert len(frame) == 2
    assert db.query(
        "SELECT coin_id, month::DATE, avg_price_usd, days FROM analysis_monthly_avg_price "
        "ORDER BY month"
    ) == [("bitcoin", date(2024, 3, 1), 1.0, 1), ("bitcoin", date(2024, 4, 1), 3.0, 1)]


# --- monthly min / max ---------------------------------------------------------------------


MONTHLY = [5, 7, 2, 9, 4] + [3] * 26 + [8, 1, 6]  # Jan 1..31, Feb 1..3


def test_monthly_range(db: Database) -> None:
    load(db, series("bitcoin", MONTHLY), series("ethereum", [50, 40], start=date(2024, 2, 28)))
    with db.read() as con:
        df = monthly_range(con)
    assert list(df.columns) == [
        "coin_id",
        "month",
        "min_price_usd",
        "min_date",
        "max_price_usd",
        "max_date",
        "days",
    ]
    got = [
        tuple(v.date() if isinstance(v, pd.Timestamp) else v for v in row)
        for row in df.itertuples(index=False, name=None)
    ]
    assert got == [
        ("bitcoin", date(2024, 1, 1), 2.0, date(2024, 1, 3), 9.0, date(2024, 1, 4), 31),
        ("bitcoin", date(2024, 2, 1), 1.0, date(2024, 2, 2), 8.0, date(2024, 2, 1), 3),
        ("ethereum", date(2024, 2, 1), 40.0, date(2024, 2, 29), 50.0, date(2024, 2, 28), 2),
    ]


def test_rebuild_monthly_range_equals_incremental_table(db: Database) -> None:
    load(db, series("bitcoin", MONTHLY), series("ethereum", [50, 40], start=date(2024, 2, 28)))
    incremental = db.query("SELECT * EXCLUDE (updated_at) FROM price_monthly_range ORDER BY ALL")
    with db.write() as con:
        con.execute("DELETE FROM price_monthly_range")
        rebuild_monthly_range(con)
    assert (
        db.query("SELECT * EXCLUDE (updated_at) FROM price_monthly_range ORDER BY ALL")
        == incremental
    )


def test_rebuild_monthly_range_drops_coins_without_prices(db: Database) -> None:
    load(db, series("bitcoin", [1, 2]), series("ethereum", [3]))
    with db.write() as con:
        con.execute("DELETE FROM prices WHERE coin_id = 'ethereum'")
        rebuild_monthly_range(con)
    assert db.query("SELECT DISTINCT coin_id FROM price_monthly_range") == [("bitcoin",)]


def test_rebuild_monthly_range_drops_months_without_prices(db: Database) -> None:
    load(db, series("bitcoin", [1, 2], start=date(2024, 1, 31)))  # Jan 31, Feb 1
    with db.write() as con:
        con.execute("DELETE FROM prices WHERE date = DATE '2024-01-31'")
        rebuild_monthly_range(con)
    assert db.query("SELECT month FROM price_monthly_range") == [(date(2024, 2, 1),)]


# --- losing-streak rebound -----------------------------------------------------------------


def test_rebound_streak_of_four_falls_is_one_event(db: Database) -> None:
    load(db, series("bitcoin", [10, 9, 8, 7, 6, 7]))
    r = rebound(db)["bitcoin"]
    assert r["events"] == 1
    assert r["avg_next_day_rise_usd"] == pytest.approx(1.0)
    assert r["avg_next_day_rise_pct"] == pytest.approx(100 / 6)  # +16.67 %
    assert round(r["avg_next_day_rise_pct"], 2) == 16.67
    assert r["share_next_day_up"] == pytest.approx(1.0)
    # Not enough days after the event for the 3- and 7-day views.
    assert isnull(r["avg_3_day_rise_pct"])
    assert isnull(r["avg_7_day_rise_pct"])


def test_rebound_three_and_seven_day_views(db: Database) -> None:
    # Falls Jan 2..5 (streak 4 on Jan 5 at 6), then rises 7, 8, 9, 10, 11, 12, 13.
    load(db, series("bitcoin", [10, 9, 8, 7, 6, 7, 8, 9, 10, 11, 12, 13]))
    r = rebound(db)["bitcoin"]
    assert r["events"] == 1
    assert r["avg_next_day_rise_pct"] == pytest.approx(100 / 6)
    assert r["avg_3_day_rise_pct"] == pytest.approx(50.0)  # 6 -> 9
    assert r["avg_7_day_rise_pct"] == pytest.approx(100 * 7 / 6)  # 6 -> 13


def test_rebound_streak_of_exactly_three_falls_is_no_event(db: Database) -> None:
    load(db, series("bitcoin", [10, 9, 8, 7, 8, 9]))
    r = rebound(db)["bitcoin"]
    assert r["events"] == 0
    # ... but it is one with a lower threshold.
    r2 = rebound(db, min_streak=2)["bitcoin"]
    assert r2["events"] == 1
    assert r2["avg_next_day_rise_usd"] == pytest.approx(1.0)


def test_rebound_streak_of_five_falls_is_two_events(db: Database) -> None:
    # Streak 4 ends at 6 (next day 5: -1, -16.67 %), streak 5 ends at 5 (next day 6: +1, +20 %).
    load(db, series("bitcoin", [10, 9, 8, 7, 6, 5, 6]))
    r = rebound(db)["bitcoin"]
    assert r["events"] == 2
    assert r["avg_next_day_rise_usd"] == pytest.approx(0.0)
    assert r["avg_next_day_rise_pct"] == pytest.approx((-100 / 6 + 20) / 2)
    assert r["share_next_day_up"] == pytest.approx(0.5)


def test_rebound_two_separate_streaks(db: Database) -> None:
    # Streak 4 ending at 6 (-> 8: +2), flat day, streak 4 ending at 4 (-> 5: +1).
    load(db, series("bitcoin", [10, 9, 8, 7, 6, 8, 8, 7, 6, 5, 4, 5]))
    r = rebound(db)["bitcoin"]
    assert r["events"] == 2
    assert r["avg_next_day_rise_usd"] == pytest.approx(1.5)
    assert r["avg_next_day_rise_pct"] == pytest.approx((100 * 2 / 6 + 100 / 4) / 2)


def test_rebound_equal_price_breaks_a_streak(db: Database) -> None:
    # 10 9 8 8 7 6 5 6: the repeated 8 is no fall, so the streaks are 2 and 3 long.
    load(db, series("bitcoin", [10, 9, 8, 8, 7, 6, 5, 6]))
    assert rebound(db)["bitcoin"]["events"] == 0


def test_rebound_gap_in_dates_breaks_a_streak(db: Database) -> None:
    prices = [10, 9, 8, 7, 6, 5, 6]
    contiguous = series("bitcoin", prices)
    # Same prices, but Jan 4 is missing: 10 9 8 | 7 6 5 6 (falls 2, then 2 after the gap).
    with_gap = [
        (c, d + timedelta(days=1 if i >= 3 else 0), p, m, v)
        for i, (c, d, p, m, v) in enumerate(series("ethereum", prices))
    ]
    load(db, contiguous, with_gap)
    result = rebound(db)
    assert result["bitcoin"]["events"] == 2
    assert result["ethereum"]["events"] == 0


def test_rebound_missing_next_day_gives_no_rise(db: Database) -> None:
    # Streak 4 ends at 6 on Jan 5, but the next stored day is Jan 7: no next-day rise.
    rows = [*series("bitcoin", [10, 9, 8, 7, 6]), ("bitcoin", date(2024, 1, 7), 9.0, None, None)]
    load(db, rows)
    r = rebound(db)["bitcoin"]
    assert r["events"] == 0
    assert isnull(r["avg_next_day_rise_usd"])


def test_rebound_coin_without_events_is_listed_with_nulls(db: Database) -> None:
    load(db, series("bitcoin", [10, 9, 8, 7, 6, 7]), series("cardano", [1, 2, 1, 2, 1]))
    result = rebound(db)
    assert list(result) == ["bitcoin", "cardano"]
    r = result["cardano"]
    assert r["events"] == 0
    for col in (
        "avg_next_day_rise_usd",
        "avg_next_day_rise_pct",
        "avg_3_day_rise_pct",
        "avg_7_day_rise_pct",
        "share_next_day_up",
        "current_market_cap_usd",
        "market_cap_date",
    ):
        assert isnull(r[col]), col


def test_rebound_coins_do_not_share_streaks(db: Database) -> None:
    # One after the other these would read 10 9 8 7 6 5 6 on consecutive days (2 events), but
    # a falls twice (Jan 2, 3) and b falls twice (Jan 5, 6): its first day has no predecessor.
    load(db, series("a", [10, 9, 8]), series("b", [7, 6, 5, 6], start=date(2024, 1, 4)))
    result = rebound(db)
    assert result["a"]["events"] == 0
    assert result["b"]["events"] == 0


def test_rebound_current_market_cap_is_latest_non_null(db: Database) -> None:
    load(
        db,
        series("bitcoin", [10, 9, 8, 7, 6, 7], caps=[100.0, 90.0, 300.0, 70.0, 60.0, None]),
        series("ethereum", [1, 2, 3], caps=[5.0, None, None]),
    )
    result = rebound(db)
    assert result["bitcoin"]["current_market_cap_usd"] == 60.0
    assert pd.Timestamp(result["bitcoin"]["market_cap_date"]).date() == date(2024, 1, 5)
    assert result["ethereum"]["current_market_cap_usd"] == 5.0
    assert pd.Timestamp(result["ethereum"]["market_cap_date"]).date() == D0
    # The market cap does not multiply with the events.
    assert result["bitcoin"]["events"] == 1


def test_rebuild_losing_streak_rebound_writes_table(db: Database) -> None:
    load(db, series("bitcoin", [10, 9, 8, 7, 6, 7]), series("cardano", [1, 2]))
    with db.write() as con:
        frame = rebuild_losing_streak_rebound(con)
    assert list(frame["coin_id"]) == ["bitcoin", "cardano"]
    assert db.query(
        "SELECT coin_id, events FROM analysis_losing_streak_rebound ORDER BY coin_id"
    ) == [("bitcoin", 1), ("cardano", 0)]


def test_rebound_on_empty_table(db: Database) -> None:
    with db.read() as con:
        assert losing_streak_rebound(con).empty


# --- coverage and gaps ---------------------------------------------------------------------


def test_coverage_and_gaps_with_holes(db: Database) -> None:
    holey = [
        r
        for r in series("bitcoin", list(range(1, 11)))  # Jan 1..10
        if r[1] not in (date(2024, 1, 4), date(2024, 1, 5), date(2024, 1, 8))
    ]
    load(db, holey, series("ethereum", [1, 2, 3]), now=T1)
    load(db, series("ethereum", [1, 2, 4]), now=T2)  # updates ethereum's Jan 3 only
    with db.read() as con:
        cov = coverage(con)
        found = gaps(con)
        only_eth = coverage(con, ["ethereum", "solana"])
    assert cov == [
        CoinCoverage("bitcoin", D0, date(2024, 1, 10), 7, 3, T1),
        CoinCoverage("ethereum", D0, date(2024, 1, 3), 3, 0, T2),
    ]
    assert found == [
        ("bitcoin", date(2024, 1, 4), date(2024, 1, 5)),
        ("bitcoin", date(2024, 1, 8), date(2024, 1, 8)),
    ]
    assert only_eth == [cov[1]]
    assert cov[0].as_json() == {
        "coin_id": "bitcoin",
        "first_date": "2024-01-01",
        "last_date": "2024-01-10",
        "rows": 7,
        "missing_days": 3,
        "last_update": "2024-06-01T08:00:00",
    }


def test_coverage_and_gaps_on_empty_table(db: Database) -> None:
    with db.read() as con:
        assert coverage(con) == []
        assert gaps(con) == []


# --- partitions ----------------------------------------------------------------------------


def test_coin_ranges_from_strings() -> None:
    keys = [
        "bitcoin|2024-01-05",
        "bitcoin|2024-01-01",
        "bitcoin|2024-01-02",
        "ethereum|2024-01-03",
        "bitcoin|2024-01-03",
        "bitcoin|2024-01-02",  # repeated
        "bitcoin|2024-01-07",
        "bitcoin|2024-01-06",
    ]
    assert coin_ranges(keys) == {
        "bitcoin": [(date(2024, 1, 1), date(2024, 1, 3)), (date(2024, 1, 5), date(2024, 1, 7))],
        "ethereum": [(date(2024, 1, 3), date(2024, 1, 3))],
    }


def test_coin_ranges_from_multi_partition_keys_and_across_years() -> None:
    keys = [
        dg.MultiPartitionKey({"coin": "solana", "date": "2024-01-01"}),
        dg.MultiPartitionKey({"date": "2023-12-31", "coin": "solana"}),
        "solana|2024-03-01",
        dg.MultiPartitionKey({"coin": "solana", "date": "2024-02-29"}),
        dg.MultiPartitionKey({"coin": "cardano", "date": "2024-02-28"}),
        "cardano|2024-03-01",
    ]
    result = coin_ranges(keys)
    assert list(result) == ["cardano", "solana"]
    assert result == {
        "cardano": [(date(2024, 2, 28), date(2024, 2, 28)), (date(2024, 3, 1), date(2024, 3, 1))],
        "solana": [(date(2023, 12, 31), date(2024, 1, 1)), (date(2024, 2, 29), date(2024, 3, 1))],
    }


def test_coin_ranges_empty() -> None:
    assert coin_ranges([]) == {}


# --- freshness -----------------------------------------------------------------------------


def test_stale_coins() -> None:
    today = date(2024, 6, 10)
    latest = {
        "bitcoin": today,
        "ethereum": date(2024, 6, 9),
        "cardano": date(2024, 6, 8),
        "unlisted": date(2020, 1, 1),
    }
    coins = ["bitcoin", "ethereum", "cardano", "solana"]
    assert stale_coins(latest, coins, today) == {"cardano": "2024-06-08", "solana": "no rows"}
    assert stale_coins(latest, coins, today, max_age_days=0) == {
        "ethereum": "2024-06-09",
        "cardano": "2024-06-08",
        "solana": "no rows",
    }
    assert stale_coins(latest, coins, today, max_age_days=2) == {"solana": "no rows"}
    assert stale_coins(latest, [], today) == {}


# --- dates and ranges ----------------------------------------------------------------------


def test_parse_date() -> None:
    assert parse_date("2024-01-31") == date(2024, 1, 31)
    assert parse_date(" 2024-02-29\n") == date(2024, 2, 29)


@pytest.mark.parametrize(
    "text", ["2024-02-30", "2023-02-29", "31/01/2024", "2024-1-32", "", "yesterday", "2024-01"]
)
def test_parse_date_malformed(text: str) -> None:
    with pytest.raises(UserError) as info:
        parse_date(text, "--start")
    assert str(info.value) == f"invalid --start {text!r}: use YYYY-MM-DD, e.g. 2024-01-31"


def test_check_range_valid() -> None:
    today = date(2024, 6, 10)
    assert check_range(date(2024, 1, 1), date(2024, 6, 10), today) == (
        date(2024, 1, 1),
        date(2024, 6, 10),
    )
    assert check_range(date(2024, 6, 9), None, today) == (date(2024, 6, 9), date(2024, 6, 9))
    assert check_range(EARLIEST_DATE, EARLIEST_DATE, today) == (EARLIEST_DATE, EARLIEST_DATE)


def test_check_range_reversed() -> None:
    with pytest.raises(UserError, match="reversed: --end 2024-01-01 is before --start 2024-01-02"):
        check_range(date(2024, 1, 2), date(2024, 1, 1), date(2024, 6, 10))


def test_check_range_future_end() -> None:
    today = date(2024, 6, 10)
    with pytest.raises(UserError, match=r"--end 2024-06-11 is in the future \(today is 2024-06-10"):
        check_range(date(2024, 6, 1), date(2024, 6, 11), today)
    # A start in the future with no end is a future end.
    with pytest.raises(UserError, match="in the future"):
        check_range(date(2024, 7, 1), None, today)


def test_check_range_before_earliest() -> None:
    with pytest.raises(UserError, match="before 2009-01-03"):
        check_range(date(2009, 1, 2), date(2009, 1, 10), date(2024, 6, 10))
