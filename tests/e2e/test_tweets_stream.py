"""The real-time ingestion service (`ecoin tweets stream`) against the X sandbox: stream mode
through drops and stalls, the fall-back to polling, and SIGKILL then restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from ecoin_assets.errors import UserError
from ecoin_assets.sources.sandbox.faults import FaultConfig
from ecoin_assets.sources.sandbox.x import XSandbox, post_matches
from ecoin_assets.sources.x import FilteredStream, RateBudget, ReconnectPolicy, XSource
from ecoin_assets.sources.x_query import parse
from ecoin_assets.storage import Database
from ecoin_assets.tweets.stream import StreamService

TOPICS = ["bitcoin", "ethereum"]
FAST = ReconnectPolicy(network_step=0.01, http_base=0.05, rate_limit_base=0.05)


def released(server: XSandbox, topic: str) -> set[int]:
    """The ids of the posts released so far that match `topic` (X's query semantics)."""
    query, n = parse(topic), server.stream.released(server.now_ms())
    return {int(p.id) for k in range(n) if post_matches(query, p := server.stream.post(k))}


def assert_complete_and_once(db: Database, server: XSandbox, topics=TOPICS) -> None:
    """Every post of a topic up to its cursor is stored and linked once; nothing else is."""
    stored = [r[0] for r in db.query("SELECT post_id FROM posts")]
    assert len(stored) == len(set(stored))
    cursors = dict(db.query("SELECT topic, newest_id FROM topic_cursors"))
    assert set(cursors) == set(topics)
    for topic in topics:
        linked = {
            r[0] for r in db.query("SELECT post_id FROM post_topics WHERE topic = ?", [topic])
        }
        expected = {i for i in released(server, topic) if i <= cursors[topic]}
        assert expected <= linked, f"{len(expected - linked)} {topic} posts missing"
        assert linked <= released(server, topic)


@pytest.fixture
def server(x_sandbox_factory) -> XSandbox:
    return x_sandbox_factory(
        clock=time.time,
        rate_per_minute=600,
        backlog_minutes=2,
        keep_alive_seconds=0.2,
        stream_drop_every=15,
        stream_stall_every=40,
        stream_stall_seconds=2.0,
    )


def _service(server: XSandbox, db: Database, **kwargs) -> StreamService:
    stream = FilteredStream(server.url, "token", stall_timeout=1.0, policy=FAST)
    return StreamService(
        db, XSource(server.url, "token", backoff=0.01), TOPICS, stream=stream, **kwargs
    )


def test_stream_mode_stores_every_post_once_through_drops_and_stalls(server, tmp_path):
    requests.post(
        f"{server.url}/2/tweets/search/stream/rules",
        json={"add": [{"value": "cardano", "tag": "someone-else"}]},
        headers={"Authorization": "Bearer token"},
        timeout=5,
    ).raise_for_status()
    db = Database(tmp_path / "ecoin.duckdb")
    service = _service(server, db, mode="stream", batch_seconds=0.3)
    report = service.run(duration=8)
    assert report.mode == "stream"
    assert report.received > 20 and report.gaps >= 1  # drops and a stall happened
    assert report.lags and sorted(report.lags)[len(report.lags) // 2] < 3
    assert_complete_and_once(db, server)
    cursors = dict(db.query("SELECT topic, newest_id FROM topic_cursors"))
    for topic in TOPICS:  # the cursors follow the stream: at most ~3 s of posts beyond them
        assert len({i for i in released(server, topic) if i > cursors[topic]}) < 30
    rules = sorted((r.tag, r.value) for r in FilteredStream(server.url, "token").rules())
    assert rules == [
        ("ecoin:bitcoin", "bitcoin"),
        ("ecoin:ethereum", "ethereum"),
        ("someone-else", "cardano"),
    ]


def test_auto_mode_polls_when_the_app_has_no_stream_access(x_sandbox_factory, tmp_path):
    server = x_sandbox_factory(
        clock=time.time, rate_per_minute=600, backlog_minutes=1, stream_access=False
    )
    db = Database(tmp_path / "ecoin.duckdb")
    report = _service(server, db, poll_interval=1.0, batch_seconds=0.3).run(duration=4)
    assert report.mode == "poll" and report.searches >= 4
    assert_complete_and_once(db, server)


def test_poll_mode_combines_topics_and_routes_each_post_to_its_own(x_sandbox_factory, tmp_path):
    topics = ["bitcoin", "ethereum", "solana price", "#dogecoin OR $DOGE", "cardano -scam"]
    server = x_sandbox_factory(
        clock=time.time,
        rate_per_minute=900,
        backlog_minutes=1,
        faults=FaultConfig(error_rate=0.1, throttle_rate=0.05, seed=3),
    )
    db = Database(tmp_path / "ecoin.duckdb")
    service = StreamService(
        db,
        XSource(server.url, "token", backoff=0.01),
        topics,
        mode="poll",
        poll_interval=1.0,
        batch_seconds=0.3,
    )
    assert [g.text for g in service.groups] == [
        "bitcoin OR ethereum OR (solana price) OR (#dogecoin OR $DOGE) OR (cardano -scam)"
    ]
    report = service.run(duration=6)
    assert report.mode == "poll" and report.unrouted == 0
    assert report.searches >= 3  # one call a round serves all five topics
    assert_complete_and_once(db, server, topics)
    assert report.lags and sorted(report.lags)[len(report.lags) // 2] < 4  # rounds ~2 s apart


def test_poll_rounds_spread_the_rate_limit_window() -> None:
    budget = RateBudget(limit=450, remaining=405, reset=1000.0)
    # 360 usable calls (45 kept in reserve) over 600 s, 2 calls a round: every 3.33 s
    assert budget.pace(2, floor=1.0, now=400.0) == pytest.approx(600 / 180)
    assert budget.pace(2, floor=5.0, now=400.0) == 5.0  # never closer than the floor
    spent = RateBudget(limit=450, remaining=40, reset=1000.0)
    assert spent.pace(1, floor=1.0, now=400.0) == 601.0  # wait for the window to turn
    assert budget.pace(1, floor=1.0, now=1001.0) == 1.0  # the window turned meanwhile
    assert RateBudget.from_headers({"x-rate-limit-limit": "450"}) is None


def test_bad_settings_are_refused_before_anything_runs(server, tmp_path):
    db = Database(tmp_path / "ecoin.duckdb")
    with pytest.raises(UserError, match="--mode must be one of"):
        _service(server, db, mode="push")
    with pytest.raises(UserError, match="no topics"):
        StreamService(db, XSource(server.url, "token"), [" "], mode="poll")


def test_sigkill_then_restart_loses_and_duplicates_nothing(server, tmp_path):
    env = dict(os.environ, X_API_URL=server.url, ECOIN_HOME=str(tmp_path / "home"))
    command = [sys.executable, "-m", "ecoin_assets", "tweets", "stream", "--json"]
    command += [arg for t in TOPICS for arg in ("--topic", t)]  # until killed
    proc = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    db_path = tmp_path / "home" / "ecoin.duckdb"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        time.sleep(1)
        if proc.poll() is not None:
            pytest.fail(proc.stderr.read())
        if db_path.exists() and _count(db_path) > 50:
            break
    time.sleep(1.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    time.sleep(2)  # posts released while nothing runs
    again = subprocess.run(
        [*command, "--duration", "4"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["recovered"] > 0
    db = Database(db_path)
    assert_complete_and_once(db, server)


def _count(path) -> int:
    try:
        return Database(path).query("SELECT count(*) FROM posts")[0][0]
    except Exception:  # the writer holds the file: try again later
        return 0


def test_the_service_reports_x_posts_to_dagster_and_the_sensor_stands_aside(server, tmp_path):
    import dagster as dg

    from ecoin_assets.resources import EcoinSettings, EcoinStore, XResource
    from ecoin_assets.tweets.assets import x_posts
    from ecoin_assets.tweets.checks import x_posts_freshness_checks
    from ecoin_assets.tweets.reporting import DagsterReporter
    from ecoin_assets.tweets.sensors import stream_service_is_live, x_posts_sensor

    def freshness(instance) -> bool:
        result = dg.materialize(
            [x_posts.to_source_asset(), *x_posts_freshness_checks],
            instance=instance,
            selection=dg.AssetSelection.checks(*x_posts_freshness_checks),
        )
        (evaluation,) = result.get_asset_check_evaluations()
        return evaluation.passed

    with dg.DagsterInstance.ephemeral() as instance:
        assert not stream_service_is_live(instance)
        reporter = DagsterReporter(every=1.0, instance=instance)
        db = Database(tmp_path / "ecoin.duckdb")
        _service(server, db, mode="stream", reporter=reporter).run(duration=3)
        assert reporter.sent >= 2
        event = instance.get_latest_materialization_event(x_posts.key)
        metadata = event.asset_materialization.metadata
        assert metadata["mode"].value == "stream" and "lag_p95_s" in metadata
        assert stream_service_is_live(instance)
        settings = EcoinSettings(ecoin_home=str(tmp_path))
        with dg.build_sensor_context(
            instance=instance,
            resources={
                "settings": settings,
                "x": XResource(settings=settings),
                "store": EcoinStore(settings=settings),
            },
        ) as context:
            tick = x_posts_sensor(context)
        assert isinstance(tick, dg.SkipReason) and "stream service" in tick.skip_message
        assert freshness(instance)
        assert not stream_service_is_live(instance, now=time.time() + 600)  # it stopped
