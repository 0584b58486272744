"""Does a batch cost more when more is stored? Per-batch write cost at several database sizes.

For each SIZE, fills a fresh DuckDB file with SIZE posts of one topic spread over the past 7
days, their links, scores and per-minute aggregates (generated in SQL), then writes BATCHES
live batches of 60 new posts the way the stream service does (`ingest.store_posts` with one
`RecentKeys` across batches: posts, links, cursors, term counts and per-minute counts in one
transaction; then their scores with `scoring.write_scores`) and prints the median and p95
milliseconds a batch. The first batch reads the two-hour duplicate window whole; it is
counted.

    .venv/bin/python benchmarks/ingest_scaling_bench.py [--sizes 100000,5000000] [--batches 30]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

TOPIC, VERSION, PER_BATCH = "bitcoin", "bench-v1", 60
WORDS = ["bitcoin rally today", "bitcoin dump again", "price flat, wen moon", "hodl and wait"]


def fill(path: Path, size: int, now: datetime) -> None:
    from ecoin_assets.storage import Database

    db = Database(path)
    start = now - timedelta(days=7)
    step = 7 * 86_400 / size
    with db.write() as con:  # creates the schema
        con.execute(
            f"""
            INSERT INTO posts
            SELECT i, ?::TIMESTAMP + to_microseconds(CAST(i * {step * 1e6} AS BIGINT)),
                   'a' || (i % 5000), 'en', 'bitcoin post ' || i, 'bitcoin post ' || i,
                   ['bitcoin', 'post'], false, true, NULL, 'bench', ?, 0, 0, 0, 0
            FROM range({size}) r(i)
            """,
            [start, now],
        )
        con.execute(f"INSERT INTO post_topics SELECT i, '{TOPIC}' FROM range({size}) r(i)")
        con.execute(
            f"""
            INSERT INTO post_sentiment
            SELECT post_id, '{VERSION}', 'neutral', 0.1, 0.8, 0.1, 0.0, ? FROM posts
            """,
            [now],
        )
        con.execute(
            """
            INSERT INTO topic_minute_stats
            SELECT 'bitcoin', date_trunc('minute', created_at), count(*), count(*), ?
            FROM posts GROUP BY 2
            """,
            [now],
        )
        con.execute(
            f"""
            INSERT INTO topic_minute_sentiment
            SELECT 'bitcoin', date_trunc('minute', created_at), '{VERSION}', count(*), 0,
                   count(*), 0, 0.0, 0.0, 0.0, 0.0, ?, count(*), 0.0
            FROM posts GROUP BY 2
            """,
            [now],
        )
        con.execute(
            """
            INSERT INTO topic_minute_authors
            SELECT DISTINCT 'bitcoin', date_trunc('minute', created_at), author_id
            FROM posts WHERE author_id IS NOT NULL
            """
        )


def run(size: int, batches: int) -> list[float]:
    from ecoin_assets.sentiment.scoring import write_scores
    from ecoin_assets.sources.x import Tweet
    from ecoin_assets.storage import Database
    from ecoin_assets.tweets.ingest import RecentKeys, store_posts

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ecoin.duckdb"
        now = datetime.now(UTC).replace(tzinfo=None)
        began = time.monotonic()
        fill(path, size, now)
        print(f"  {size:,} posts stored in {time.monotonic() - began:.0f} s", flush=True)
        db = Database(path)
        recent = RecentKeys()  # the stream service keeps one across its batches
        times = []
        for b in range(batches):
            first = size + b * PER_BATCH
            created = datetime.now(UTC)
            tweets = {
                i: Tweet(i, f"{WORDS[i % 4]} #{i}", created, "en", f"u{i % 97}", False)
                for i in range(first, first + PER_BATCH)
            }
            scores = [
                (i, VERSION, "positive", 0.1, 0.2, 0.7, 0.6, datetime.now(UTC).replace(tzinfo=None))
                for i in tweets
            ]
            began = time.monotonic()
            links = {(i, TOPIC) for i in tweets}
            store_posts(db, tweets, links, {TOPIC: first + 59}, "bench", recent=recent)
            with db.write() as con:
                write_scores(con, scores, datetime.now(UTC).replace(tzinfo=None))
            times.append((time.monotonic() - began) * 1000)
        return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,5000000", help="posts stored, comma-separated")
    parser.add_argument("--batches", type=int, default=30)
    args = parser.parse_args()
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        print(f"{size:,} posts:", flush=True)
        times = np.array(run(size, args.batches))
        rows.append((size, np.median(times), np.percentile(times, 95)))
        print(f"  median {rows[-1][1]:.0f} ms, p95 {rows[-1][2]:.0f} ms a batch", flush=True)
    print(f"\n{os.cpu_count()} CPU cores, {args.batches} batches of {PER_BATCH} posts per size\n")
    print("| posts stored | ms a batch, median | p95 |")
    print("|---|---|---|")
    for size, median, p95 in rows:
        print(f"| {size:,} | {median:.0f} | {p95:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
