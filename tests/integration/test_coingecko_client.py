"""`CoinGeckoClient` against the sandbox over real HTTP, and its pure helpers."""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime

import pytest

from ecoin_assets.config import load_settings
from ecoin_assets.errors import PlanLimitError, SourceError, UnknownCoinError, UserError
from ecoin_assets.sources.coingecko import (
    DAILY_MIN_SPAN_DAYS,
    DAY_MS,
    CoinGeckoClient,
    DailyPoint,
    MalformedAnswerError,
    parse_chart,
    plan_window,
    retry_after_seconds,
    snapshot_day,
    utc_today,
)
from ecoin_assets.sources.pacing import CallPacer
from ecoin_assets.sources.sandbox.coingecko import CoinGeckoSandbox
from ecoin_assets.sources.sandbox.faults import FaultConfig
from ecoin_assets.sources.sandbox.http import HTTPError

RANGE = "coins/{id}/market_chart/range"
RANGE_CALLS = f"path:{RANGE}"
#: a fixed "now" for tests that need the sandbox and the client to agree on the date
NOW = datetime(2024, 6, 15, 12, 34, 56, tzinfo=UTC)
TODAY = NOW.date()


def fixed_clock() -> float:
    return NOW.timestamp()


def ms(d: date, hh: int = 0, mm: int = 0, ss: int = 0) -> int:
    return int(datetime(d.year, d.month, d.day, hh, mm, ss, tzinfo=UTC).timestamp() * 1000)


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def assert_sandbox_points(server: CoinGeckoSandbox, coin: str, points: list[DailyPoint]) -> None:
    for p in points:
        truth = server.market.daily(coin, p.date)
        assert p.coin_id == coin
        assert (p.price_usd, p.market_cap_usd, p.volume_usd) == (
            truth.price,
            truth.market_cap,
            truth.volume,
        )


class FakeTime:
    """A monotonic clock that only moves when someone sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def timed_client(fast_client, fake_time):
    """A client whose waits (backoff, Retry-After, pacing) go to `fake_time`, not the wall."""

    def make(**kwargs) -> CoinGeckoClient:
        client = fast_client(sleep=fake_time.sleep, **kwargs)
        client.pacer.clock = fake_time.monotonic
        return client

    return make


class RecordingSandbox(CoinGeckoSandbox):
    """Keeps the raw path and the API key headers of every API request."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[dict] = []

    def route(self, handler, path, query):
        self.seen.append(
            {
                "path": handler.path,
                "demo": handler.headers.get("x-cg-demo-api-key"),
                "pro": handler.headers.get("x-cg-pro-api-key"),
            }
        )
        return super().route(handler, path, query)


class RefusingSandbox(CoinGeckoSandbox):
    """Answers every API request with `refusal` (status, body)."""

    refusal: tuple[int, object] = (400, {"error": "bad request"})

    def route(self, handler, path, query):
        raise HTTPError(*self.refusal)


# -- daily prices -----------------------------------------------------------------------------
def test_three_years_in_one_call(sandbox, fast_client):
    start, end = date(2021, 1, 1), date(2023, 12, 31)
    result = fast_client().daily_prices("bitcoin", start, end)
    assert [p.date for p in result.points] == days(start, end)
    assert len(result.points) == 1095
    assert_sandbox_points(sandbox, "bitcoin", result.points)
    assert result.data_calls == 1
    assert len(result.answers) == 1
    assert sandbox.stats[RANGE_CALLS] == 1
    assert (result.coin_id, result.start, result.end) == ("bitcoin", start, end)
    answer = result.answers[0]
    assert answer.status == 200 and answer.error is None
    assert answer.coin_id == "bitcoin"
    assert answer.endpoint == RANGE
    assert answer.url == f"{sandbox.api_url}/coins/bitcoin/market_chart/range"
    assert answer.params == {
        "vs_currency": "usd",
        "from": str(ms(start) // 1000),
        "to": str(ms(end, 1) // 1000),
    }
    assert answer.body.startswith('{"prices":[[')
    assert answer.received_at.tzinfo is not None


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2023, 3, 5), date(2023, 3, 5)),  # one day
        (date(2023, 3, 1), date(2023, 3, 10)),  # ten days
        (date(2023, 1, 1), date(2023, 3, 31)),  # 89 days
    ],
)
def test_short_range_is_widened_to_daily_points_in_one_call(sandbox, fast_client, start, end):
    result = fast_client().daily_prices("ethereum", start, end)
    assert [p.date for p in result.points] == days(start, end)
    assert_sandbox_points(sandbox, "ethereum", result.points)
    assert result.data_calls == 1
    assert sandbox.stats[RANGE_CALLS] == 1
    params = result.answers[0].params
    span_days = (int(params["to"]) - int(params["from"])) * 1000 / DAY_MS
    assert span_days > 90  # daily granularity
    assert int(params["from"]) * 1000 <= ms(start)
    assert int(params["to"]) * 1000 >= ms(end)


def test_range_up_to_today_keeps_midnight_not_the_live_point(sandbox_factory, fast_client):
    """At 00:20 the live point is within a snapshot's tolerance of today's midnight."""
    just_after_midnight = ms(TODAY, 0, 20, 7)
    server = sandbox_factory(clock=lambda: just_after_midnight / 1000)
    client = fast_client(base_url=server.api_url)
    result = client.daily_prices("solana", TODAY - timedelta(days=5), TODAY, today=TODAY)
    assert f"[{just_after_midnight}," in result.answers[0].body  # the live point was sent
    assert [p.date for p in result.points] == days(TODAY - timedelta(days=5), TODAY)
    assert_sandbox_points(server, "solana", result.points)
    assert result.data_calls == 1


def test_range_reaching_into_the_future_stops_at_today(sandbox_factory, fast_client):
    server = sandbox_factory(clock=fixed_clock)
    client = fast_client(base_url=server.api_url)
    end = TODAY + timedelta(days=30)
    result = client.daily_prices("bitcoin", TODAY - timedelta(days=200), end, today=TODAY)
    assert result.points[-1].date == TODAY
    assert len(result.points) == 201
    assert result.data_calls == 1


def test_range_before_the_market_starts(sandbox, fast_client):
    result = fast_client().daily_prices("bitcoin", date(2018, 12, 1), date(2019, 1, 10))
    assert [p.date for p in result.points] == days(date(2019, 1, 1), date(2019, 1, 10))
    assert result.data_calls == 1
    empty = fast_client().daily_prices("bitcoin", date(2017, 1, 1), date(2017, 12, 31))
    assert empty.points == []
    assert empty.data_calls == 1


def test_empty_range_makes_no_call(sandbox, fast_client):
    result = fast_client().daily_prices("bitcoin", date(2023, 3, 2), date(2023, 3, 1))
    assert result.points == [] and result.answers == []
    assert sum(sandbox.stats.values()) == 0


def test_on_call_sees_every_answer(sandbox, fast_client):
    sandbox.faults.configure(FaultConfig(script=["503"]))
    seen = []
    result = fast_client().daily_prices(
        "bitcoin", date(2023, 3, 1), date(2023, 3, 2), on_call=seen.append
    )
    assert seen == result.answers
    assert [a.status for a in seen] == [503, 200]


# -- retries ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fault", "status", "error_part"),
    [
        ("500", 500, "HTTP 500"),
        ("502", 502, "HTTP 502"),
        ("503", 503, "HTTP 503"),
        ("429", 429, "HTTP 429"),
        ("malformed", 200, "malformed answer"),
        ("truncated", 200, "malformed answer"),
        ("drop", None, "no answer"),
    ],
)
def test_retries_each_fault_and_records_it(
    sandbox, timed_client, fake_time, fault, status, error_part
):
    sandbox.faults.configure(FaultConfig(script=[fault]))
    start, end = date(2023, 3, 1), date(2023, 3, 10)
    result = timed_client().daily_prices("cardano", start, end)
    assert [p.date for p in result.points] == days(start, end)
    assert_sandbox_points(sandbox, "cardano", result.points)
    failed, good = result.answers
    assert failed.status == status
    assert failed.error is not None and error_part in failed.error
    assert failed.endpoint == RANGE and failed.coin_id == "cardano"
    assert failed.params == good.params
    if status is None:
        assert failed.body == ""
    elif status != 200:
        assert json.loads(failed.body)  # the server's own words, kept as received
    assert (good.status, good.error) == (200, None)
    assert result.data_calls == 1
    assert sandbox.stats[f"fault:{fault}"] == 1
    # one wait between the attempts: Retry-After for the 429, a short backoff otherwise
    if fault == "429":
        assert fake_time.sleeps == [1.0]
    else:
        assert len(fake_time.sleeps) == 1
        assert 0.005 <= fake_time.sleeps[0] <= 0.01


def test_slow_answer_within_the_timeout_is_fine(sandbox, fast_client):
    sandbox.faults.configure(FaultConfig(script=["slow"], slow_seconds=0.1))
    result = fast_client().daily_prices("bitcoin", date(2023, 3, 1), date(2023, 3, 3))
    assert len(result.points) == 3
    assert len(result.answers) == 1


def test_slow_answer_past_the_timeout_is_retried(sandbox, fast_client):
    sandbox.faults.configure(FaultConfig(script=["slow"], slow_seconds=0.5))
    result = fast_client(timeout=0.1).daily_prices("bitcoin", date(2023, 3, 1), date(2023, 3, 3))
    assert len(result.points) == 3
    timed_out, good = result.answers
    assert timed_out.status is None and "no answer" in timed_out.error
    assert good.status == 200


def test_retry_after_429_pauses_the_pacer(sandbox, timed_client, fake_time):
    """The wait for `Retry-After` also holds back the pacer, i.e. every other thread."""
    sandbox.faults.configure(FaultConfig(script=["429"]))
    client = timed_client()
    client.ping()
    assert fake_time.sleeps == [1.0]
    assert client.pacer._paused_until == pytest.approx(fake_time.now)


@pytest.mark.parametrize("sandbox", [{"rate_limit": 2}], indirect=True)
def test_real_rate_limit_is_waited_out(sandbox, fast_client, fake_time):
    """The sandbox's own limiter answers 429: the client waits `Retry-After`, then succeeds."""

    def sleep(seconds: float) -> None:
        fake_time.sleep(seconds)
        sandbox.limiter.reset()  # stands in for the minute going by

    client = fast_client(sleep=sleep)
    client.pacer.clock = fake_time.monotonic
    client.ping()
    client.ping()
    result = client.daily_prices("bitcoin", date(2023, 3, 1), date(2023, 3, 3))
    assert [a.status for a in result.answers] == [429, 200]
    assert len(result.points) == 3
    (wait,) = fake_time.sleeps
    assert 1 <= wait <= 60
    assert wait == int(wait)  # the sandbox's Retry-After is whole seconds


def test_retry_after_429_with_real_sleep(sandbox, fast_client):
    """The one test that really waits (the scripted 429 says `Retry-After: 1`)."""
    sandbox.faults.configure(FaultConfig(script=["429"]))
    t0 = time.monotonic()
    result = fast_client().daily_prices("bitcoin", date(2023, 3, 1), date(2023, 3, 3))
    elapsed = time.monotonic() - t0
    assert [a.status for a in result.answers] == [429, 200]
    assert 1.0 <= elapsed < 5.0  # the pause and the sleep overlap: about 1 s, not 2


def test_several_faults_in_a_row(sandbox, timed_client, fake_time):
    sandbox.faults.configure(FaultConfig(script=["500", "drop", "truncated", "429", "503"]))
    result = timed_client().daily_prices("dogecoin", date(2022, 1, 1), date(2022, 12, 31))
    assert [a.status for a in result.answers] == [500, None, 200, 429, 503, 200]
    assert [a.error is None for a in result.answers] == [False] * 5 + [True]
    assert len(result.points) == 365
    assert result.data_calls == 1
    assert len(fake_time.sleeps) == 5


def test_gives_up_after_max_attempts(sandbox, timed_client, fake_time):
    sandbox.faults.configure(FaultConfig(script=["503"] * 10))
    with pytest.raises(SourceError) as info:
        timed_client(max_attempts=3).daily_prices("bitcoin", date(2023, 3, 1), date(2023, 3, 10))
    message = str(info.value)
    assert "failed 3 times" in message
    assert RANGE in message
    assert "bitcoin" in message
    assert "HTTP 503" in message
    assert "try again later" in message
    assert f"127.0.0.1:{sandbox.server_address[1]}" in message
    assert sandbox.stats["fault:503"] == 3  # no fourth attempt
    assert len(fake_time.sleeps) == 2  # no wait after the last attempt
    assert isinstance(info.value, UserError)


def test_gives_up_on_dropped_connections(sandbox, timed_client):
    sandbox.faults.configure(FaultConfig(script=["drop"] * 4))
    with pytest.raises(SourceError, match=r"failed 4 times on ping .*no answer"):
        timed_client(max_attempts=4).ping()


def test_gives_up_on_malformed_answers(sandbox, timed_client):
    sandbox.faults.configure(FaultConfig(script=["malformed", "truncated"]))
    with pytest.raises(SourceError, match=r"failed 2 times.*malformed answer"):
        timed_client(max_attempts=2).coins_list()


def test_backoff_grows_exponentially_up_to_the_cap(sandbox, timed_client, fake_time):
    sandbox.faults.configure(FaultConfig(script=["500"] * 6))
    with pytest.raises(SourceError):
        timed_client(max_attempts=6, backoff=1.0, max_backoff=4.0).ping()
    caps = [1.0, 2.0, 4.0, 4.0, 4.0]
    assert len(fake_time.sleeps) == len(caps)
    for wait, cap in zip(fake_time.sleeps, caps, strict=True):
        assert cap / 2 <= wait <= cap  # jitter: half to all of the backoff


def test_server_not_running(fast_client):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = fast_client(base_url=f"http://127.0.0.1:{port}/api/v3", max_attempts=2)
    with pytest.raises(SourceError, match=r"failed 2 times.*no answer \(ConnectionError\)"):
        client.daily_prices("bitcoin", date(2023, 3, 1), date(2023, 3, 2))


# -- answers no retry can mend ----------------------------------------------------------------
def test_unknown_coin(sandbox, fast_client):
    with pytest.raises(UnknownCoinError, match="nosuchcoin"):
        fast_client().daily_prices("nosuchcoin", date(2023, 3, 1), date(2023, 3, 10))
    assert sandbox.stats["status:404"] == 1  # not retried


@pytest.mark.parametrize(
    ("refusal", "error", "match"),
    [
        ((400, {"error": "invalid vs_currency"}), SourceError, "HTTP 400: invalid vs_currency"),
        ((401, {"error": "invalid key"}), SourceError, "refused the request"),
        ((403, {"status": {"error_code": 10012}}), PlanLimitError, "does not allow this range"),
        ((404, {"error": "Not Found"}), UnknownCoinError, "unknown coin 'bitcoin'"),
    ],
)
def test_final_answers_are_not_retried(sandbox_factory, fast_client, refusal, error, match):
    server = sandbox_factory(cls=RefusingSandbox)
    server.refusal = refusal
    client = fast_client(base_url=server.api_url)
    with pytest.raises(error, match=match):
        client.daily_prices("bitcoin", date(2023, 3, 1), date(2023, 3, 10))
    assert server.stats[f"status:{refusal[0]}"] == 1


def test_404_without_a_coin_is_a_source_error(sandbox_factory, fast_client):
    server = sandbox_factory(cls=RefusingSandbox)
    server.refusal = (404, {"error": "Not Found"})
    with pytest.raises(SourceError, match="HTTP 404: Not Found") as info:
        fast_client(base_url=server.api_url).ping()
    assert not isinstance(info.value, UnknownCoinError)


# -- plans and keys ---------------------------------------------------------------------------
def test_demo_key_too_far_back_fails_without_a_call(sandbox, fast_client):
    client = fast_client(demo_key="demo-secret")
    earliest = TODAY - timedelta(days=364)
    assert client.earliest_allowed(TODAY) == earliest
    with pytest.raises(PlanLimitError, match=str(earliest)):
        client.daily_prices("bitcoin", TODAY - timedelta(days=365), TODAY, today=TODAY)
    with pytest.raises(PlanLimitError):
        client.daily_prices("bitcoin", date(2020, 1, 1), date(2020, 1, 5), today=TODAY)
    assert sum(sandbox.stats.values()) == 0


def test_demo_key_at_the_plan_limit_is_accepted(sandbox_factory, fast_client):
    server = sandbox_factory(clock=fixed_clock)
    client = fast_client(base_url=server.api_url, demo_key="demo-secret")
    earliest = TODAY - timedelta(days=364)
    result = client.daily_prices("bitcoin", earliest, TODAY, today=TODAY)
    assert [p.date for p in result.points] == days(earliest, TODAY)
    assert result.data_calls == 1


def test_demo_key_short_range_near_the_limit_is_widened_forwards(sandbox_factory, fast_client):
    server = sandbox_factory(clock=fixed_clock)
    client = fast_client(base_url=server.api_url, demo_key="demo-secret")
    start = TODAY - timedelta(days=360)
    result = client.daily_prices("bitcoin", start, start + timedelta(days=2), today=TODAY)
    assert [p.date for p in result.points] == days(start, start + timedelta(days=2))
    assert result.answers[0].params["from"] == str(ms(start) // 1000)
    assert result.data_calls == 1
    assert server.stats["status:401"] == 0


def test_server_plan_refusal_is_a_plan_limit_error(sandbox_factory, fast_client):
    """The sandbox's clock is a year ahead of the client's: the server refuses (401, 10012)."""
    server = sandbox_factory(clock=lambda: NOW.timestamp() + 365 * 86_400)
    client = fast_client(base_url=server.api_url, demo_key="demo-secret")
    with pytest.raises(PlanLimitError, match="365 days"):
        client.daily_prices("bitcoin", TODAY - timedelta(days=200), TODAY, today=TODAY)
    assert server.stats["status:401"] == 1


@pytest.mark.parametrize(
    ("kwargs", "plan", "header"),
    [
        ({"demo_key": "demo-secret-123"}, "demo", "demo"),
        ({"pro_key": "pro-secret-456"}, "pro", "pro"),
        ({"demo_key": "demo-secret-123", "pro_key": "pro-secret-456"}, "pro", "pro"),
    ],
)
def test_key_goes_in_a_header_only(sandbox_factory, fast_client, kwargs, plan, header):
    server = sandbox_factory(cls=RecordingSandbox)
    client = fast_client(base_url=server.api_url, **kwargs)
    assert client.plan == plan
    secret = kwargs[f"{header}_key"]
    seen = []
    client.ping()
    today = utc_today()
    result = client.daily_prices(
        "bitcoin", today - timedelta(days=30), today - timedelta(days=20), on_call=seen.append
    )
    assert result.data_calls == 1
    assert len(server.seen) == 2
    for request in server.seen:
        assert request[header] == secret
        assert request["pro" if header == "demo" else "demo"] is None
        for value in kwargs.values():
            assert value not in request["path"]
    for answer in [*result.answers, *seen]:
        for value in kwargs.values():
            assert value not in answer.url
            assert value not in repr(answer.params)
            assert value not in repr(answer)


def test_keyless_client_sends_no_key(sandbox_factory, fast_client):
    server = sandbox_factory(cls=RecordingSandbox)
    client = fast_client(base_url=server.api_url)
    assert client.plan == "keyless"
    assert client.earliest_allowed() is None
    client.ping()
    assert server.seen[0]["demo"] is None and server.seen[0]["pro"] is None


# -- base URL ---------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", ["", "/", "//"])
def test_base_url_with_or_without_trailing_slash(sandbox, fast_client, suffix):
    client = fast_client(base_url=sandbox.api_url + suffix)
    assert client.base_url == sandbox.api_url + "/"
    assert client.host == f"127.0.0.1:{sandbox.server_address[1]}"
    assert client.ping() == {"gecko_says": "(V3) To the Moon!"}
    assert "bitcoin" in {c["id"] for c in client.coins_list()}
    result = client.daily_prices("bitcoin", date(2023, 3, 1), date(2023, 3, 2))
    assert len(result.points) == 2
    assert result.answers[0].url == f"{sandbox.api_url}/coins/bitcoin/market_chart/range"
    assert sandbox.stats["path:ping"] == 1
    assert sandbox.stats["status:404"] == 0


def test_from_settings(sandbox):
    settings = load_settings(
        {"COINGECKO_API_URL": sandbox.api_url + "/", "COINGECKO_DEMO_API_KEY": "demo-secret"}
    )
    client = CoinGeckoClient.from_settings(settings, calls_per_minute=10_000)
    assert client.plan == "demo"
    assert client.base_url == sandbox.api_url + "/"
    assert client.ping() == {"gecko_says": "(V3) To the Moon!"}


# -- concurrency ------------------------------------------------------------------------------
def test_threads_share_one_client(sandbox_factory, fast_client):
    server = sandbox_factory(cls=RecordingSandbox)
    client = fast_client(base_url=server.api_url)
    coins = ["bitcoin", "ethereum", "cardano", "solana", "dogecoin", "ripple"]
    start, end = date(2022, 1, 1), date(2023, 6, 30)
    barrier = threading.Barrier(len(coins))

    def fetch(coin: str):
        barrier.wait(timeout=10)
        return client.daily_prices(coin, start, end)

    with ThreadPoolExecutor(len(coins)) as pool:
        results = dict(zip(coins, pool.map(fetch, coins), strict=True))
    for coin, result in results.items():
        assert result.coin_id == coin
        assert [p.date for p in result.points] == days(start, end)
        assert_sandbox_points(server, coin, result.points)
        assert result.data_calls == 1
        assert all(a.coin_id == coin for a in result.answers)
    assert server.stats[RANGE_CALLS] == len(coins)
    assert sorted(r["path"].split("/")[4] for r in server.seen) == sorted(coins)


def test_threads_with_faults_all_succeed(sandbox, fast_client):
    sandbox.faults.configure(FaultConfig(script=["500", "drop", "malformed", "503", "truncated"]))
    client = fast_client()
    coins = ["bitcoin", "ethereum", "cardano", "solana"]
    with ThreadPoolExecutor(len(coins)) as pool:
        results = list(
            pool.map(lambda c: client.daily_prices(c, date(2023, 1, 1), date(2023, 1, 31)), coins)
        )
    assert all(len(r.points) == 31 for r in results)
    assert sum(len(r.answers) for r in results) == len(coins) + 5
    assert sum(r.data_calls for r in results) == len(coins)


def test_client_pacing_is_shared_and_enforced(sandbox, fast_client, fake_time):
    client = fast_client(calls_per_minute=2, sleep=fake_time.sleep)
    client.pacer.clock = fake_time.monotonic
    for _ in range(5):
        client.ping()
    assert fake_time.sleeps == [60.0, 60.0]  # calls 3 and 5 wait for the window
    assert sandbox.stats["path:ping"] == 5


# -- plan_window ------------------------------------------------------------------------------
def test_plan_window_long_range_unchanged():
    start, end = date(2021, 1, 1), date(2023, 12, 31)
    assert plan_window(start, end, earliest=None) == (start, end)
    assert plan_window(start, end, earliest=date(2020, 1, 1)) == (start, end)
    start = end - timedelta(days=DAILY_MIN_SPAN_DAYS)
    assert plan_window(start, end, earliest=None) == (start, end)


@pytest.mark.parametrize("span", [0, 1, 9, 60, 90, 91])
def test_plan_window_short_range_widened_backwards(span):
    end = date(2024, 5, 31)
    start = end - timedelta(days=span)
    w_start, w_end = plan_window(start, end, earliest=None)
    assert (w_start, w_end) == (end - timedelta(days=92), end)
    assert plan_window(start, end, earliest=end - timedelta(days=92)) == (w_start, w_end)
    assert plan_window(start, end, earliest=date(2019, 1, 1)) == (w_start, w_end)


def test_plan_window_forwards_when_earliest_forbids_backwards():
    earliest = date(2023, 6, 17)
    start, end = earliest + timedelta(days=5), earliest + timedelta(days=15)
    assert plan_window(start, end, earliest=earliest) == (start, start + timedelta(days=92))
    # one day short of going backwards
    end = earliest + timedelta(days=91)
    assert plan_window(end, end, earliest=earliest) == (end, end + timedelta(days=92))
    assert plan_window(end + timedelta(days=1), end + timedelta(days=1), earliest=earliest) == (
        earliest,
        end + timedelta(days=1),
    )


def test_plan_window_always_covers_the_range_with_a_daily_span():
    earliest = date(2023, 1, 1)
    for offset in range(0, 200, 7):
        for span in range(0, 120, 5):
            start = earliest + timedelta(days=offset)
            end = start + timedelta(days=span)
            for limit in (None, earliest):
                w_start, w_end = plan_window(start, end, earliest=limit)
                assert w_start <= start and w_end >= end
                assert (w_end - w_start).days >= DAILY_MIN_SPAN_DAYS
                if limit is not None:
                    assert w_start >= limit


# -- snapshot_day -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        (ms(date(2024, 3, 1)), date(2024, 3, 1)),
        (ms(date(2017, 6, 6), 23, 29, 55), date(2017, 6, 6)),  # late snapshot, real data
        (ms(date(2018, 1, 30), 0, 5, 18), date(2018, 1, 30)),
        (ms(date(2024, 3, 1), 13), date(2024, 3, 1)),
        (ms(date(2024, 3, 2)) - 1, date(2024, 3, 1)),
        (0, date(1970, 1, 1)),
    ],
)
def test_snapshot_day(ts, expected):
    assert snapshot_day(ts) == expected


# -- parse_chart ------------------------------------------------------------------------------
def chart(*rows: tuple[int, float | None]) -> dict:
    return {
        "prices": [[ts, p] for ts, p in rows],
        "market_caps": [[ts, None if p is None else p * 1000] for ts, p in rows],
        "total_volumes": [[ts, None if p is None else p * 10] for ts, p in rows],
    }


D = date(2024, 3, 10)
LATER = ms(date(2030, 1, 1))  # a "now" long after the chart


def test_parse_chart_keeps_midnights_in_range():
    body = chart(*[(ms(D + timedelta(days=i)), 100.0 + i) for i in range(-2, 5)])
    points = parse_chart(body, "bitcoin", D, D + timedelta(days=2), now_ms=LATER)
    assert points == [
        DailyPoint("bitcoin", D + timedelta(days=i), 100.0 + i, (100.0 + i) * 1000, 1000.0 + 10 * i)
        for i in range(3)
    ]


def test_parse_chart_drops_the_live_point():
    now = ms(D, 0, 20)  # the live point, just after today's midnight
    body = chart((ms(D - timedelta(days=1)), 1.0), (now, 2.0))
    points = parse_chart(body, "bitcoin", D - timedelta(days=5), D, now_ms=now)
    assert [p.date for p in points] == [D - timedelta(days=1)]
    # nor in the afternoon
    now = ms(D, 15)
    points = parse_chart(chart((ms(D), 3.0), (now, 4.0)), "bitcoin", D, D, now_ms=now)
    assert [(p.date, p.price_usd) for p in points] == [(D, 3.0)]


def test_parse_chart_keeps_todays_exact_midnight():
    now = ms(D, 0, 30)
    points = parse_chart(chart((ms(D), 5.0), (now, 6.0)), "bitcoin", D, D, now_ms=now)
    assert [(p.date, p.price_usd) for p in points] == [(D, 5.0)]


def test_parse_chart_keeps_an_old_late_snapshot():
    late = ms(D - timedelta(days=1), 23, 29, 55)  # stands in for that day's missing 00:00
    body = chart((late, 2.0), (ms(D), 1.0), (ms(D + timedelta(days=1)), 3.0))
    points = parse_chart(body, "c", D - timedelta(days=1), D + timedelta(days=1), now_ms=LATER)
    assert [(p.date, p.price_usd, p.market_cap_usd) for p in points] == [
        (D - timedelta(days=1), 2.0, 2000.0),
        (D, 1.0, 1000.0),
        (D + timedelta(days=1), 3.0, 3000.0),
    ]


@pytest.mark.parametrize("reverse", [False, True])
def test_parse_chart_prefers_exact_midnight_over_a_later_snapshot(reverse):
    rows = [(ms(D, 23, 29, 55), 1.0), (ms(D), 2.0), (ms(D, 0, 5), 3.0)]
    body = chart(*(reversed(rows) if reverse else rows))
    points = parse_chart(body, "c", D, D, now_ms=LATER)
    assert [(p.date, p.price_usd) for p in points] == [(D, 2.0)]


def test_parse_chart_prefers_the_earliest_snapshot_of_a_day():
    rows = [(ms(D, 23, 30), 1.0), (ms(D, 0, 10), 2.0)]
    points = parse_chart(chart(*rows), "c", D, D, now_ms=LATER)
    assert [p.price_usd for p in points] == [2.0]


def test_parse_chart_ignores_unusable_prices():
    body = chart(
        (ms(D), None),
        (ms(D + timedelta(days=1)), 0.0),
        (ms(D + timedelta(days=2)), -1.0),
        (ms(D + timedelta(days=3), 12), 5.0),
        (ms(D + timedelta(days=4)), 7.0),
    )
    body["prices"].append([ms(D + timedelta(days=5)), float("nan")])
    points = parse_chart(body, "c", D, D + timedelta(days=10), now_ms=LATER)
    assert [(p.date, p.price_usd) for p in points] == [
        (D + timedelta(days=3), 5.0),
        (D + timedelta(days=4), 7.0),
    ]


def test_parse_chart_missing_caps_and_volumes_are_none():
    body = {"prices": [[ms(D), 1.0]], "market_caps": [], "total_volumes": [[ms(D), None]]}
    (point,) = parse_chart(body, "c", D, D, now_ms=LATER)
    assert (point.market_cap_usd, point.volume_usd) == (None, None)


def test_parse_chart_empty_series():
    body = {"prices": [], "market_caps": [], "total_volumes": []}
    assert parse_chart(body, "c", D, D) == []


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "prices",
        {"error": "coin not found"},
        {"prices": [], "market_caps": []},
        {"prices": {}, "market_caps": [], "total_volumes": []},
        {"prices": [[1, 2, 3]], "market_caps": [], "total_volumes": []},
        {"prices": [[1]], "market_caps": [], "total_volumes": []},
        {"prices": [["1", 2.0]], "market_caps": [], "total_volumes": []},
        {"prices": [[True, 2.0]], "market_caps": [], "total_volumes": []},
        {"prices": [[1, "2.0"]], "market_caps": [], "total_volumes": []},
        {"prices": [(1, 2.0)], "market_caps": [], "total_volumes": []},
        {"prices": [], "market_caps": [[1, {}]], "total_volumes": []},
        {"prices": [], "market_caps": [], "total_volumes": [None]},
    ],
)
def test_parse_chart_rejects_bad_shapes(body):
    with pytest.raises(MalformedAnswerError):
        parse_chart(body, "c", D, D)


# -- retry_after_seconds ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [("120", 120.0), ("1", 1.0), ("0", 0.0), ("-5", 0.0), ("2.5", 2.5), (" 7 ", 7.0)],
)
def test_retry_after_seconds(value, expected):
    assert retry_after_seconds(value) == expected


def test_retry_after_http_date():
    future = datetime.now(UTC) + timedelta(seconds=90)
    assert 80 <= retry_after_seconds(format_datetime(future, usegmt=True)) <= 90
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past


@pytest.mark.parametrize("value", [None, "", "soon", "Wed, 99 Foo 2015", "1s"])
def test_retry_after_garbage(value):
    assert retry_after_seconds(value) is None


@pytest.mark.parametrize("value", ["Wed, 21 Oct 2015 07:28:00", "Wed, 21 Oct 2015 07:28:00 -0000"])
def test_retry_after_date_without_zone(value):
    result = retry_after_seconds(value)
    assert result is None or result >= 0.0


@pytest.mark.parametrize("value", ["inf", "Infinity", "1e400"])
def test_retry_after_infinite(value):
    result = retry_after_seconds(value)
    assert result is None or math.isfinite(result)


class ZonelessRetryAfterSandbox(CoinGeckoSandbox):
    def rate_limit_answer(self, retry_after: int) -> HTTPError:
        return HTTPError(
            429, {"error": "rate limited"}, {"Retry-After": "Wed, 21 Oct 2015 07:28:00"}
        )


def test_client_survives_zoneless_retry_after(sandbox_factory, timed_client):
    server = sandbox_factory(cls=ZonelessRetryAfterSandbox, rate_limit=1)
    client = timed_client(base_url=server.api_url, max_attempts=2)
    client.ping()
    with pytest.raises(SourceError):
        client.ping()


# -- CallPacer --------------------------------------------------------------------------------
def test_pacer_enforces_the_limit(fake_time):
    pacer = CallPacer(3, 60.0, clock=fake_time.monotonic, sleep=fake_time.sleep)
    assert [pacer.wait() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert fake_time.sleeps == []
    assert pacer.wait() == 60.0
    assert fake_time.sleeps == [60.0]


def test_pacer_sliding_window(fake_time):
    pacer = CallPacer(3, 60.0, clock=fake_time.monotonic, sleep=fake_time.sleep)
    for _ in range(3):
        pacer.wait()
        fake_time.now += 10.0
    # calls at 0, 10, 20; now 30: the first call leaves the window at 60
    assert pacer.wait() == pytest.approx(30.0)
    fake_time.now += 25.0  # 85: the calls at 10 and 20 have left the window, 60 has not
    assert pacer.wait() == 0.0
    assert pacer.wait() == 0.0
    assert pacer.wait() == pytest.approx(35.0)  # until the call at 60 leaves (120)


def test_pacer_pause_is_honoured(fake_time):
    pacer = CallPacer(100, 60.0, clock=fake_time.monotonic, sleep=fake_time.sleep)
    pacer.wait()
    pacer.pause(5.0)
    pacer.pause(2.0)  # a shorter pause does not shorten the longer one
    assert pacer.wait() == 5.0
    assert pacer.wait() == 0.0
    assert fake_time.sleeps == [5.0]


def test_pacer_pause_and_limit_together(fake_time):
    pacer = CallPacer(1, 60.0, clock=fake_time.monotonic, sleep=fake_time.sleep)
    pacer.wait()
    pacer.pause(10.0)
    assert pacer.wait() == 60.0  # the longer of the two
    pacer.pause(90.0)
    assert pacer.wait() == 90.0


def test_pacer_without_limit(fake_time):
    pacer = CallPacer(0, clock=fake_time.monotonic, sleep=fake_time.sleep)
    assert all(pacer.wait() == 0.0 for _ in range(1000))
    assert fake_time.sleeps == []


def test_pacer_is_shared_by_threads():
    """Real clock, short window: 10 calls at 4 per 0.2 s need two full windows."""
    pacer = CallPacer(4, 0.2)
    threads = [threading.Thread(target=pacer.wait) for _ in range(10)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert not any(t.is_alive() for t in threads)
    assert time.monotonic() - t0 >= 0.4


def test_public_keyless_api_has_the_365_day_limit():
    client = CoinGeckoClient("https://api.coingecko.com/api/v3")
    today = date(2026, 1, 31)
    assert client.plan == "public"
    assert client.earliest_allowed(today) == date(2025, 2, 1)
    with pytest.raises(PlanLimitError, match="public plan reaches back 365 days"):
        client.daily_prices("bitcoin", date(2024, 1, 1), date(2024, 1, 2), today=today)
