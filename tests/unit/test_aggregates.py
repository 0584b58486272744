"""The per-minute aggregates are added to batch by batch; they must equal a recount from the
stored posts, links and scores, whatever order links and scores arrive in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ecoin_assets.sentiment.scoring import write_scores
from ecoin_assets.sources.x import Tweet
from ecoin_assets.storage import Database
from ecoin_assets.tweets.ingest import store_posts

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
WORDS = ["great rally today friends", "terrible dump again today", "price is flat this week"]


def tweet(i: int) -> Tweet:
    """Seven authors; every fourth post already liked and retweeted when collected."""
    metrics = (3 * i, i % 5, 1, 0) if i % 4 == 0 else (0, 0, 0, 0)
    created = T0 + timedelta(seconds=17 * i)
    return Tweet(i, f"{WORDS[i % 3]} number {i}", created, "en", f"a{i % 7}", False, metrics)


def score(i: int, version: str) -> tuple:
    label = ("positive", "negative", "neutral")[(i + len(version)) % 3]
    value = {"positive": 0.8, "negative": -0.6, "neutral": 0.05}[label]
    p_pos, p_neg = max(value, 0), max(-value, 0)
    return (i, version, label, p_neg, 1 - p_pos - p_neg, p_pos, value, T0)


WEIGHT = (
    "(1 + ln(1 + coalesce(p.like_count, 0) + 2 * coalesce(p.retweet_count, 0) "
    "+ coalesce(p.reply_count, 0) + coalesce(p.quote_count, 0)))"
)


def recount_engagement(db: Database) -> tuple[set, dict]:
    """Unique authors per topic and minute, and the engagement sums, from the posts."""
    authors = db.query(
        "SELECT DISTINCT t.topic, date_trunc('minute', p.created_at), p.author_id "
        "FROM post_topics t JOIN posts p USING (post_id)"
    )
    sums = db.query(
        f"SELECT t.topic, date_trunc('minute', p.created_at), s.model_version, sum({WEIGHT}), "
        f"sum({WEIGHT} * s.score) FROM post_topics t JOIN posts p USING (post_id) "
        "JOIN post_sentiment s USING (post_id) GROUP BY 1, 2, 3"
    )
    return set(authors), {(t, m, v): (w, ws) for t, m, v, w, ws in sums}


def stored_engagement(db: Database) -> tuple[set, dict]:
    authors = db.query("SELECT topic, minute, author_id FROM topic_minute_authors")
    sums = db.query(
        "SELECT topic, minute, model_version, engaged_weight, engaged_total "
        "FROM topic_minute_sentiment"
    )
    return set(authors), {(t, m, v): (w, ws) for t, m, v, w, ws in sums}


def recount(db: Database) -> tuple[dict, dict]:
    stats = db.query(
        "SELECT t.topic, date_trunc('minute', p.created_at), count(*), "
        "count(*) FILTER (WHERE p.keep) FROM post_topics t JOIN posts p USING (post_id) "
        "GROUP BY 1, 2"
    )
    mood = db.query(
        "SELECT t.topic, date_trunc('minute', p.created_at), s.model_version, count(*), "
        "count(*) FILTER (WHERE s.label = 'negative'), count(*) FILTER (WHERE s.label = "
        "'positive'), avg(s.score) FROM post_topics t JOIN posts p USING (post_id) "
        "JOIN post_sentiment s USING (post_id) GROUP BY 1, 2, 3"
    )
    return (
        {(t, m): (n, k) for t, m, n, k in stats},
        {(t, m, v): (n, neg, pos, avg) for t, m, v, n, neg, pos, avg in mood},
    )


def stored(db: Database) -> tuple[dict, dict]:
    stats = db.query("SELECT topic, minute, posts, kept FROM topic_minute_stats")
    mood = db.query(
        "SELECT topic, minute, model_version, scored, negative, positive, mean_sentiment "
        "FROM topic_minute_sentiment"
    )
    return (
        {(t, m): (n, k) for t, m, n, k in stats},
        {(t, m, v): (n, neg, pos, avg) for t, m, v, n, neg, pos, avg in mood},
    )


def test_added_aggregates_equal_a_recount(tmp_path):
    db = Database(tmp_path / "ecoin.duckdb")
    now = T0.replace(tzinfo=None)

    def batch(ids, topic, scores_of=None):
        tweets = {i: tweet(i) for i in ids}
        store_posts(db, tweets, {(i, topic) for i in ids}, {topic: max(ids)}, "x")
        if scores_of:
            with db.write() as con:
                write_scores(con, [score(i, scores_of) for i in ids], now)

    batch(range(0, 40), "bitcoin", scores_of="v1")
    batch(range(30, 70), "bitcoin", scores_of="v1")  # overlaps: ten posts and scores again
    batch(range(20, 50), "ethereum")  # old posts, already scored, linked to a second topic
    batch(range(60, 90), "ethereum", scores_of="v1")  # some old, some new
    with db.write() as con:  # a second model scores everything later
        write_scores(con, [score(i, "v2") for i in range(90)], now)
    batch(range(85, 95), "bitcoin", scores_of="v2")
    counted, added = recount(db), stored(db)
    assert added[0] == counted[0]
    assert set(added[1]) == set(counted[1])
    for key, (n, neg, pos, mean) in counted[1].items():
        assert added[1][key][:3] == (n, neg, pos)
        assert added[1][key][3] == pytest.approx(mean, abs=1e-9)
    assert len(added[1]) > 20
    # unique authors and engagement-weighted sums, kept per minute as posts arrive
    authors, sums = recount_engagement(db)
    kept_authors, kept_sums = stored_engagement(db)
    assert kept_authors == authors and len({a for *_, a in authors}) == 7
    assert set(kept_sums) == set(sums)
    for key, (weight, total) in sums.items():
        assert kept_sums[key] == pytest.approx((weight, total), abs=1e-9)
    assert any(kept_sums[k][0] > added[1][k][0] for k in kept_sums)  # engagement weighs
