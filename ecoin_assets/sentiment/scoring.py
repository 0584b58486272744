"""Scoring stored posts with a sentiment model, and the per-topic sentiment aggregates.

Every post kept for sentiment (`posts.keep`) gets one `post_sentiment` row per model version
that scored it: label, the three probabilities, `score = p_positive - p_negative` (in [-1, 1])
and the time. Ingestion scores new posts in the transaction that stores them; `score_pending`
scores what a version has not scored yet (a new model, or posts stored before scoring
existed), and never overwrites another version's rows.

Aggregates per topic, minute and version (`topic_minute_sentiment`), added to as scores and
links are written (each pair of a post's topic link and its score counts once, when the later
of the two is written), so a write costs what its batch holds, whatever is stored:
- `mean_sentiment`: the mean score of the minute's posts;
- `share_negative` / `share_positive`: the shares of posts labelled so;
- `weighted_sentiment`: `mean_sentiment * ln(1 + scored)`, sentiment that counts for more when
  more posts carry it (the volume-weighted score; zero for a minute without posts).
- `engaged_weight` / `engaged_total`: the sums of the posts' engagement weights
  (`ENGAGEMENT_WEIGHT`) and of their weighted scores, whose ratio over any period is the
  engagement-weighted sentiment. X's public_metrics are those of the post when it was stored
  (seconds after it was written, mostly zero) and are not read again, so a fresh post weighs 1
  and the weight tells apart posts that had drawn engagement when collected (recovered or
  older posts).
Over a longer window, `window_sentiment` weighs each minute by its posts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import pandas as pd

from ecoin_assets.sentiment.registry import Classifier
from ecoin_assets.storage import Connection, Database
from ecoin_assets.storage.rows import insert_new_rows
from ecoin_assets.storage.sql import dialect_of, ratio

#: a post's weight in engagement-weighted sentiment, over `posts p`: 1 + ln(1 + likes +
#: 2 retweets + replies + quotes)
ENGAGEMENT_WEIGHT = (
    "(1 + ln(1 + coalesce(p.like_count, 0) + 2 * coalesce(p.retweet_count, 0) "
    "+ coalesce(p.reply_count, 0) + coalesce(p.quote_count, 0)))"
)

BATCH = 1000
AGGREGATES_LOCK = 7_301_884  # the PostgreSQL advisory lock of per-minute aggregate writers
_KEY = ["post_id", "model_version"]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def score_rows(
    classifier: Classifier, posts: Sequence[tuple[int, str]], now: datetime
) -> list[tuple]:
    """`post_sentiment` rows for `(post_id, text_clean)` pairs (text already cleaned)."""
    predictions = classifier.classify([text for _, text in posts], clean=True)
    return [
        (
            post_id,
            classifier.version,
            p.label,
            p.p_negative,
            p.p_neutral,
            p.p_positive,
            p.p_positive - p.p_negative,
            now,
        )
        for (post_id, _), p in zip(posts, predictions, strict=True)
    ]


def write_scores(con: Connection, rows: list[tuple], now: datetime) -> None:
    """Insert the scores not stored yet and add them to the minutes of their posts' topics."""
    if not rows:
        return
    serialize_aggregates(con)
    con.register("incoming_scores", pd.DataFrame([r[:2] for r in rows], columns=_KEY))
    known = set(
        con.execute(
            "SELECT s.post_id, s.model_version FROM post_sentiment s "
            "JOIN incoming_scores i USING (post_id, model_version)"
        ).fetchall()
    )
    con.unregister("incoming_scores")
    new = [r for r in rows if (r[0], r[1]) not in known]
    if not new:
        return
    insert_new_rows(con, "post_sentiment", new)
    con.register(
        "new_scores",
        pd.DataFrame([(r[0], r[1], r[2], r[6]) for r in new], columns=[*_KEY, "label", "score"]),
    )
    pairs = con.execute(
        f"""
        SELECT t.topic, date_trunc('minute', p.created_at) AS minute, n.model_version,
               n.label, n.score, {ENGAGEMENT_WEIGHT} AS weight
        FROM new_scores n JOIN posts p ON p.post_id = n.post_id
        JOIN post_topics t ON t.post_id = n.post_id
        WHERE p.created_at IS NOT NULL
        """
    ).df()
    con.unregister("new_scores")
    add_to_minutes(con, pairs, now)


def add_linked_scores(con: Connection, links: str, now: datetime) -> None:
    """Add the stored scores of posts newly linked to a topic (`links`: a registered relation
    of `post_id, topic`) to that topic's minutes: each (link, score) pair counts once, when
    the later of the two is written."""
    pairs = con.execute(
        f"""
        SELECT n.topic, date_trunc('minute', p.created_at) AS minute, s.model_version,
               s.label, s.score, {ENGAGEMENT_WEIGHT} AS weight
        FROM {links} n JOIN posts p ON p.post_id = n.post_id
        JOIN post_sentiment s ON s.post_id = n.post_id
        WHERE p.created_at IS NOT NULL
        """
    ).df()
    add_to_minutes(con, pairs, now)


def add_to_minutes(con: Connection, pairs: pd.DataFrame, now: datetime) -> None:
    """Add scores (`topic, minute, model_version, label, score, weight`) to
    `topic_minute_sentiment`:
    counts and sums grow, means and shares follow, from this batch alone (incremental: the
    cost does not grow with what is stored)."""
    if pairs.empty:
        return
    grouped = pairs.assign(
        negative=pairs["label"].eq("negative").astype(int),
        neutral=pairs["label"].eq("neutral").astype(int),
        positive=pairs["label"].eq("positive").astype(int),
        weighted=pairs["weight"] * pairs["score"],
    ).groupby(["topic", "minute", "model_version"], as_index=False)
    frame = grouped.agg(
        scored=("score", "size"),
        negative=("negative", "sum"),
        neutral=("neutral", "sum"),
        positive=("positive", "sum"),
        total=("score", "sum"),
        engaged_weight=("weight", "sum"),
        engaged_total=("weighted", "sum"),
    )
    con.register("sentiment_increments", frame)
    old, new = "topic_minute_sentiment", "excluded"
    scored = f"({old}.scored + {new}.scored)"
    total = f"({old}.mean_sentiment * {old}.scored + {new}.mean_sentiment * {new}.scored)"
    mean = f"({total} / {scored})"
    con.execute(
        f"""
        INSERT INTO topic_minute_sentiment
        SELECT topic, minute, model_version, scored, negative, neutral, positive,
               total / scored, {ratio("negative", "scored")}, {ratio("positive", "scored")},
               total / scored * ln(1 + scored), ?, engaged_weight, engaged_total
        FROM sentiment_increments
        ON CONFLICT (topic, minute, model_version) DO UPDATE SET
            scored = {scored},
            negative = {old}.negative + {new}.negative,
            neutral = {old}.neutral + {new}.neutral,
            positive = {old}.positive + {new}.positive,
            mean_sentiment = {mean},
            share_negative = {ratio(f"({old}.negative + {new}.negative)", scored)},
            share_positive = {ratio(f"({old}.positive + {new}.positive)", scored)},
            weighted_sentiment = {mean} * ln(1 + {scored}),
            updated_at = {new}.updated_at,
            engaged_weight = coalesce({old}.engaged_weight, 0) + {new}.engaged_weight,
            engaged_total = coalesce({old}.engaged_total, 0) + {new}.engaged_total
        """,
        [now],
    )
    con.unregister("sentiment_increments")


def serialize_aggregates(con: Connection) -> None:
    """On PostgreSQL, make writers of the per-minute aggregates take turns until commit (they
    add to counts from what they see as new); DuckDB has one writer already."""
    if dialect_of(con) == "postgres":
        con.execute(f"SELECT pg_advisory_xact_lock({AGGREGATES_LOCK})")


def pending(db: Database, version: str, limit: int = BATCH) -> list[tuple[int, str]]:
    """Kept posts the version has not scored yet, oldest first."""
    return db.query(
        """
        SELECT p.post_id, p.text_clean FROM posts p
        WHERE p.keep AND NOT EXISTS (
            SELECT 1 FROM post_sentiment s
            WHERE s.post_id = p.post_id AND s.model_version = ?)
        ORDER BY p.post_id LIMIT ?
        """,
        [version, limit],
    )


def score_pending(
    db: Database,
    classifier: Classifier,
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Score every kept post the classifier's version has not scored; returns how many.

    The model runs outside the write lock; each batch is written in its own transaction.
    """
    total = 0
    while posts := pending(db, classifier.version, batch):
        now = _now()
        rows = score_rows(classifier, posts, now)
        with db.write() as con:
            write_scores(con, rows, now)
        total += len(rows)
        if progress:
            progress(total)
        if len(posts) < batch:
            break
    return total


def scored_versions(db: Database) -> dict[str, int]:
    return dict(
        db.query("SELECT model_version, count(*) FROM post_sentiment GROUP BY 1 ORDER BY 1")
    )


def window_sentiment(
    db: Database, version: str, start: datetime, end: datetime, topic: str | None = None
) -> pd.DataFrame:
    """Per topic over [start, end): posts scored, mean sentiment (each post counts once, so
    minutes weigh by their volume), label shares and the volume-weighted score."""
    with db.read() as con:
        return window_totals(con, version, start, end, topic)


def window_totals(
    con: Connection,
    version: str,
    start: datetime,
    end: datetime,
    topic: str | None = None,
) -> pd.DataFrame:
    """`window_sentiment` on an open connection."""
    return con.execute(
        f"""
        SELECT topic, sum(scored) AS scored,
               sum(mean_sentiment * scored) / sum(scored) AS mean_sentiment,
               {ratio("sum(negative)", "sum(scored)")} AS share_negative,
               {ratio("sum(neutral)", "sum(scored)")} AS share_neutral,
               {ratio("sum(positive)", "sum(scored)")} AS share_positive,
               sum(mean_sentiment * scored) / sum(scored) * ln(1 + sum(scored))
                   AS weighted_sentiment
        FROM topic_minute_sentiment
        WHERE model_version = ? AND minute >= ? AND minute < ?
              {"AND topic = ?" if topic else ""}
        GROUP BY topic ORDER BY topic
        """,
        [version, start, end, *([topic] if topic else [])],
    ).df()


def daily_sentiment(db: Database, topic: str, version: str) -> pd.DataFrame:
    """Per UTC day of one topic: mean sentiment (each post once) and posts scored, as
    `coin_id, date, sentiment_mean, posts` for the forecaster's features (topic = coin id)."""
    return db.query_df(
        """
        SELECT topic AS coin_id, CAST(minute AS DATE) AS date,
               sum(mean_sentiment * scored) / sum(scored) AS sentiment_mean,
               sum(scored) AS posts
        FROM topic_minute_sentiment WHERE topic = ? AND model_version = ?
        GROUP BY topic, CAST(minute AS DATE) ORDER BY date
        """,
        [topic, version],
    )
