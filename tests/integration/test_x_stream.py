"""X's filtered stream: the sandbox's rules and stream endpoints, and `FilteredStream` on them.

The sandbox runs on a `FakeClock`, so a test releases posts by moving the clock; the client's
waits go to a recording `sleep`, so X's real backoff schedule is checked without waiting it out.
"""

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import requests
from click.testing import CliRunner
from fakes import FakeClock

from ecoin_assets.cli.sandbox import serve
from ecoin_assets.errors import SourceError, UserError
from ecoin_assets.sources.sandbox.faults import FaultConfig
from ecoin_assets.sources.sandbox.x import XSandbox, post_matches
from ecoin_assets.sources.x import (
    FilteredStream,
    ReconnectPolicy,
    StreamAccessError,
    StreamGap,
    StreamPost,
    XSource,
    http_backoff,
    network_backoff,
    rate_limit_backoff,
)
from ecoin_assets.sources.x_query import parse

TOKEN = "stream-secret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TOPICS = {"bitcoin": "bitcoin", "ethereum": "ethereum -is:retweet"}
ALL = "bitcoin OR ethereum OR cardano OR solana OR dogecoin"  # about every simulated post
FAST = ReconnectPolicy(network_step=0.01, http_base=0.01, rate_limit_base=0.01)


def rules_url(server: XSandbox) -> str:
    return f"{server.url}/2/tweets/search/stream/rules"


def post_rules(server: XSandbox, body: dict, **params: str) -> requests.Response:
    return requests.post(rules_url(server), json=body, params=params, headers=AUTH, timeout=10)


def wait_until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


class Consumer:
    """Runs `stream.events()` in a thread; the test takes what it yields from a queue."""

    def __init__(self, stream: FilteredStream):
        self.stream = stream
        self.items: queue.Queue = queue.Queue()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for post in self.stream.events():
                self.items.put(post)
        except BaseException as exc:
            self.error = exc

    def take(self, n: int, timeout: float = 10.0) -> list[StreamPost]:
        deadline = time.monotonic() + timeout
        return [self.items.get(timeout=max(0.01, deadline - time.monotonic())) for _ in range(n)]

    def drain(self, quiet: float = 0.3) -> list[StreamPost]:
        out = []
        while True:
            try:
                out.append(self.items.get(timeout=quiet))
            except queue.Empty:
                return out

    def stop(self) -> None:
        self.stream.close()
        self.thread.join(10)
        assert not self.thread.is_alive()


@pytest.fixture
def consume() -> Iterator[Callable[[FilteredStream], Consumer]]:
    consumers: list[Consumer] = []

    def start(stream: FilteredStream) -> Consumer:
        consumers.append(Consumer(stream))
        return consumers[-1]

    yield start
    for consumer in consumers:
        consumer.stop()


def client(server: XSandbox, **kwargs) -> FilteredStream:
    kwargs.setdefault("policy", FAST)
    kwargs.setdefault("stall_timeout", 5.0)
    return FilteredStream(server.url, TOKEN, **kwargs)


def matching(server: XSandbox, first: int, last: int, topics: dict[str, str]) -> list[tuple]:
    """(id, topics) of the posts first..last-1 that match `topics`, as the stream sends them."""
    queries = {name: parse(q) for name, q in topics.items()}
    out = []
    for k in range(first, last):
        post = server.stream.post(k)
        names = tuple(n for n, q in queries.items() if post_matches(q, post))
        if names:
            out.append((int(post.id), names))
    return out


# -- backoff schedules (pure) --------------------------------------------------------------
def test_backoff_schedules_follow_x():
    assert [network_backoff(n) for n in (0, 1, 2, 3, 4)] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert network_backoff(64) == 16.0 and network_backoff(500) == 16.0
    assert [http_backoff(n) for n in range(1, 9)] == [5, 10, 20, 40, 80, 160, 320, 320]
    assert [rate_limit_backoff(n) for n in range(1, 7)] == [60, 120, 240, 480, 960, 960]
    assert http_backoff(0) == rate_limit_backoff(0) == 0.0
    policy = ReconnectPolicy(network_step=0.1, http_base=1.0, rate_limit_base=2.0)
    assert policy.delay("network", 3) == pytest.approx(0.3)
    assert policy.delay("http", 3) == 4.0
    assert policy.delay("rate_limit", 3) == 8.0
    assert ReconnectPolicy().delay("rate_limit", 1) == 60.0


# -- the sandbox's rules endpoints ---------------------------------------------------------
def test_rules_endpoints_answer_with_x_shapes(x_sandbox_factory):
    server = x_sandbox_factory()
    empty = requests.get(rules_url(server), headers=AUTH, timeout=10).json()
    assert empty["meta"]["result_count"] == 0 and "data" not in empty
    assert empty["meta"]["sent"].endswith("Z") and len(empty["meta"]["sent"]) == 24

    added = post_rules(server, {"add": [{"value": "bitcoin", "tag": "btc"}, {"value": "doge"}]})
    assert added.status_code == 201
    body = added.json()
    assert body["meta"]["summary"] == {"created": 2, "not_created": 0, "valid": 2, "invalid": 0}
    assert [r["value"] for r in body["data"]] == ["bitcoin", "doge"]
    listed = requests.get(rules_url(server), headers=AUTH, timeout=10).json()
    assert listed["meta"]["result_count"] == 2
    assert listed["data"][0] == {"id": body["data"][0]["id"], "value": "bitcoin", "tag": "btc"}
    assert "tag" not in listed["data"][1]  # X leaves out a tag the rule does not have
    only = requests.get(
        rules_url(server), params={"ids": body["data"][1]["id"]}, headers=AUTH, timeout=10
    ).json()
    assert [r["value"] for r in only["data"]] == ["doge"]

    duplicate = post_rules(server, {"add": [{"value": "bitcoin", "tag": "x"}, {"value": "sol"}]})
    assert duplicate.status_code == 201
    dup = duplicate.json()
    assert dup["meta"]["summary"] == {"created": 1, "not_created": 1, "valid": 1, "invalid": 1}
    assert dup["errors"] == [
        {
            "value": "bitcoin",
            "id": body["data"][0]["id"],
            "title": "DuplicateRule",
            "type": "https://api.twitter.com/2/problems/duplicate-rules",
        }
    ]

    invalid = post_rules(server, {"add": [{"value": "cardano"}, {"value": "-is:retweet"}]})
    assert invalid.status_code == 200
    bad = invalid.json()
    assert bad["meta"]["summary"] == {"created": 0, "not_created": 2, "valid": 1, "invalid": 1}
    assert bad["errors"][0]["title"] == "UnprocessableEntity"
    assert bad["errors"][0]["type"].endswith("/invalid-rules") and bad["errors"][0]["details"]
    too_long = post_rules(server, {"add": [{"value": "bitcoin " * 64 + "x"}]}).json()
    assert "512" in too_long["errors"][0]["details"][0]
    assert post_rules(server, {"add": [{"value": "b" * 512}]}).status_code == 201

    dry = post_rules(server, {"add": [{"value": "litecoin"}]}, dry_run="true")
    assert dry.status_code == 200 and dry.json()["meta"]["summary"]["created"] == 1
    values = [r.value for r in server.rules_of(TOKEN)]
    assert "cardano" not in values and "litecoin" not in values  # nothing created

    gone = post_rules(server, {"delete": {"ids": [body["data"][1]["id"], "123"]}}).json()
    assert gone["meta"]["summary"] == {"deleted": 1, "not_deleted": 1}
    assert gone["errors"][0]["errors"] == [
        {"parameters": {"ids": ["123"]}, "message": "Rule does not exist"}
    ]
    for wrong, parameter in (({"remove": 1}, "add"), ({"delete": {"ids": "1"}}, "delete")):
        answer = post_rules(server, wrong)
        assert answer.status_code == 400
        assert answer.json()["errors"][0] == {
            "parameters": {parameter: []},
            "message": "JSON doesn't match expected schema",
        }
        assert answer.json()["title"] == "Invalid Request"
    assert requests.get(rules_url(server), timeout=10).status_code == 401


def test_stream_faults_are_switches_everywhere(x_sandbox_factory):
    server = x_sandbox_factory(stream_drop_every=4, faults=FaultConfig(stream_stall_every=2))
    config = server.faults.config
    assert (config.stream_drop_every, config.stream_stall_every) == (4, 2)
    answer = requests.post(
        f"{server.url}/_sandbox/faults",
        json={"stream_connect_429_rate": 0.5, "stream_stall_seconds": 3},
        timeout=10,
    ).json()
    assert answer["stream_connect_429_rate"] == 0.5 and answer["stream_drop_every"] == 0
    with pytest.raises(ValueError, match="stream_drop_every"):
        FaultConfig(stream_drop_every=-1)
    result = CliRunner().invoke(serve, ["--help"])
    for option in (
        "--stream-drop-every",
        "--stream-stall-every",
        "--stream-stall-seconds",
        "--stream-connect-429-rate",
        "--keep-alive-seconds",
    ):
        assert option in result.output


# -- rule sync ------------------------------------------------------------------------------
def test_sync_rules_owns_only_ecoin_rules(x_sandbox_factory):
    server = x_sandbox_factory()
    foreign = post_rules(
        server,
        {
            "add": [
                {"value": "cats", "tag": "someone else"},
                {"value": "dogs"},
                {"value": "solana", "tag": "ecoin:bitcoin"},  # ecoin's tag, a stale query
                {"value": "cardano", "tag": "ecoin:retired"},
                {"value": "bitcoin", "tag": "ecoin:bitcoin"},  # ecoin's, right
            ]
        },
    ).json()["data"]
    stream = client(server)
    sync = stream.sync_rules(TOPICS)
    assert {(r.tag, r.value) for r in sync.added} == {("ecoin:ethereum", "ethereum -is:retweet")}
    assert {r.value for r in sync.deleted} == {"solana", "cardano"}
    assert [r.value for r in sync.kept] == ["bitcoin"]
    now = {(r.tag, r.value, r.id) for r in stream.rules()}
    others = {(r.get("tag"), r["value"], r["id"]) for r in foreign[:2]}
    assert others <= now  # untouched, same ids
    ours = {(t, v) for t, v, _ in now if t and t.startswith("ecoin:")}
    assert ours == {("ecoin:bitcoin", "bitcoin"), ("ecoin:ethereum", "ethereum -is:retweet")}

    again = stream.sync_rules(TOPICS)
    assert not again.changed and len(again.kept) == 2

    changed = stream.sync_rules({"bitcoin": "bitcoin -is:retweet", "ethereum": TOPICS["ethereum"]})
    assert [(r.tag, r.value) for r in changed.added] == [("ecoin:bitcoin", "bitcoin -is:retweet")]
    assert [r.value for r in changed.deleted] == ["bitcoin"]
    # a renamed topic keeps its query: the old rule must go before the same value comes back
    renamed = stream.sync_rules({"btc": "bitcoin -is:retweet", "ethereum": TOPICS["ethereum"]})
    assert [r.tag for r in renamed.added] == ["ecoin:btc"]
    plan = stream.sync_rules({"doge": "dogecoin"}, dry_run=True)
    assert plan.dry_run and [r.value for r in plan.added] == ["dogecoin"]
    assert len(plan.deleted) == 2
    tags = sorted(r.tag or "" for r in stream.rules())
    assert tags == ["", "ecoin:btc", "ecoin:ethereum", "someone else"]  # the dry run changed none

    with pytest.raises(SourceError, match="already rule"):
        stream.sync_rules({"pets": "cats"})  # X refuses a value the app already has
    with pytest.raises(SourceError, match="refused stream rules"):
        stream.sync_rules({"nothing": "-is:retweet"})
    with pytest.raises(UserError, match="512"):
        stream.sync_rules({"long": "bitcoin " * 70})


def test_no_stream_access_raises_a_typed_error(x_sandbox_factory):
    server = x_sandbox_factory(stream_access=False)
    answer = requests.get(f"{server.url}/2/tweets/search/stream", headers=AUTH, timeout=10)
    assert answer.status_code == 403 and answer.json()["reason"] == "client-not-enrolled"
    stream = client(server)
    with pytest.raises(StreamAccessError, match="client-not-enrolled"):
        stream.sync_rules(TOPICS)
    with pytest.raises(StreamAccessError, match="poll recent search"):
        next(stream.events())
    with pytest.raises(SourceError, match="HTTP 401"):
        next(client(x_sandbox_factory(bearer_token="right")).events())


# -- the stream -----------------------------------------------------------------------------
def test_stream_delivers_new_matching_posts_with_their_topics(x_sandbox_factory, consume):
    clock = FakeClock()
    server = x_sandbox_factory(rate_per_minute=60, clock=clock)
    stream = client(server, tweet_fields=["created_at", "lang", "referenced_tweets"])
    stream.sync_rules(TOPICS)
    post_rules(server, {"add": [{"value": "cardano", "tag": "not ours"}]})
    consumer = consume(stream)
    wait_until(lambda: server.stream_connected(TOKEN))
    first = server.stream.released(server.now_ms())
    clock.now += 120
    last = server.stream.released(server.now_ms())
    expected = [
        (i, tuple(n for n in names if n != "cardano"))  # the foreign rule's tag is no topic
        for i, names in matching(server, first, last, {**TOPICS, "cardano": "cardano"})
    ]
    got = consumer.take(len(expected))
    assert [(p.tweet.id, p.topics) for p in got] == expected
    assert all(p.tweet.created_at is not None and p.tweet.lang for p in got)
    assert all(not p.tweet.is_retweet for p in got if p.topics == ("ethereum",))
    assert any(p.topics == () and len(p.rule_ids) == 1 for p in got)  # cardano, not ours
    assert consumer.drain() == []  # nothing else: posts from before the connection never come
    assert stream.newest_id == got[-1].tweet.id
    assert stream.stats["connections"] == 1 and stream.stats["gaps"] == 0


def test_keep_alives_hold_a_quiet_stream_open(x_sandbox_factory, consume):
    server = x_sandbox_factory(keep_alive_seconds=0.2)
    with requests.get(
        f"{server.url}/2/tweets/search/stream", headers=AUTH, stream=True, timeout=5
    ) as raw:
        assert raw.status_code == 200 and raw.headers["Transfer-Encoding"] == "chunked"
        started = time.monotonic()
        assert next(raw.iter_content(chunk_size=None)) == b"\r\n"
        assert 0.1 < time.monotonic() - started < 2
    wait_until(lambda: not server.stream_connected(TOKEN))
    stream = client(server, stall_timeout=1.0)
    consume(stream)
    wait_until(lambda: stream.stats["keep_alives"] >= 6)
    assert stream.stats["connections"] == 1 and stream.stats["disconnects"] == 0


def test_one_connection_per_app(x_sandbox_factory):
    server = x_sandbox_factory(keep_alive_seconds=0.2)
    url = f"{server.url}/2/tweets/search/stream"
    first = requests.get(url, headers=AUTH, stream=True, timeout=5)
    assert first.status_code == 200
    second = requests.get(url, headers=AUTH, timeout=5)
    assert second.status_code == 429
    assert second.json() == {
        "title": "ConnectionException",
        "detail": "This stream is currently at the maximum allowed connection limit.",
        "connection_issue": "TooManyConnections",
        "type": "https://api.twitter.com/2/problems/streaming-connection",
    }
    other = requests.get(url, headers={"Authorization": "Bearer other"}, stream=True, timeout=5)
    assert other.status_code == 200  # another app has its own connection
    other.close()
    first.close()
    third = requests.get(url, headers=AUTH, stream=True, timeout=5)  # the closed one is freed
    assert third.status_code == 200
    third.close()


def test_drop_reconnects_and_the_gap_is_recovered_by_search(x_sandbox_factory, consume):
    clock = FakeClock()
    server = x_sandbox_factory(rate_per_minute=60, clock=clock, stream_drop_every=3)
    gaps: list[StreamGap] = []
    stream = client(server, on_gap=gaps.append)
    stream.sync_rules({"all": ALL})
    consumer = consume(stream)
    wait_until(lambda: server.stream_connected(TOKEN))
    first = server.stream.released(server.now_ms())
    received: list[StreamPost] = []
    for round_ in range(1, 4):
        clock.now += 20  # 20 posts at once: 3 come, the connection drops, the rest are missed
        received += consumer.take(3)
        wait_until(lambda round_=round_: len(gaps) == round_ and server.stream_connected(TOKEN))
        assert gaps[-1].since_id == received[-1].tweet.id
        assert gaps[-1].reason.startswith("dropped") and gaps[-1].attempts == 1
    assert server.stats["fault:stream_drop"] == 3 and stream.stats["disconnects"] == 3
    assert consumer.drain() == []
    last = server.stream.released(server.now_ms())
    expected = [i for i, _ in matching(server, first, last, {"all": ALL})]
    streamed = {p.tweet.id for p in received}
    assert len(streamed) == 9 and streamed < set(expected)  # the rest were not redelivered
    search = XSource(server.url, TOKEN, backoff=0.01, sleep=lambda _: None, clock=server.clock)
    recovered = set()
    for gap in gaps:
        found = search.search(ALL, gap.since_id)
        recovered |= {t.id for t in found.tweets}
    assert streamed | recovered == set(expected)


def test_stall_is_detected_and_the_stream_reconnects(x_sandbox_factory, consume):
    clock = FakeClock()
    server = x_sandbox_factory(
        rate_per_minute=60,
        clock=clock,
        keep_alive_seconds=0.1,
        stream_stall_every=2,
        stream_stall_seconds=30,
    )
    gaps: list[StreamGap] = []
    stream = client(server, stall_timeout=0.6, on_gap=gaps.append)
    stream.sync_rules({"all": ALL})
    consumer = consume(stream)
    wait_until(lambda: server.stream_connected(TOKEN))
    started = time.monotonic()
    clock.now += 10
    before = consumer.take(2)
    wait_until(lambda: len(gaps) == 1)
    assert time.monotonic() - started < 10  # not the 30 s of the stall
    assert gaps[0].reason.startswith("stalled") and gaps[0].since_id == before[-1].tweet.id
    wait_until(lambda: server.stream_connected(TOKEN))  # the stalled connection was freed
    clock.now += 10
    after = consumer.take(2)
    assert after[0].tweet.id > before[-1].tweet.id
    assert server.stats["fault:stream_stall"] >= 1


def test_stall_shorter_than_the_timeout_delivers_late(x_sandbox_factory, consume):
    clock = FakeClock()
    server = x_sandbox_factory(
        rate_per_minute=60, clock=clock, stream_stall_every=1, stream_stall_seconds=0.3
    )
    stream = client(server, stall_timeout=3)
    stream.sync_rules({"all": ALL})
    consumer = consume(stream)
    wait_until(lambda: server.stream_connected(TOKEN))
    first = server.stream.released(server.now_ms())
    clock.now += 3
    expected = matching(server, first, server.stream.released(server.now_ms()), {"all": ALL})
    got = consumer.take(len(expected))
    assert [p.tweet.id for p in got] == [i for i, _ in expected]
    assert stream.stats["disconnects"] == 0


def test_connection_failures_back_off_as_x_asks(x_sandbox_factory, consume, caplog):
    caplog.set_level(logging.DEBUG)
    clock = FakeClock()
    server = x_sandbox_factory(rate_per_minute=60, clock=clock)
    waits: list[float] = []
    stream = FilteredStream(server.url, TOKEN, sleep=waits.append, stall_timeout=5)
    stream.sync_rules({"all": ALL})
    server.faults.configure(FaultConfig(script=["503", "500", "drop", "drop", "429"]))
    consumer = consume(stream)
    wait_until(lambda: server.stream_connected(TOKEN))
    assert waits == [5.0, 10.0, 0.25, 0.5, 60.0]  # defaults: X's own schedule
    # a connection resets the waits: after a drop it reconnects at once, then starts over
    server.faults.configure(FaultConfig(script=["503"], stream_drop_every=1))
    clock.now += 5
    consumer.take(1)
    wait_until(lambda: stream.stats["connections"] == 2)
    assert waits == [5.0, 10.0, 0.25, 0.5, 60.0, 5.0]
    assert TOKEN not in caplog.text and TOKEN not in repr(stream)


def test_connect_429s_back_off_from_a_minute(x_sandbox_factory, consume):
    server = x_sandbox_factory(stream_connect_429_rate=1.0)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 4:
            config = server.faults.config
            server.faults.configure(dataclasses.replace(config, stream_connect_429_rate=0.0))

    stream = FilteredStream(server.url, TOKEN, sleep=sleep, max_failures=10)
    consume(stream)
    wait_until(lambda: server.stream_connected(TOKEN))
    assert waits == [60, 120, 240, 480]
    assert server.stats["fault:stream_connect_429"] == 4


def test_too_many_failures_and_malformed_lines(x_sandbox_factory, consume):
    clock = FakeClock()
    server = x_sandbox_factory(rate_per_minute=60, clock=clock, faults=FaultConfig(error_rate=1))
    stream = client(server, max_failures=3)
    with pytest.raises(SourceError, match="failed 4 times in a row"):
        next(stream.events())
    server.faults.configure(FaultConfig())
    stream = client(server)
    stream.sync_rules({"all": ALL})
    server.faults.configure(FaultConfig(script=["malformed"]))  # the stream's first line
    consumer = consume(stream)
    wait_until(lambda: server.stream_connected(TOKEN))
    clock.now += 5
    assert consumer.take(1)
    assert stream.stats["malformed"] == 1 and stream.stats["disconnects"] == 0
