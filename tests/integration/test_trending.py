"""Trending terms: what a post counts, counted once as posts are stored, and what rises."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta

from fastapi.testclient import TestClient

from ecoin_assets.config import load_settings
from ecoin_assets.serving.data_api import create_app
from ecoin_assets.signals.trending import trending_terms
from ecoin_assets.sources.x import XSource
from ecoin_assets.storage import Database
from ecoin_assets.tweets.ingest import ingest_once
from ecoin_assets.tweets.terms import post_terms

END = datetime(2026, 11, 30, 12, 0)


def test_the_terms_of_a_post():
    text = "RT Bitcoin to the moon 🚀🚀 #BTC $BTC.X https://t.co/abc @elon it's GREAT, hodl!"
    assert post_terms(text) == {
        ("bitcoin", "word"),
        ("moon", "word"),
        ("great", "word"),
        ("hodl", "word"),
        ("🚀", "emoji"),
        ("#btc", "hashtag"),
        ("$btc", "cashtag"),
    }


def test_ingestion_counts_each_kept_post_once(x_sandbox_factory, tmp_path):
    server = x_sandbox_factory(clock=time.time, rate_per_minute=600, backlog_minutes=2)
    db = Database(tmp_path / "ecoin.duckdb")
    source = XSource(server.url, "token", backoff=0.01)
    ingest_once(db, source, ["bitcoin", "ethereum"])
    time.sleep(1.5)
    ingest_once(db, source, ["bitcoin", "ethereum"])
    expected: Counter = Counter()
    rows = db.query(
        "SELECT t.topic, p.text_raw FROM posts p JOIN post_topics t USING (post_id) WHERE p.keep"
    )
    for topic, text in rows:
        for term, _ in post_terms(text):
            expected[(topic, term)] += 1
    counted = db.query("SELECT topic, term, sum(posts) FROM topic_term_counts GROUP BY 1, 2")
    assert {(t, term): n for t, term, n in counted} == dict(expected)
    assert len(expected) > 20


def _store(db: Database, rows: list[tuple[datetime, str, int]], kept: dict[datetime, int]):
    with db.write() as con:
        for bucket, term, posts in rows:
            kind = "emoji" if not term.isalpha() else "word"
            con.execute(
                "INSERT INTO topic_term_counts VALUES ('bitcoin', ?, ?, ?, ?)",
                [bucket, term, kind, posts],
            )
        for minute, n in kept.items():
            con.execute(
                "INSERT INTO topic_minute_stats VALUES ('bitcoin', ?, ?, ?, ?)",
                [minute, n, n, END],
            )


def test_a_rising_term_trends_and_a_burst_of_volume_alone_does_not(ecoin_home):
    db = Database(ecoin_home / "ecoin.duckdb")
    rows, kept = [], {}
    for k in range(1, 12 * 6 + 1):  # 12 hours of 10-minute buckets before END
        bucket = END - timedelta(minutes=10 * k)
        recent = k <= 6  # the last hour: twice the posts, "etf" in most of them
        posts = 40 if recent else 20
        kept[bucket] = posts
        rows.append((bucket, "bitcoin", posts))  # in every post: steady share
        rows.append((bucket, "price", posts // 4))  # a steady quarter
        rows.append((bucket, "etf", 30 if recent else 1))
        if recent:
            rows.append((bucket, "🚀", 2))  # new, but in too few posts a bucket to matter
    _store(db, rows, kept)
    with db.read() as con:
        top = trending_terms(con, "bitcoin", END - timedelta(seconds=1), 60, limit=5)
    assert top["term"].iloc[0] == "etf" and top["z"].iloc[0] > 10
    steady = top.set_index("term").reindex(["bitcoin", "price"])["z"].fillna(0)
    assert (steady.abs() < 1).all()  # more posts, the same share: not trending
    api = TestClient(create_app(load_settings()))
    answer = api.get(
        "/trending", params={"topic": "bitcoin", "end": "2026-11-30T11:59:59", "limit": 3}
    )
    assert answer.json()["rows"][0]["term"] == "etf"
    bad = api.get("/trending", params={"topic": "bitcoin", "window": 15})
    assert bad.status_code == 422 and "steps of 10" in bad.json()["error"]
