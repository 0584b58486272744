"""Ingest X posts for topics: search since each topic's cursor, clean, store exactly once.

One call of `ingest_once` is one unit of work: it searches every topic from its stored cursor,
cleans the posts it has not stored yet, and writes posts, topic links, per-minute counts and
the advanced cursors in a single transaction. A run that dies half-way therefore writes
nothing and the next one fetches the same posts again; a re-run writes nothing new (post ids
are primary keys, inserts skip known ids). A post found under several topics is stored once
and linked to each. With a classifier, the new kept posts are scored in the same transaction
(`post_sentiment`, `topic_minute_sentiment`), so every stored post has its sentiment at once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pandas as pd

from ecoin_assets.cleaning import Deduplicator, duplicate_key, preprocess
from ecoin_assets.sources.x import Tweet, XSource
from ecoin_assets.storage import Connection, Database
from ecoin_assets.storage.rows import insert_new_rows
from ecoin_assets.tweets.terms import term_counts
from ecoin_assets.tweets.topics import as_queries

if TYPE_CHECKING:
    from ecoin_assets.sentiment.registry import Classifier

DEDUP_WINDOW = timedelta(hours=2)  # copies and bot bursts come close together


@dataclass
class IngestResult:
    fetched: int = 0  # distinct posts the searches returned
    stored: int = 0  # new posts written
    kept: int = 0  # new posts kept for sentiment
    linked: int = 0  # new (post, topic) links
    scored: int = 0  # new posts scored for sentiment
    calls: int = 0
    retries: int = 0
    per_topic: dict[str, int] = field(default_factory=dict)  # new posts per topic
    new_ids: set[int] = field(default_factory=set, repr=False)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "new_ids"}


def read_cursors(db: Database, topics: Sequence[str]) -> dict[str, int]:
    rows = db.query("SELECT topic, newest_id FROM topic_cursors")
    return {t: n for t, n in rows if t in topics}


class RecentKeys:
    """The duplicate keys of the kept posts created in the last DEDUP_WINDOW.

    Read whole once; after that, each batch reads only the posts stored since the previous
    read (by `ingested_at`, with an overlap for writers still committing then) and forgets keys
    that left the window, so a long-running service pays for what arrived, not for the window
    (at 250 posts/s two hours hold 1.8 million posts). `ingest_once` takes a fresh one."""

    OVERLAP = timedelta(seconds=10)

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self._newest: dict[str, datetime] = {}
        self._ages: deque[tuple[datetime, str]] = deque()
        self._read_from: datetime | None = None

    def deduplicator(self, con: Connection, now: datetime) -> Deduplicator:
        since = now - DEDUP_WINDOW
        sql = "SELECT text_clean, created_at FROM posts WHERE keep AND created_at >= ?"
        params: list = [since]
        if self._read_from is not None:
            sql += " AND ingested_at >= ?"
            params.append(self._read_from)
        rows = con.execute(sql + " ORDER BY created_at", params).fetchall()
        for text, created in rows:
            self.remember(duplicate_key(text), created)
        self._read_from = now - self.OVERLAP
        while self._ages and self._ages[0][0] < since:
            created, key = self._ages.popleft()
            if self._newest.get(key, since) < since:
                self.keys.discard(key)
                self._newest.pop(key, None)
        return Deduplicator(self.keys)  # shares the set: this batch's keys join it

    def remember(self, key: str, created: datetime) -> None:
        if not key:
            return
        self.keys.add(key)
        if created > self._newest.get(key, datetime.min):
            self._newest[key] = created
            self._ages.append((created, key))


def ingest_once(
    db: Database,
    source: XSource,
    topics: Mapping[str, str] | Sequence[str],
    languages: Sequence[str] = ("en",),
    classifier: Classifier | None = None,
) -> IngestResult:
    """Search every topic once (all pages since its cursor) and store (and score) what is new.
    `topics`: name -> X query, or queries each named by itself."""
    queries = as_queries(topics)
    cursors = read_cursors(db, list(queries))
    results = {name: source.search(q, cursors.get(name)) for name, q in queries.items()}
    tweets: dict[int, Tweet] = {}
    links: set[tuple[int, str]] = set()
    for name, r in results.items():
        for tweet in r.tweets:
            tweets[tweet.id] = tweet
            links.add((tweet.id, name))
    cursors_after = {n: r.newest_id for n, r in results.items() if r.newest_id is not None}
    result = store_posts(
        db, tweets, links, cursors_after, f"x:{source.base_url}", languages, classifier
    )
    result.calls = sum(r.calls for r in results.values())
    result.retries = sum(r.retries for r in results.values())
    for name, r in results.items():
        result.per_topic[name] = sum(1 for t in r.tweets if t.id in result.new_ids)
    return result


def store_posts(
    db: Database,
    tweets: dict[int, Tweet],
    links: set[tuple[int, str]],
    cursors: dict[str, int],
    source_label: str,
    languages: Sequence[str] = ("en",),
    classifier: Classifier | None = None,
    recent: RecentKeys | None = None,
) -> IngestResult:
    """Store one batch in one transaction: the posts not stored yet (cleaned, filtered and,
    with a classifier, scored), their topic links, per-minute counts and the topics' cursors
    (`cursors`: topic -> newest post id seen; a cursor only moves forward).

    What is known is read first, in a transaction of its own, and cleaning and scoring happen
    between the two, so neither holds the database for long (readers of a DuckDB file wait for
    the writer to close it). Inserts skip ids stored meanwhile, so a post is still stored once."""
    result = IngestResult(fetched=len(tweets))
    now = datetime.now(UTC).replace(tzinfo=None)
    with db.write() as con:  # reads only; `register` needs a writable connection (PostgreSQL)
        known = _known_ids(con, list(tweets))
        recent = recent or RecentKeys()
        dedup = recent.deduplicator(con, now)
    rows = []
    for tid in sorted(set(tweets) - known):
        t = tweets[tid]
        post = preprocess(
            str(tid),
            t.text,
            lang=t.lang,
            is_retweet=t.is_retweet,
            languages=languages,
            dedup=dedup,
        )
        created = t.created_at.astimezone(UTC).replace(tzinfo=None) if t.created_at else now
        if post.keep:
            recent.remember(duplicate_key(post.text_clean), created)
        rows.append(
            (
                tid,
                created,
                t.author_id,
                t.lang,
                t.text,
                post.text_clean,
                list(post.tokens),
                t.is_retweet,
                post.keep,
                post.drop_reason,
                source_label,
                now,
                *(t.metrics or (None, None, None, None)),
            )
        )
    scores = []
    if classifier is not None:
        from ecoin_assets.sentiment.scoring import score_rows

        scores = score_rows(classifier, [(r[0], r[5]) for r in rows if r[8]], now)
    with db.write() as con:
        if rows:
            stored_meanwhile = _known_ids(con, [r[0] for r in rows])
            rows = [r for r in rows if r[0] not in stored_meanwhile]
            insert_new_rows(con, "posts", rows)
            _add_terms(con, rows, links)
        result.stored = len(rows)
        result.new_ids = {r[0] for r in rows}
        result.kept = sum(1 for r in rows if r[8])
        result.linked = _add_links(con, links, now)
        for topic, newest_id in cursors.items():
            con.execute(
                "INSERT INTO topic_cursors VALUES (?, ?, ?) ON CONFLICT (topic) DO UPDATE "
                "SET newest_id = greatest(topic_cursors.newest_id, excluded.newest_id), "
                "updated_at = excluded.updated_at",
                [topic, newest_id, now],
            )
        if scores:
            from ecoin_assets.sentiment.scoring import write_scores

            write_scores(con, scores, now)
        result.scored = len(scores)
    return result


def _add_terms(con: Connection, rows: list[tuple], links: set[tuple[int, str]]) -> None:
    """Add the terms of the new kept posts to `topic_term_counts` (rows: posts' columns)."""
    topics: dict[int, list[str]] = {}
    for pid, topic in links:
        topics.setdefault(pid, []).append(topic)
    counts = term_counts((r[4], r[1], topics.get(r[0], ())) for r in rows if r[8])
    if not counts:
        return
    frame = pd.DataFrame(counts, columns=["topic", "bucket", "term", "kind", "posts"])
    con.register("new_term_counts", frame)
    con.execute(
        "INSERT INTO topic_term_counts SELECT topic, bucket, term, kind, posts "
        "FROM new_term_counts ON CONFLICT (topic, bucket, term) "
        "DO UPDATE SET posts = topic_term_counts.posts + excluded.posts"
    )
    con.unregister("new_term_counts")


def _known_ids(con: Connection, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    con.register("candidate_ids", pd.DataFrame({"post_id": ids}))
    rows = con.execute("SELECT post_id FROM posts JOIN candidate_ids USING (post_id)").fetchall()
    con.unregister("candidate_ids")
    return {r[0] for r in rows}


def _add_links(con: Connection, links: set[tuple[int, str]], now: datetime) -> int:
    """Store the (post, topic) links not stored yet and add them to the per-minute counts
    (`topic_minute_stats`), authors (`topic_minute_authors`) and, for posts already scored,
    to the sentiment aggregates: from
    this batch alone, so the cost does not grow with what is stored. Returns how many."""
    from ecoin_assets.sentiment.scoring import add_linked_scores, serialize_aggregates

    if not links:
        return 0
    serialize_aggregates(con)
    con.register("batch_links", pd.DataFrame(sorted(links), columns=["post_id", "topic"]))
    new = con.execute(
        "SELECT b.post_id, b.topic FROM batch_links b WHERE NOT EXISTS ("
        "SELECT 1 FROM post_topics t WHERE t.post_id = b.post_id AND t.topic = b.topic)"
    ).fetchall()
    con.unregister("batch_links")
    if not new:
        return 0
    insert_new_rows(con, "post_topics", new)
    con.register("new_links", pd.DataFrame(new, columns=["post_id", "topic"]))
    con.execute(
        """
        INSERT INTO topic_minute_stats
        SELECT n.topic, date_trunc('minute', p.created_at), count(*),
               count(*) FILTER (WHERE p.keep), ?
        FROM new_links n JOIN posts p ON p.post_id = n.post_id
        WHERE p.created_at IS NOT NULL
        GROUP BY 1, 2
        ON CONFLICT (topic, minute) DO UPDATE SET
            posts = topic_minute_stats.posts + excluded.posts,
            kept = topic_minute_stats.kept + excluded.kept,
            updated_at = excluded.updated_at
        """,
        [now],
    )
    con.execute(
        """
        INSERT INTO topic_minute_authors
        SELECT DISTINCT n.topic, date_trunc('minute', p.created_at), p.author_id
        FROM new_links n JOIN posts p ON p.post_id = n.post_id
        WHERE p.created_at IS NOT NULL AND p.author_id IS NOT NULL
        ON CONFLICT DO NOTHING
        """
    )
    add_linked_scores(con, "new_links", now)
    con.unregister("new_links")
    return len(new)
