"""The tweepy source and the ingestion loop against the X sandbox over real HTTP."""

import json
import logging
import os
import subprocess
import sys
import time

import pytest
from ecoin_cli import run_ecoin

from ecoin_assets.errors import SourceError, UserError
from ecoin_assets.sources.sandbox.faults import FaultConfig
from ecoin_assets.sources.sandbox.x import XSandbox
from ecoin_assets.sources.x import XSource
from ecoin_assets.storage import Database
from ecoin_assets.tweets.ingest import ingest_once


@pytest.fixture
def x_server(x_sandbox_factory):
    def make(**kwargs) -> XSandbox:
        kwargs.setdefault("rate_per_minute", 60)
        kwargs.setdefault("backlog_minutes", 10)
        return x_sandbox_factory(**kwargs)

    return make


def released(server: XSandbox, word: str) -> list[int]:
    n = server.stream.released(server.now_ms())
    return sorted(int(p.id) for k in range(n) if word in (p := server.stream.post(k)).text.lower())


def fast_source(server: XSandbox, waits: list[float] | None = None, **kw) -> XSource:
    sleeps = waits if waits is not None else []
    return XSource(server.url, "token", backoff=0.01, sleep=sleeps.append, clock=server.clock, **kw)


def test_search_returns_every_post_once_across_pages_and_faults(x_server):
    server = x_server(
        duplicate_page_rate=0.5, faults=FaultConfig(script=["503", "drop", "malformed", "500"])
    )
    result = fast_source(server).search("bitcoin")
    assert [t.id for t in result.tweets] == released(server, "bitcoin")
    assert result.newest_id == result.tweets[-1].id
    assert result.retries == 4 and result.calls > 1
    assert all(t.created_at is not None and t.lang for t in result.tweets)
    assert any(t.is_retweet for t in result.tweets)


def test_since_id_and_posts_arriving_later(x_server):
    server = x_server()
    source = fast_source(server)
    first = source.search("ethereum")
    assert source.search("ethereum", since_id=first.newest_id).tweets == []
    server.clock.now += 120
    later = source.search("ethereum", since_id=first.newest_id)
    assert later.tweets and all(t.id > first.newest_id for t in later.tweets)
    assert [t.id for t in first.tweets + later.tweets] == released(server, "ethereum")


def test_rate_limit_waits_until_reset(x_server):
    server = x_server(requests_per_window=1, backlog_minutes=1)  # one page of posts
    waits: list[float] = []
    source = fast_source(server, waits)
    source.search("cardano")  # uses the window's only call
    with pytest.raises(SourceError, match="rate limit resets in"):
        fast_source(server, waits, max_wait=60).search("cardano")
    assert waits == []
    # an injected 429 resets in a second: the client waits for it and goes on
    server2 = x_server(faults=FaultConfig(script=["429"]))
    waits2: list[float] = []
    fast_source(server2, waits2).search("cardano")
    assert len(waits2) == 1 and 0 < waits2[0] <= 2


def test_bad_token_and_bad_query_are_clear(x_server):
    server = x_server(bearer_token="right")
    with pytest.raises(SourceError, match="X_BEARER_TOKEN"):
        fast_source(server).search("bitcoin")
    with pytest.raises(SourceError, match="rejected the search"):
        XSource(server.url, "right").search("-is:retweet")
    with pytest.raises(UserError, match="X_BEARER_TOKEN"):
        XSource(server.url, "")


def test_gives_up_after_max_attempts(x_server):
    server = x_server(faults=FaultConfig(error_rate=1.0))
    with pytest.raises(SourceError, match="failed 3 times"):
        fast_source(server, max_attempts=3).search("bitcoin")


def test_token_never_logged(x_server, caplog):
    server = x_server()
    caplog.set_level(logging.DEBUG)
    XSource(server.url, "very-secret-token").search("dogecoin")
    assert "very-secret-token" not in caplog.text


def test_ingest_stores_each_post_once_and_links_topics(x_server, tmp_path):
    server = x_server(faults=FaultConfig(script=["500", "429"]), duplicate_page_rate=0.3)
    db = Database(tmp_path / "ecoin.duckdb")
    source = fast_source(server)
    first = ingest_once(db, source, ["bitcoin", "ethereum"])
    expected = set(released(server, "bitcoin")) | set(released(server, "ethereum"))
    stored = {r[0] for r in db.query("SELECT post_id FROM posts")}
    assert stored == expected and first.stored == len(expected)
    both = db.query("SELECT post_id FROM post_topics GROUP BY 1 HAVING count(*) = 2")
    assert both  # posts about both coins are linked to both topics, stored once
    assert db.query("SELECT count(*) FROM posts WHERE text_raw = '' OR text_clean IS NULL") == [
        (0,)
    ]
    again = ingest_once(db, source, ["bitcoin", "ethereum"])
    assert (again.fetched, again.stored, again.linked) == (0, 0, 0)
    server.clock.now += 60
    third = ingest_once(db, source, ["bitcoin", "ethereum"])
    assert third.stored > 0
    stored = {r[0] for r in db.query("SELECT post_id FROM posts")}
    assert stored == set(released(server, "bitcoin")) | set(released(server, "ethereum"))
    counts = db.query("SELECT sum(posts) FROM topic_minute_stats")[0][0]
    assert counts == db.query("SELECT count(*) FROM post_topics")[0][0]


def test_a_crashed_round_writes_nothing_and_is_redone(x_server, tmp_path, monkeypatch):
    server = x_server()
    db = Database(tmp_path / "ecoin.duckdb")
    source = fast_source(server)
    import ecoin_assets.tweets.ingest as ingest_module

    def crash(*args, **kwargs):
        raise RuntimeError("killed half-way")

    monkeypatch.setattr(ingest_module, "_add_links", crash)
    with pytest.raises(RuntimeError):
        ingest_once(db, source, ["solana"])
    assert db.query("SELECT count(*) FROM posts") == [(0,)]
    assert db.query("SELECT count(*) FROM topic_cursors") == [(0,)]
    monkeypatch.undo()
    ingest_once(db, source, ["solana"])
    assert {r[0] for r in db.query("SELECT post_id FROM posts")} == set(released(server, "solana"))


def test_cli_ingest_and_export(x_server, tmp_path):
    server = x_server(clock=time.time)
    env = dict(os.environ, X_API_URL=server.url, ECOIN_HOME=str(tmp_path / "home"))

    def ecoin(*args):
        return run_ecoin(*args, env=env, timeout=120)

    proc = ecoin("tweets", "ingest", "--topic", "bitcoin", "--once", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["stored"] > 0
    proc = ecoin("tweets", "ingest", "--topic", "bitcoin", "--duration", "3", "--interval", "2")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count(" stored ") == 3  # rounds at 0 s, 2 s and the end, 3 s
    # every post released before the last round is stored, once
    db = Database(tmp_path / "home" / "ecoin.duckdb")
    stored = {r[0] for r in db.query("SELECT post_id FROM posts")}
    newest = max(stored)
    assert {i for i in released(server, "bitcoin") if i <= newest} == stored
    rows = [
        json.loads(line)
        for line in ecoin("tweets", "export", "--format", "jsonl").stdout.splitlines()
    ]
    assert rows and len({r["id"] for r in rows}) == len(rows)
    assert {"id", "created_at", "topics", "text_raw", "text_clean"} <= set(rows[0])
    assert all(r["topics"] == ["bitcoin"] for r in rows)
    csv_out = ecoin("tweets", "export", "--topic", "bitcoin").stdout.splitlines()
    assert csv_out[0].startswith("id,created_at,topics,text_raw,text_clean")
    neither = ecoin("tweets", "ingest", "--topic", "bitcoin")
    assert neither.returncode == 1 and "exactly one of --once or --duration" in neither.stderr


def test_cli_ingest_needs_once_or_duration(tmp_path):
    env = dict(os.environ, ECOIN_HOME=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, "-m", "ecoin_assets", "tweets", "ingest", "--once", "--duration", "5"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error: give exactly one of --once or --duration SECONDS"
