"""Alerts: rules checked before they are stored, evaluated on the signals, each firing stored
once and delivered to its webhook through failures, webhook secrets never shown."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.request import urlopen

import pytest
from ecoin_cli import run_ecoin
from factories import insert_neutral_minute

from ecoin_assets.alerts.rules import add_rule, redact_url
from ecoin_assets.alerts.watch import deliver_pending, evaluate
from ecoin_assets.sentiment.registry import active_version
from ecoin_assets.storage import Database

NOW = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)


class Receiver:
    """A webhook that fails its first `failures` requests with HTTP 500."""

    def __init__(self, failures: int = 0):
        self.failures, self.calls, self.received = failures, 0, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.calls += 1
                if outer.calls <= outer.failures:
                    self.send_response(500)
                else:
                    outer.received.append((self.headers["Idempotency-Key"], json.loads(body)))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/secret-token"


@pytest.fixture
def receiver():
    made = []

    def make(failures: int = 0) -> Receiver:
        made.append(Receiver(failures))
        return made[-1]

    yield make
    for r in made:
        r.server.shutdown()


@pytest.fixture
def db(ecoin_home: Path, monkeypatch) -> Database:
    """Six hours of bitcoin at 10 posts a minute, then 40 a minute in the last 15 minutes;
    ethereum steady at 10."""
    monkeypatch.setenv("ECOIN_TOPICS", "bitcoin,ethereum")
    version = active_version(ecoin_home)
    database = Database(ecoin_home / "ecoin.duckdb")
    with database.write() as con:
        for m in range(1, 6 * 60 + 16):
            minute = NOW - timedelta(minutes=m)
            for topic, posts in (("bitcoin", 40 if m <= 15 else 10), ("ethereum", 10)):
                insert_neutral_minute(con, topic, minute, version, posts, 0.1, NOW)
    return database


def test_a_spike_fires_once_and_is_delivered_through_failures(db, receiver, ecoin_home):
    hook = receiver(failures=2)
    version = active_version(ecoin_home)
    add_rule(db, "btc-spike", "bitcoin", "volume_z > 3", "15m", "1h", hook.url, ["bitcoin"])
    add_rule(db, "eth-calm", "ethereum", "volume_z > 3", "15m", "1h", hook.url, ["ethereum"])
    add_rule(db, "btc-share", "bitcoin", "dominance >= 0.8", "15m", "1h", hook.url, ["bitcoin"])
    fired = evaluate(db, version, NOW)
    assert sorted(f.rule for f in fired) == ["btc-share", "btc-spike"]
    spike = next(f for f in fired if f.rule == "btc-spike")
    assert spike.value > 30  # 600 posts against a steady 150: (600 - 150) / sqrt(150)
    assert evaluate(db, version, NOW + timedelta(minutes=5)) == []  # the cooldown holds
    assert deliver_pending(db, sleep=lambda s: None) == 2  # the third try of the first passes
    assert deliver_pending(db, sleep=lambda s: None) == 0  # never sent twice
    keys = sorted(key for key, _ in hook.received)
    assert keys == [f"btc-share@{NOW:%Y-%m-%dT%H:%M}", f"btc-spike@{NOW:%Y-%m-%dT%H:%M}"]
    body = next(b for k, b in hook.received if k.startswith("btc-spike"))
    assert body["text"].startswith("ecoin alert 'btc-spike': bitcoin volume_z is ")
    assert body["topic"] == "bitcoin" and body["condition"] == "volume_z > 3"
    rows = db.query("SELECT attempts, delivered_at IS NOT NULL FROM alerts ORDER BY attempts")
    assert rows == [(1, True), (3, True)]  # the first POSTed took three tries


def test_an_unset_env_webhook_is_retried_later_and_never_leaks(db, receiver, monkeypatch):
    hook = receiver()
    hook_env = "env:ECOIN_TEST_HOOK"
    add_rule(db, "spike", "bitcoin", "volume > 100", "15m", "1h", hook_env, ["bitcoin"])
    evaluate(db, active_version(Path(os.environ["ECOIN_HOME"])), NOW)
    assert deliver_pending(db, sleep=lambda s: None) == 0
    error = db.query("SELECT last_error FROM alerts")[0][0]
    assert error == "ECOIN_TEST_HOOK is not set in the environment"
    monkeypatch.setenv("ECOIN_TEST_HOOK", hook.url)
    assert deliver_pending(db, sleep=lambda s: None) == 1
    assert "secret-token" not in json.dumps(db.query("SELECT * FROM alert_rules", []), default=str)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.slack.com/services/T0/B0/XYZ", "https://hooks.slack.com/services/***"),
        ("https://user:pw@example.com/hook?token=abc", "https://***@example.com/hook?***"),
        ("http://127.0.0.1:9000/", "http://127.0.0.1:9000"),
        ("env:SLACK_URL", "env:SLACK_URL"),
    ],
)
def test_webhooks_are_shown_redacted(url, shown):
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--when", "volume_z >> 3"), "is not SIGNAL OP NUMBER"),
        (("--when", "hype > 3"), "unknown signal 'hype'"),
        (("--window", "15 parsecs"), "--window '15 parsecs' is not a duration"),
        (("--cooldown", "30d"), "longer than 7 days"),
        (("--topic", "dogs"), "unknown topic 'dogs'"),
        (("--webhook", "ftp://user:pw@example.com/x"), "is not an http(s) URL"),
    ],
)
def test_bad_alerts_are_refused_with_the_reason(db, args, message):
    base = {"--topic": "bitcoin", "--when": "volume_z > 3", "--webhook": "http://x.test/h"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    flat = [item for pair in base.items() for item in pair]
    proc = run_ecoin("alerts", "add", "a", *flat)
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr
    assert "pw" not in proc.stderr
    assert run_ecoin("alerts", "list", "--json").stdout.strip() == "[]"


def test_the_watcher_fires_and_delivers_and_the_cli_shows_it(db, receiver):
    hook = receiver(failures=1)
    added = run_ecoin(
        "alerts", "add", "btc", "--topic", "bitcoin", "--when", "volume_z > 3",
        "--webhook", hook.url,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    listed = run_ecoin("alerts", "list").stdout
    assert "secret-token" not in listed and "/hook/***" in listed
    watched = run_ecoin("alerts", "watch", "--every", "1", "--duration", "2.5", "--json")
    assert watched.returncode == 0, watched.stderr
    assert json.loads(watched.stdout) == {"fired": 1, "delivered": 1}
    assert len(hook.received) == 1
    history = json.loads(run_ecoin("alerts", "history", "--json").stdout)
    assert [(h["rule"], h["attempts"]) for h in history] == [("btc", 2)]
    assert run_ecoin("alerts", "remove", "btc").returncode == 0
    assert "removed" in run_ecoin("alerts", "list", "--all").stdout


def test_the_data_api_lists_the_firings(db, receiver, ecoin_home):
    from fastapi.testclient import TestClient

    from ecoin_assets.config import load_settings
    from ecoin_assets.serving.data_api import create_app

    hook = receiver()
    add_rule(db, "spike", "bitcoin", "volume_z > 3", "15m", "1h", hook.url, ["bitcoin"])
    evaluate(db, active_version(ecoin_home), NOW)
    client = TestClient(create_app(load_settings()))
    rows = client.get("/alerts", params={"topic": "bitcoin"}).json()["rows"]
    assert [(r["rule"], r["delivered_at"], r["attempts"]) for r in rows] == [("spike", None, 0)]
    assert client.get("/alerts", params={"topic": "ethereum"}).json()["rows"] == []
    assert client.get("/alerts", params={"topic": "dogs"}).status_code == 404


def test_a_sandbox_burst_fires_the_volume_alert_delivered_to_the_sandbox_webhook(
    ecoin_home, x_sandbox_factory
):
    """What `make demo` shows: the sandbox makes bitcoin burst for 2 minutes every 30, and a
    `volume_z > 3` rule over 2 minutes fires at the burst's end, not before it."""
    from fakes import FakeClock

    from ecoin_assets.sentiment.registry import Classifier
    from ecoin_assets.sources.sandbox.posts import Burst
    from ecoin_assets.sources.x import XSource
    from ecoin_assets.tweets.ingest import ingest_once

    burst_end = datetime(2026, 12, 3, 11, 2, tzinfo=UTC)
    clock = FakeClock(burst_end.timestamp())
    server = x_sandbox_factory(
        clock=clock, rate_per_minute=30, backlog_minutes=120, burst=Burst("bitcoin")
    )
    db = Database(ecoin_home / "ecoin.duckdb")
    source = XSource(server.url, "token", backoff=0.01, clock=clock, sleep=lambda _: None)
    classifier = Classifier.load(ecoin_home)
    topics = ["bitcoin", "ethereum"]
    ingest_once(db, source, topics, classifier=classifier)
    webhook = f"{server.url}/_sandbox/webhook"
    add_rule(db, "btc-burst", "bitcoin", "volume_z > 3", "2m", "20m", webhook, topics)
    version = classifier.version
    now = burst_end.replace(tzinfo=None)
    assert evaluate(db, version, now - timedelta(minutes=4)) == []  # before the burst: quiet
    [fired] = evaluate(db, version, now)
    assert fired.rule == "btc-burst" and fired.value > 3
    assert evaluate(db, version, now + timedelta(minutes=1)) == []  # the cooldown holds
    assert deliver_pending(db) == 1
    calls = json.loads(urlopen(webhook).read())["calls"]
    assert [c["body"]["rule"] for c in calls] == ["btc-burst"]
    assert "bitcoin" in calls[0]["body"]["text"]


def test_the_sandbox_refuses_a_burst_it_cannot_make():
    proc = run_ecoin("sandbox", "serve", "--burst-coin", "nocoin")
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: --burst-coin 'nocoin' is not a coin the sandbox posts")
    proc = run_ecoin("sandbox", "serve", "--burst-coin", "bitcoin", "--burst-minutes", "40")
    assert proc.returncode == 1
    assert proc.stderr == "error: --burst-minutes must be shorter than --burst-every\n"
