"""Hourly prices, the sandbox's X history and tone, and the hourly sentiment–price correlation."""

from __future__ import annotations

import math
import os
import subprocess
from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest
import requests
from ecoin_cli import run_ecoin
from factories import insert_mood
from fakes import FakeClock

from ecoin_assets.analysis.publish import snapshot_path
from ecoin_assets.analysis.service import correlate
from ecoin_assets.prices.hourly import fetch_hourly, load_hourly, store_hourly
from ecoin_assets.sources.coingecko import HourlyPoint, MalformedAnswerError, parse_hourly
from ecoin_assets.sources.sandbox.market import simulator
from ecoin_assets.sources.sandbox.posts import PostStream
from ecoin_assets.storage import Database

NOW = datetime(2026, 3, 10, 12, 30)


def _ms(when: datetime) -> int:
    return int(when.replace(tzinfo=UTC).timestamp() * 1000)


# -- parsing and fetching ---------------------------------------------------------------------
def test_parse_hourly_keeps_one_point_per_hour_the_first_after_its_start():
    start = datetime(2026, 3, 1)
    stamps = [start + timedelta(minutes=5 * i, seconds=37) for i in range(36)]  # 3 hours
    body = {
        key: [[_ms(t), float(i + 1)] for i, t in enumerate(stamps)]
        for key in ("prices", "market_caps", "total_volumes")
    }
    points = parse_hourly(body, "bitcoin", start, start + timedelta(hours=2, minutes=59))
    assert [p.hour for p in points] == [start + timedelta(hours=h) for h in range(3)]
    assert [p.price_usd for p in points] == [1.0, 13.0, 25.0]
    assert points[1].ts == start + timedelta(hours=1, seconds=37)
    with pytest.raises(MalformedAnswerError):
        parse_hourly({"prices": "nope"}, "bitcoin", start, start)


def test_hourly_prices_come_from_the_sandbox_in_89_day_windows(fast_client):
    client = fast_client()
    end = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=1)
    points, answers = client.hourly_prices("bitcoin", end - timedelta(days=3), end)
    assert len(answers) == 1
    assert 71 <= len(points) <= 73
    hours = [p.hour for p in points]
    assert hours == sorted(set(hours))
    market = simulator()
    for p in points[::10]:
        assert p.price_usd == pytest.approx(market.at("bitcoin", _ms(p.ts)).price, rel=1e-9)
    long, calls = client.hourly_prices("bitcoin", end - timedelta(days=100), end)
    assert len(calls) == 2  # 89 + 11 days: both answered hourly, not daily
    assert len(long) >= 100 * 24 - 2


def test_fetch_hourly_stores_every_coin_once_and_is_idempotent(fast_client, tmp_path):
    db = Database(tmp_path / "ecoin.duckdb")
    client = fast_client()
    now = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=3)
    fetched = fetch_hourly(db, client, ["bitcoin", "solana"], 2, now=now)
    assert [(f.coin_id, f.calls) for f in fetched] == [("bitcoin", 1), ("solana", 1)]
    query = (
        "SELECT coin_id, count(*), count(DISTINCT hour) FROM prices_hourly GROUP BY 1 ORDER BY 1"
    )
    rows = db.query(query)
    assert [r[0] for r in rows] == ["bitcoin", "solana"]
    assert all(n == distinct and 48 <= n <= 49 for _, n, distinct in rows)
    fetch_hourly(db, client, ["bitcoin", "solana"], 2, now=now)
    assert db.query(query) == rows
    before = db.query("SELECT * FROM prices_hourly ORDER BY coin_id, hour")
    with pytest.raises(Exception, match="--days must be between 1 and 365"):
        fetch_hourly(db, client, ["bitcoin"], 400)
    assert db.query("SELECT * FROM prices_hourly ORDER BY coin_id, hour") == before


# -- the X sandbox's history and tone ---------------------------------------------------------
def test_history_posts_come_before_the_live_ones_at_their_own_rate():
    start = _ms(NOW)
    stream = PostStream(
        ("bitcoin",),
        rate_per_minute=60,
        start_ms=start,
        history_minutes=24 * 60,
        history_rate_per_minute=2,
    )
    assert stream.history_posts == 2 * 24 * 60
    assert stream.time_of(0) == start - 86_400_000
    assert stream.time_of(stream.history_posts) == start
    assert stream.time_of(stream.history_posts - 1) == start - 30_000
    assert stream.released(start - 86_400_000 - 1) == 0
    assert stream.released(start - 1) == stream.history_posts
    assert stream.released(start + 60_000) == stream.history_posts + 61  # at 0, 1, .., 60 s
    ids = [
        int(stream.post(k).id) for k in range(stream.history_posts - 3, stream.history_posts + 3)
    ]
    assert ids == sorted(ids)


def test_a_fresh_sandbox_serves_its_history_through_recent_search(x_sandbox_factory):
    clock = FakeClock()
    server = x_sandbox_factory(
        clock=clock, backlog_minutes=0, history_days=2, history_rate_per_minute=1
    )
    url = f"http://127.0.0.1:{server.server_address[1]}/2/tweets/search/recent"
    oldest = None
    token = None
    for _ in range(40):
        params = {"query": "bitcoin", "max_results": 100, "tweet.fields": "created_at"}
        if token:
            params["next_token"] = token
        body = requests.get(url, params=params, headers={"Authorization": "Bearer t"}).json()
        oldest = body["data"][-1]["created_at"]
        token = body["meta"].get("next_token")
        if not token:
            break
    first = datetime.fromisoformat(oldest.replace("Z", "+00:00"))
    assert datetime.fromtimestamp(clock(), UTC) - first > timedelta(days=1, hours=23)


def test_post_tone_follows_the_coins_move_over_the_hour_before():
    stream = PostStream(("bitcoin",), rate_per_minute=5, start_ms=_ms(NOW) - 4 * 86_400_000)
    market = stream.market
    tone, move = [], []
    for k in range(5 * 60 * 24 * 4):
        post = stream.post(k)
        if post.kind != "original":
            continue
        ts = stream.time_of(k)
        tone.append({"negative": -1, "neutral": 0, "positive": 1}[post.mood])
        move.append(
            math.log(market.at("bitcoin", ts).price / market.at("bitcoin", ts - 3_600_000).price)
        )
    assert np.corrcoef(tone, move)[0, 1] > 0.3


# -- the hourly correlation ------------------------------------------------------------------
def _planted(db: Database, mood: np.ndarray, sentiment: np.ndarray, hours) -> None:
    """Hourly prices whose move during hour h follows mood[h] (observed just before its end:
    an observation after it would belong to the next hour); hour h's sentiment given."""
    rng = np.random.default_rng(3)
    log_price = np.log(100) + np.cumsum(0.01 * mood + rng.normal(0, 0.003, len(mood)))
    points = [
        HourlyPoint(
            "syn",
            h,
            h + pd.Timedelta(minutes=59, seconds=37),
            float(p),
            None,
            None,
        )
        for h, p in zip(hours, np.exp(log_price), strict=True)
    ]
    store_hourly(db, points, "test")
    with db.write() as con:
        for h, value in zip(hours, sentiment, strict=True):
            insert_mood(con, "syn", h + pd.Timedelta(minutes=30), "v1", value)


def test_hourly_correlation_finds_a_same_hour_relation_and_none_when_shuffled(tmp_path):
    hours = pd.date_range("2026-03-01", periods=24 * 7, freq="h")
    rng = np.random.default_rng(1)
    mood = np.tanh(rng.normal(0, 0.8, len(hours)))
    db = Database(tmp_path / "ecoin.duckdb")
    _planted(db, mood, mood, hours)
    assert len(load_hourly(db, "syn")) == len(hours)
    aligned, stats = correlate(db, "syn", "syn", "v1", "hour")
    assert len(aligned) == len(hours)
    ret = stats[(stats["against"] == "return") & (stats["method"] == "pearson")].set_index("lag")
    assert ret.loc[0, "r"] > 0.7 and ret.loc[0, "p_value"] < 1e-10
    assert ret.drop(index=0)["r"].abs().max() < 0.3
    assert db.query("SELECT DISTINCT freq FROM sentiment_price_correlation") == [("hour",)]

    shuffled = Database(tmp_path / "shuffled.duckdb")
    _planted(shuffled, mood, rng.permutation(mood), hours)
    _, none = correlate(shuffled, "syn", "syn", "v1", "hour")
    same = none[(none["against"] == "return") & (none["lag"] == 0)]
    assert (same["p_value"] > 0.01).all()


def test_the_correlation_asset_publishes_both_frequencies(monkeypatch, ecoin_home):
    import dagster as dg

    from ecoin_assets.analysis.assets import sentiment_price_correlation
    from ecoin_assets.resources import build_resources

    monkeypatch.setenv("ECOIN_COINS", "bitcoin,ethereum")
    result = dg.materialize([sentiment_price_correlation], resources=build_resources())
    assert result.success
    meta = result.asset_materializations_for_node("sentiment_price_correlation")[0].metadata
    assert set(meta["best_lag_vs_returns_hourly"].value) == {"bitcoin", "ethereum"}
    assert "no scored posts" in meta["best_lag_vs_returns_daily"].value["bitcoin"]
    path = snapshot_path(ecoin_home)
    assert meta["published"].value == str(path)
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
        assert tables == {"sentiment_aggregates", "price_sentiment", "correlation", "snapshot"}
    finally:
        con.close()
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".analysis-")]


def test_cli_fetch_hourly_then_correlate_hourly(tmp_path, sandbox):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COINGECKO_", "ECOIN_", "X_"))}
    env.update(ECOIN_HOME=str(tmp_path / "home"), COINGECKO_API_URL=sandbox.api_url)

    def ecoin(*args: str) -> subprocess.CompletedProcess:
        return run_ecoin(*args, env=env, timeout=180)

    done = ecoin("prices", "fetch-hourly", "--coin", "bitcoin", "--days", "2")
    assert done.returncode == 0, done.stderr
    assert "bitcoin: " in done.stdout and "hours" in done.stdout
    bad = ecoin("prices", "fetch-hourly", "--coin", "bitcoin", "--days", "0")
    assert bad.returncode != 0 and "--days" in bad.stderr
    none = ecoin(
        "analysis", "correlation", "--coin", "bitcoin", "--topic", "bitcoin", "--freq", "hour"
    )
    assert none.returncode != 0
    assert "no scored posts on topic 'bitcoin'" in none.stderr
    assert len(none.stderr.strip().splitlines()) == 1
