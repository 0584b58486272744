"""Scoring stored posts with a sentiment model, and the per-topic sentiment aggregates.

Every post kept for sentiment (`posts.keep`) gets one `post_sentiment` row per model version
that scored it: label, the three probabilities, `score = p_positive - p_negative` (in [-1, 1])
and the time. Ingestion scores new posts in the transaction that stores them; `score_pending`
scores what a version has not scored yet (a new model, or posts stored before scoring
existed), and never overwrites another version's rows.

Aggregates per topic, minute and version (`topic_minute_sentiment`), recomputed for every
minute a write touches:
- `mean_sentiment`: the mean score of the minute's posts;
- `share_negative` / `share_positive`: the shares of posts labelled so;
- `weighted_sentiment`: `mean_sentiment * ln(1 + scored)`, sentiment that counts for more when
  more posts carry it (the volume-weighted score; zero for a minute without posts).
Over a longer window, `window_sentiment` weighs each minute by its posts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

import pandas as pd

from ecoin_assets.sentiment.registry import Classifier
from ecoin_assets.storage import Connection, Database
from ecoin_assets.storage.rows import insert_new_rows
from ecoin_assets.storage.sql import ratio

BATCH = 1000


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
    """Insert scores (skipping any already there) and refresh the minutes they touch."""
    if not rows:
        return
    insert_new_rows(con, "post_sentiment", rows)
    version = rows[0][1]
    con.register("scored_ids", pd.DataFrame({"post_id": [r[0] for r in rows]}))
    touched = con.execute(
        """
        SELECT DISTINCT t.topic, date_trunc('minute', p.created_at)
        FROM scored_ids s JOIN posts p USING (post_id) JOIN post_topics t USING (post_id)
        WHERE p.created_at IS NOT NULL
        """
    ).fetchall()
    con.unregister("scored_ids")
    refresh_minutes(con, touched, version, now)


def refresh_minutes(
    con: Connection,
    touched: Iterable[tuple[str, datetime]],
    version: str,
    now: datetime,
) -> None:
    """Recompute `topic_minute_sentiment` of one version for the given (topic, minute) pairs."""
    frame = pd.DataFrame(sorted(set(touched)), columns=["topic", "minute"])
    if frame.empty:
        return
    con.register("touched_minutes", frame)
    # one set-based pass: a first ingestion can touch thousands of minutes
    con.execute(
        "DELETE FROM topic_minute_sentiment s USING touched_minutes x "
        "WHERE s.topic = x.topic AND s.minute = x.minute AND s.model_version = ?",
        [version],
    )
    con.execute(
        """
        INSERT INTO topic_minute_sentiment
        SELECT x.topic, x.minute, ?, count(*),
               count(*) FILTER (WHERE s.label = 'negative'),
               count(*) FILTER (WHERE s.label = 'neutral'),
               count(*) FILTER (WHERE s.label = 'positive'),
               avg(s.score),
               avg(CASE WHEN s.label = 'negative' THEN 1.0 ELSE 0.0 END),
               avg(CASE WHEN s.label = 'positive' THEN 1.0 ELSE 0.0 END),
               avg(s.score) * ln(1 + count(*)),
               ?
        FROM touched_minutes x
        JOIN post_topics t ON t.topic = x.topic
        JOIN posts p ON p.post_id = t.post_id AND date_trunc('minute', p.created_at) = x.minute
        JOIN post_sentiment s ON s.post_id = p.post_id AND s.model_version = ?
        GROUP BY x.topic, x.minute
        """,
        [version, now, version],
    )
    con.unregister("touched_minutes")


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
