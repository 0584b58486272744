"""The CoinGecko sandbox over real HTTP: endpoints, granularity, plans, limits and faults."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest
import requests

from ecoin_assets.sources.sandbox.coingecko import CoinGeckoSandbox
from ecoin_assets.sources.sandbox.faults import FAULT_KINDS, FaultConfig, FaultInjector
from ecoin_assets.sources.sandbox.market import (
    COINS,
    EPOCH,
    MarketSimulator,
    midnight_ms,
)

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
FIVE_MIN_MS = 300_000
#: the sandbox's "now" in tests that need one fixed (a Saturday afternoon, off the minute)
NOW = datetime(2024, 6, 15, 12, 34, 56, 789_000, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
TODAY = NOW.date()
#: `to` of a range that reaches `NOW` (clients send whole seconds)
NOW_TO_MS = (NOW_MS // 1000 + 1) * 1000
#: `NOW` truncated to the second: a `to` that stops just short of now
NOW_S_MS = NOW_MS // 1000 * 1000
TIMEOUT = 10


def fixed_clock() -> float:
    return NOW_MS / 1000


def get(server: CoinGeckoSandbox, path: str, headers: dict | None = None, **params):
    return requests.get(
        f"{server.api_url}/{path.lstrip('/')}", params=params, headers=headers, timeout=TIMEOUT
    )


def chart_range(server: CoinGeckoSandbox, coin: str, from_ms: int, to_ms: int, **kw):
    return get(
        server,
        f"coins/{coin}/market_chart/range",
        vs_currency="usd",
        # whole seconds, as clients send them; `from_ms`/`to_ms` are multiples of 1000 here
        **{"from": str(from_ms // 1000), "to": str(to_ms // 1000)},
        **kw,
    )


def stamps(body: dict) -> list[int]:
    ts = [row[0] for row in body["prices"]]
    assert (
        ts == [row[0] for row in body["market_caps"]] == [row[0] for row in body["total_volumes"]]
    )
    return ts


def gaps(ts: list[int]) -> set[int]:
    """The distinct spacings between successive timestamps."""
    return {b - a for a, b in pairwise(ts)}


@pytest.fixture
def fixed(sandbox_factory) -> CoinGeckoSandbox:
    """A sandbox whose clock stands still at `NOW`."""
    return sandbox_factory(clock=fixed_clock)


# -- basic endpoints ------------------------------------------------------------------------
def test_ping(sandbox):
    r = get(sandbox, "ping")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {"gecko_says": "(V3) To the Moon!"}


def test_coins_list(sandbox):
    r = get(sandbox, "coins/list")
    assert r.status_code == 200
    body = r.json()
    assert body == [{"id": c.id, "symbol": c.symbol, "name": c.name} for c in COINS]
    assert {"id": "bitcoin", "symbol": "btc", "name": "Bitcoin"} in body


@pytest.mark.parametrize(
    "path",
    [
        "coins/nosuchcoin/market_chart/range?vs_currency=usd&from=1700000000&to=1710000000",
        "coins/nosuchcoin/market_chart?vs_currency=usd&days=30",
        "coins/nosuchcoin/history?date=01-03-2023",
    ],
)
def test_unknown_coin_is_404(sandbox, path):
    r = requests.get(f"{sandbox.api_url}/{path}", timeout=TIMEOUT)
    assert r.status_code == 404
    assert r.json() == {"error": "coin not found"}
    assert sandbox.stats["status:404"] == 1


@pytest.mark.parametrize("path", ["nothing", "coins/bitcoin/tickers", "coins/bitcoin"])
def test_unknown_path_is_404(sandbox, path):
    r = get(sandbox, path)
    assert r.status_code == 404
    assert r.json() == {"error": "Not Found"}


def test_outside_api_prefix_is_404(sandbox):
    r = requests.get(f"{sandbox.url}/ping", timeout=TIMEOUT)
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "1700000000", "to": "1710000000"}, "Missing parameter vs_currency"),
        ({"vs_currency": "xyz", "from": "1700000000", "to": "1710000000"}, "invalid vs_currency"),
        ({"vs_currency": "usd", "to": "1710000000"}, "Missing parameter from"),
        ({"vs_currency": "usd", "from": "1700000000"}, "Missing parameter to"),
        ({"vs_currency": "usd", "from": "soon", "to": "1710000000"}, "Invalid value for from"),
    ],
)
def test_range_bad_parameters_are_400(sandbox, params, message):
    r = get(sandbox, "coins/bitcoin/market_chart/range", **params)
    assert r.status_code == 400
    assert message in r.json()["error"]


def test_post_to_api_is_405(sandbox):
    r = requests.post(f"{sandbox.api_url}/ping", timeout=TIMEOUT)
    assert r.status_code == 405


# -- granularity of /coins/{id}/market_chart/range -------------------------------------------
def test_range_over_90_days_is_daily_at_midnight_plus_now(fixed):
    start = date(2024, 1, 1)
    from_ms = midnight_ms(start) + 5 * HOUR_MS  # off midnight: the first point is the next day
    r = chart_range(fixed, "bitcoin", from_ms, NOW_TO_MS)
    assert r.status_code == 200
    ts = stamps(r.json())
    daily, live = ts[:-1], ts[-1]
    assert all(t % DAY_MS == 0 for t in daily)
    assert gaps(daily) == {DAY_MS}
    assert daily[0] == midnight_ms(start + timedelta(days=1))
    assert daily[-1] == midnight_ms(TODAY)
    assert live == NOW_MS  # the live "now" point
    assert live % DAY_MS != 0


def test_range_over_90_days_in_the_past_has_only_midnights(fixed):
    start, end = date(2021, 1, 1), date(2023, 12, 31)
    r = chart_range(fixed, "ethereum", midnight_ms(start), midnight_ms(end) + HOUR_MS)
    body = r.json()
    ts = stamps(body)
    assert all(t % DAY_MS == 0 for t in ts)
    assert len(ts) == len(set(ts)) == (end - start).days + 1
    days = [datetime.fromtimestamp(t / 1000, tz=UTC).date() for t in ts]
    assert days == [start + timedelta(days=i) for i in range(len(ts))]
    for (t, price), (_, cap), (_, vol) in zip(
        body["prices"][::200],
        body["market_caps"][::200],
        body["total_volumes"][::200],
        strict=True,
    ):
        point = fixed.market.daily("ethereum", datetime.fromtimestamp(t / 1000, tz=UTC).date())
        assert (price, cap, vol) == (point.price, point.market_cap, point.volume)


def test_range_just_over_90_days_is_daily(fixed):
    end = midnight_ms(date(2024, 3, 1))
    r = chart_range(fixed, "bitcoin", end - 90 * DAY_MS - 1000, end)
    ts = stamps(r.json())
    assert all(t % DAY_MS == 0 for t in ts)
    assert len(ts) == 91  # both ends are midnights


@pytest.mark.parametrize("span_days", [2, 30, 90])
def test_range_of_2_to_90_days_is_hourly(fixed, span_days):
    to_ms = NOW_S_MS - 3 * DAY_MS
    r = chart_range(fixed, "bitcoin", to_ms - span_days * DAY_MS, to_ms)
    ts = stamps(r.json())
    assert gaps(ts) == {HOUR_MS}
    assert span_days * 24 - 1 <= len(ts) <= span_days * 24 + 1
    assert all(t % 60_000 != 0 for t in ts)  # like the real API, off the minute
    assert ts[-1] <= to_ms


def test_hourly_range_reaching_now_ends_with_the_live_point(fixed):
    r = chart_range(fixed, "bitcoin", NOW_S_MS - 10 * DAY_MS, NOW_TO_MS)
    ts = stamps(r.json())
    assert gaps(ts[:-1]) == {HOUR_MS}
    assert ts[-1] == NOW_MS
    assert 0 < ts[-1] - ts[-2] <= HOUR_MS


def test_range_of_one_day_reaching_now_is_five_minutely(fixed):
    r = chart_range(fixed, "solana", NOW_TO_MS - DAY_MS, NOW_TO_MS)
    ts = stamps(r.json())
    assert gaps(ts[:-1]) == {FIVE_MIN_MS}
    assert len(ts) in (288, 289)
    assert ts[-1] == NOW_MS
    assert 0 < ts[-1] - ts[-2] <= FIVE_MIN_MS


def test_range_of_one_day_long_ago_is_hourly(fixed):
    to_ms = NOW_S_MS - 30 * DAY_MS
    r = chart_range(fixed, "bitcoin", to_ms - DAY_MS, to_ms)
    ts = stamps(r.json())
    assert gaps(ts) == {HOUR_MS}
    assert len(ts) == 24


def test_intraday_points_agree_with_daily_closes(fixed):
    """The Brownian bridge starts at the day's daily value."""
    day = date(2024, 3, 1)
    r = chart_range(fixed, "bitcoin", midnight_ms(day) - 1000, midnight_ms(day) + 2 * DAY_MS)
    prices = r.json()["prices"]
    assert prices[0][0] == midnight_ms(day) + 37_000
    daily = fixed.market.daily("bitcoin", day).price
    assert prices[0][1] == pytest.approx(daily, rel=0.05)


def test_range_before_the_simulation_starts_is_empty(fixed):
    r = chart_range(fixed, "bitcoin", midnight_ms(date(2017, 1, 1)), midnight_ms(date(2018, 6, 1)))
    assert r.status_code == 200
    assert r.json() == {"prices": [], "market_caps": [], "total_volumes": []}


def test_range_accepts_iso_dates(fixed):
    r = get(
        fixed,
        "coins/bitcoin/market_chart/range",
        vs_currency="usd",
        **{"from": "2023-01-01", "to": "2023-06-01T00:00:00Z"},
    )
    ts = stamps(r.json())
    assert ts[0] == midnight_ms(date(2023, 1, 1))
    assert ts[-1] == midnight_ms(date(2023, 6, 1))


def test_range_precision_rounds_values(fixed):
    r = chart_range(
        fixed,
        "cardano",
        midnight_ms(date(2023, 1, 1)),
        midnight_ms(date(2023, 6, 1)),
        precision="2",
    )
    for _, price in r.json()["prices"]:
        assert price == round(price, 2)


# -- /coins/{id}/market_chart?days=N ---------------------------------------------------------
def test_market_chart_one_day_is_five_minutely(fixed):
    ts = stamps(get(fixed, "coins/bitcoin/market_chart", vs_currency="usd", days="1").json())
    assert gaps(ts[:-1]) == {FIVE_MIN_MS}
    assert ts[-1] == NOW_MS
    assert ts[0] >= NOW_MS - DAY_MS


def test_market_chart_thirty_days_is_hourly(fixed):
    ts = stamps(get(fixed, "coins/bitcoin/market_chart", vs_currency="usd", days="30").json())
    assert gaps(ts[:-1]) == {HOUR_MS}
    assert 30 * 24 - 1 <= len(ts) - 1 <= 30 * 24 + 1
    assert ts[-1] == NOW_MS


@pytest.mark.parametrize(("days", "interval"), [("365", None), ("30", "daily")])
def test_market_chart_daily(fixed, days, interval):
    params = {"vs_currency": "usd", "days": days}
    if interval:
        params["interval"] = interval
    ts = stamps(get(fixed, "coins/ethereum/market_chart", **params).json())
    assert all(t % DAY_MS == 0 for t in ts[:-1])
    assert gaps(ts[:-1]) == {DAY_MS}
    assert len(ts) - 1 == int(days)
    assert ts[-2] == midnight_ms(TODAY)
    assert ts[-1] == NOW_MS


def test_market_chart_max_starts_at_the_first_day(fixed):
    ts = stamps(get(fixed, "coins/bitcoin/market_chart", vs_currency="usd", days="max").json())
    assert ts[0] == midnight_ms(EPOCH)
    assert len(ts) - 1 == (TODAY - EPOCH).days + 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"vs_currency": "usd"}, "Missing parameter days"),
        ({"vs_currency": "usd", "days": "many"}, "Invalid value for days"),
        ({"days": "30"}, "Missing parameter vs_currency"),
    ],
)
def test_market_chart_bad_parameters(fixed, params, message):
    r = get(fixed, "coins/bitcoin/market_chart", **params)
    assert r.status_code == 400
    assert message in r.json()["error"]


# -- /coins/{id}/history and /simple/price ---------------------------------------------------
def test_history_shape(fixed):
    r = get(fixed, "coins/bitcoin/history", date="15-03-2023")
    assert r.status_code == 200
    body = r.json()
    point = fixed.market.daily("bitcoin", date(2023, 3, 15))
    assert body == {
        "id": "bitcoin",
        "symbol": "btc",
        "name": "Bitcoin",
        "market_data": {
            "current_price": {"usd": point.price},
            "market_cap": {"usd": point.market_cap},
            "total_volume": {"usd": point.volume},
        },
    }


@pytest.mark.parametrize("day", ["31-12-2018", "16-06-2024"])
def test_history_outside_the_market_has_no_market_data(fixed, day):
    body = get(fixed, "coins/ethereum/history", date=day).json()
    assert body == {"id": "ethereum", "symbol": "eth", "name": "Ethereum"}


@pytest.mark.parametrize(
    ("params", "message"),
    [({}, "Missing parameter date"), ({"date": "2023-03-15"}, "invalid date")],
)
def test_history_bad_date(fixed, params, message):
    r = get(fixed, "coins/bitcoin/history", **params)
    assert r.status_code == 400
    assert r.json() == {"error": message}


def test_simple_price(fixed):
    r = get(
        fixed,
        "simple/price",
        ids="bitcoin,ethereum,nosuchcoin",
        vs_currencies="usd,eur",
        include_market_cap="true",
        include_24hr_vol="true",
        include_24hr_change="true",
        include_last_updated_at="true",
    )
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"bitcoin", "ethereum"}
    now, before = fixed.market.at("bitcoin", NOW_MS), fixed.market.at("bitcoin", NOW_MS - DAY_MS)
    assert body["bitcoin"] == {
        "usd": now.price,
        "usd_market_cap": now.market_cap,
        "usd_24h_vol": now.volume,
        "usd_24h_change": pytest.approx((now.price / before.price - 1) * 100),
        "last_updated_at": NOW_MS // 1000,
    }


def test_simple_price_plain(fixed):
    body = get(fixed, "simple/price", ids="dogecoin", vs_currencies="usd").json()
    assert body == {"dogecoin": {"usd": fixed.market.at("dogecoin", NOW_MS).price}}
    assert get(fixed, "simple/price", ids="dogecoin", vs_currencies="eur").json() == {}


@pytest.mark.parametrize(
    ("params", "message"),
    [({"vs_currencies": "usd"}, "Missing parameter ids"), ({"ids": "bitcoin"}, "vs_currencies")],
)
def test_simple_price_bad_parameters(fixed, params, message):
    r = get(fixed, "simple/price", **params)
    assert r.status_code == 400
    assert message in r.json()["error"]


# -- determinism ----------------------------------------------------------------------------
def _year_of_prices(server: CoinGeckoSandbox, coin: str) -> list:
    r = chart_range(server, coin, midnight_ms(date(2022, 1, 1)), midnight_ms(date(2022, 12, 31)))
    assert r.status_code == 200
    return r.json()["prices"]


def test_same_seed_gives_identical_daily_prices(sandbox_factory):
    a = sandbox_factory(clock=fixed_clock, seed=2019)
    b = sandbox_factory(seed=2019)  # a real clock does not change past days
    for coin in ("bitcoin", "tether"):
        prices = _year_of_prices(a, coin)
        assert len(prices) == 365
        assert prices == _year_of_prices(b, coin)


def test_different_seed_gives_other_prices(sandbox_factory):
    a = sandbox_factory(seed=2019)
    b = sandbox_factory(seed=7)
    assert _year_of_prices(a, "bitcoin") != _year_of_prices(b, "bitcoin")


def test_simulation_is_reproducible_from_scratch(sandbox):
    """Not just the cached simulator: a fresh simulation gives the very same numbers."""
    fresh = MarketSimulator(2019)
    for coin in ("bitcoin", "cardano"):
        for d in (EPOCH, date(2022, 5, 9), date(2030, 1, 1)):
            assert fresh.daily(coin, d) == sandbox.market.daily(coin, d)
    ts = midnight_ms(date(2023, 7, 1)) + 12_345_678
    assert fresh.at("bitcoin", ts) == sandbox.market.at("bitcoin", ts)


def test_prices_are_positive_and_finite(sandbox):
    for coin in (c.id for c in COINS):
        prices = [row[1] for row in _year_of_prices(sandbox, coin)]
        assert all(0 < p < float("inf") for p in prices)


# -- rate limit and plans -------------------------------------------------------------------
@pytest.mark.parametrize("sandbox", [{"rate_limit": 3}], indirect=True)
def test_rate_limit_answers_429_with_retry_after(sandbox):
    for _ in range(3):
        assert get(sandbox, "ping").status_code == 200
    r = get(sandbox, "ping")
    assert r.status_code == 429
    retry_after = r.headers["Retry-After"]
    assert retry_after.isdigit()
    assert 1 <= int(retry_after) <= 60
    assert r.json()["status"]["error_code"] == 429
    assert "Rate Limit" in r.json()["status"]["error_message"]
    assert sandbox.stats["status:200"] == 3
    assert sandbox.stats["status:429"] == 1
    assert sandbox.stats["path:ping"] == 3  # refused calls are not served


@pytest.mark.parametrize("sandbox", [{"rate_limit": 1}], indirect=True)
def test_rate_limit_is_per_api_key(sandbox):
    assert get(sandbox, "ping", headers={"x-cg-demo-api-key": "key-a"}).status_code == 200
    assert get(sandbox, "ping", headers={"x-cg-demo-api-key": "key-a"}).status_code == 429
    assert get(sandbox, "ping", headers={"x-cg-demo-api-key": "key-b"}).status_code == 200
    assert get(sandbox, "ping", x_cg_demo_api_key="key-c").status_code == 200
    assert get(sandbox, "ping").status_code == 200  # keyless: counted by address
    assert get(sandbox, "ping").status_code == 429


def _demo_plan_error(r: requests.Response) -> None:
    assert r.status_code == 401
    status = r.json()["error"]["status"]
    assert status["error_code"] == 10012
    assert "365 days" in status["error_message"]


def test_demo_key_more_than_365_days_back_is_401(fixed):
    from_ms = NOW_S_MS - 400 * DAY_MS
    _demo_plan_error(
        chart_range(fixed, "bitcoin", from_ms, NOW_S_MS, headers={"x-cg-demo-api-key": "demo"})
    )
    # the key may also travel as a query parameter
    _demo_plan_error(chart_range(fixed, "bitcoin", from_ms, NOW_S_MS, x_cg_demo_api_key="demo"))
    assert fixed.stats["status:401"] == 2


def test_demo_key_within_365_days_is_fine(fixed):
    from_ms = NOW_S_MS - 364 * DAY_MS
    r = chart_range(fixed, "bitcoin", from_ms, NOW_TO_MS, headers={"x-cg-demo-api-key": "demo"})
    assert r.status_code == 200
    assert len(r.json()["prices"]) == 365  # 364 midnights and the live point


@pytest.mark.parametrize("headers", [None, {"x-cg-pro-api-key": "pro"}])
def test_keyless_and_pro_may_reach_further_back(fixed, headers):
    r = chart_range(fixed, "bitcoin", midnight_ms(date(2020, 1, 1)), NOW_S_MS, headers=headers)
    assert r.status_code == 200
    assert r.json()["prices"][0][0] == midnight_ms(date(2020, 1, 1))


def test_demo_key_market_chart_more_than_365_days_is_401(fixed):
    r = get(
        fixed,
        "coins/bitcoin/market_chart",
        headers={"x-cg-demo-api-key": "demo"},
        vs_currency="usd",
        days="400",
    )
    _demo_plan_error(r)


# -- faults ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["500", "502", "503"])
def test_fault_server_errors(sandbox, kind):
    sandbox.faults.configure(FaultConfig(script=[kind]))
    r = get(sandbox, "ping")
    assert r.status_code == int(kind)
    assert r.json() == {"error": f"injected {kind}"}
    assert get(sandbox, "ping").status_code == 200  # the script is used up
    assert sandbox.stats[f"fault:{kind}"] == 1
    assert sandbox.stats[f"status:{kind}"] == 0  # injected answers are counted as faults only


def test_fault_429_has_retry_after(sandbox):
    sandbox.faults.configure(FaultConfig(script=["429"]))
    r = get(sandbox, "ping")
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "1"
    assert r.json()["status"]["error_code"] == 429  # CoinGecko's own 429 body
    assert get(sandbox, "ping").status_code == 200


def test_fault_malformed(sandbox):
    sandbox.faults.configure(FaultConfig(script=["malformed"]))
    r = get(sandbox, "ping")
    assert r.status_code == 200
    assert r.content == b"<html><body>502 Bad Gateway</body></html>"
    with pytest.raises(requests.JSONDecodeError):
        r.json()
    assert get(sandbox, "ping").json() == {"gecko_says": "(V3) To the Moon!"}


def test_fault_truncated(sandbox):
    sandbox.faults.configure(FaultConfig(script=["truncated"]))
    r = get(sandbox, "coins/list")
    assert r.status_code == 200
    full = json.dumps(get(sandbox, "coins/list").json()).encode()
    assert r.content == full[: len(full) // 2]
    with pytest.raises(requests.JSONDecodeError):
        r.json()


def test_fault_drop(sandbox):
    sandbox.faults.configure(FaultConfig(script=["drop"]))
    with pytest.raises(requests.ConnectionError):
        get(sandbox, "ping")
    assert get(sandbox, "ping").status_code == 200
    assert sandbox.stats["fault:drop"] == 1


def test_fault_slow(sandbox):
    sandbox.faults.configure(FaultConfig(script=["slow"], slow_seconds=0.2))
    t0 = time.monotonic()
    r = get(sandbox, "ping")
    assert time.monotonic() - t0 >= 0.2
    assert r.status_code == 200
    assert r.json() == {"gecko_says": "(V3) To the Moon!"}


def test_fault_script_from_constructor_is_applied_in_order(sandbox_factory):
    server = sandbox_factory(faults=FaultConfig(script=["503", "500", "429"]))
    codes = [get(server, "ping").status_code for _ in range(4)]
    assert codes == [503, 500, 429, 200]
    assert server.faults.as_dict()["script_left"] == []


def test_faults_do_not_use_up_the_rate_limit(sandbox_factory):
    server = sandbox_factory(rate_limit=1, faults=FaultConfig(script=["500", "502"]))
    assert [get(server, "ping").status_code for _ in range(4)] == [500, 502, 200, 429]


def test_fault_on_a_refused_request_gives_the_refusal(sandbox):
    sandbox.faults.configure(FaultConfig(script=["malformed"]))
    r = get(sandbox, "coins/nosuchcoin/history", date="01-01-2023")
    assert r.status_code == 404
    assert r.json() == {"error": "coin not found"}


def test_fault_config_validation():
    with pytest.raises(ValueError, match="unknown fault kinds"):
        FaultConfig(script=["404"])
    with pytest.raises(ValueError, match="error_rate"):
        FaultConfig(error_rate=1.5)
    assert set(FAULT_KINDS) == {
        "500",
        "502",
        "503",
        "429",
        "malformed",
        "truncated",
        "slow",
        "drop",
    }


def test_fault_rates_are_seeded():
    def draws(config: FaultConfig) -> list:
        injector = FaultInjector(config)
        return [injector.next_fault() for _ in range(200)]

    always = draws(FaultConfig(error_rate=1.0, seed=3))
    assert set(always) == {"500", "502", "503"}
    assert always == draws(FaultConfig(error_rate=1.0, seed=3))
    assert set(draws(FaultConfig())) == {None}
    mixed = draws(FaultConfig(drop_rate=0.25, throttle_rate=0.25, seed=1))
    assert set(mixed) == {None, "drop", "429"}
    assert mixed == draws(FaultConfig(drop_rate=0.25, throttle_rate=0.25, seed=1))


# -- control endpoints ----------------------------------------------------------------------
def control(server: CoinGeckoSandbox, name: str, method: str = "GET", **kw) -> requests.Response:
    return requests.request(method, f"{server.url}/_sandbox/{name}", timeout=TIMEOUT, **kw)


def test_control_stats(sandbox):
    get(sandbox, "ping")
    get(sandbox, "coins/bitcoin/market_chart/range", vs_currency="usd", **{"from": "1", "to": "2"})
    get(sandbox, "coins/nosuchcoin/history", date="01-01-2023")
    r = control(sandbox, "stats")
    assert r.status_code == 200
    body = r.json()
    assert body["api"] == "coingecko"
    assert body["calls"] == {
        "status:200": 2,
        "path:ping": 1,
        "path:coins/{id}/market_chart/range": 1,
        "status:404": 1,
    }
    assert body["faults"]["script_left"] == []
    assert body["calls"] == dict(sandbox.stats)


def test_control_faults_configures_the_script(sandbox):
    r = control(sandbox, "faults", "POST", json={"script": ["503", "drop"], "slow_seconds": 0.1})
    assert r.status_code == 200
    assert r.json()["script_left"] == ["503", "drop"]
    assert r.json()["slow_seconds"] == 0.1
    assert control(sandbox, "stats").json()["faults"]["script_left"] == ["503", "drop"]
    assert get(sandbox, "ping").status_code == 503
    with pytest.raises(requests.ConnectionError):
        get(sandbox, "ping")
    assert get(sandbox, "ping").status_code == 200


@pytest.mark.parametrize(
    "payload",
    [
        {"script": ["404"]},
        {"error_rate": 2},
        {"no_such_setting": 1},
        ["500"],
    ],
)
def test_control_faults_rejects_bad_configs(sandbox, payload):
    r = control(sandbox, "faults", "POST", json=payload)
    assert r.status_code == 400
    assert r.json()["error"].startswith("bad fault config")
    assert get(sandbox, "ping").status_code == 200  # nothing was configured


def test_control_faults_rejects_broken_json(sandbox):
    r = control(sandbox, "faults", "POST", data=b"{not json")
    assert r.status_code == 400


def test_control_faults_rejects_negative_slow_seconds(sandbox):
    r = control(sandbox, "faults", "POST", json={"script": ["slow"], "slow_seconds": -1})
    assert r.status_code == 400


@pytest.mark.parametrize("sandbox", [{"rate_limit": 1}], indirect=True)
def test_control_reset(sandbox):
    sandbox.faults.configure(FaultConfig(script=["500", "500"]))
    assert get(sandbox, "ping").status_code == 500
    assert get(sandbox, "ping").status_code == 500
    assert get(sandbox, "ping").status_code == 200
    assert get(sandbox, "ping").status_code == 429
    sandbox.faults.configure(FaultConfig(script=["503"]))
    r = control(sandbox, "reset", "POST")
    assert r.status_code == 200
    assert r.json() == {"reset": True}
    assert sandbox.stats == {}
    assert control(sandbox, "stats").json()["calls"] == {}
    assert get(sandbox, "ping").status_code == 200  # no fault left, rate limit forgotten


@pytest.mark.parametrize("sandbox", [{"rate_limit": 1}], indirect=True)
def test_control_endpoints_are_not_counted_or_limited(sandbox):
    for _ in range(5):
        assert control(sandbox, "stats").status_code == 200
    assert sandbox.stats == {}


@pytest.mark.parametrize(
    ("name", "method"), [("nothing", "GET"), ("reset", "GET"), ("faults", "GET"), ("stats", "POST")]
)
def test_control_unknown_endpoint(sandbox, name, method):
    r = control(sandbox, name, method)
    assert r.status_code == 404
    assert "unknown control endpoint" in r.json()["error"]


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_range_non_finite_from_is_400(sandbox, value):
    r = get(
        sandbox,
        "coins/bitcoin/market_chart/range",
        vs_currency="usd",
        **{"from": value, "to": "1700000000"},
    )
    assert r.status_code == 400
