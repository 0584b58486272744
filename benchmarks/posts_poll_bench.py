"""What the dashboard's one-second poll of new posts costs as `posts` grows, on both backends.

For each SIZE, fills a fresh database with SIZE kept posts of one topic stored over the past 7
days (generated in SQL, with their topic links and scores), then times RUNS calls of
`dashboard.snapshot.latest_posts` as the page makes them: the poll, reading the posts stored
in the last minute (what the page asks for each second), and the first load (the newest
posts, no lower bound). Prints the median and p95 milliseconds of each. On PostgreSQL it also
times both with the index of schema migration 4 dropped, which is how every poll ran before.

    .venv/bin/python benchmarks/posts_poll_bench.py [--sizes 100000,1000000] [--runs 30]
        [--backends duckdb,postgres]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

TOPIC, VERSION = "bitcoin", "bench-v1"
NOW = datetime(2026, 12, 3, 12, 0)


def fill(db, size: int, dialect: str) -> None:
    """`size` kept posts, one every 7 days / size, the newest stored at NOW."""
    if dialect == "duckdb":
        rows, offset, tokens = f"range({size}) r(i)", "to_microseconds(i * ?)", "['bitcoin']"
    else:
        rows, offset = (
            f"generate_series(0, {size - 1}) r(i)",
            "CAST(i AS BIGINT) * ? * interval '1 microsecond'",
        )
        tokens = "ARRAY['bitcoin']"
    stamp = f"CAST(? AS TIMESTAMP) + {offset}"
    start, step_us = NOW - timedelta(days=7), int(7 * 86_400e6 / size)
    with db.write() as con:  # creates the schema
        con.execute(
            f"""
            INSERT INTO posts
            SELECT i, {stamp}, 'a' || (i % 5000), 'en', 'bitcoin post ' || i,
                   'bitcoin post ' || i, {tokens}, false, true, NULL, 'bench', {stamp}, 0, 0, 0, 0
            FROM {rows}
            """,
            [start, step_us, start, step_us],
        )
        con.execute(f"INSERT INTO post_topics SELECT post_id, '{TOPIC}' FROM posts")
        con.execute(
            f"""
            INSERT INTO post_sentiment
            SELECT post_id, '{VERSION}', 'neutral', 0.1, 0.8, 0.1, 0.0, ingested_at FROM posts
            """
        )
    if dialect == "postgres":
        with db.write() as con:
            con.execute("ANALYZE")


def timed(call: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median and p95 milliseconds of `runs` calls, after one untimed call."""
    call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return float(np.median(times)), float(np.percentile(times, 95))


def measure(db, runs: int, label: str) -> None:
    from ecoin_assets.dashboard.snapshot import latest_posts

    for name, since in (("poll (last minute)", NOW - timedelta(minutes=1)), ("first load", None)):

        def call(since=since) -> object:
            with db.read() as con:
                return latest_posts(con, VERSION, since)

        median, p95 = timed(call, runs)
        print(f"| {label} | {name} | {median:.1f} | {p95:.1f} |", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--backends", default="duckdb,postgres")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = args.backends.split(",")
    from ecoin_assets.storage import Database

    server = None
    if "postgres" in backends:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from postgres_server import PostgresServer

        server = PostgresServer()
        server.start()
    print("| database | read | median ms | p95 ms |\n|---|---|---|---|")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for size in sizes:
                for backend in backends:
                    if backend == "duckdb":
                        db = Database(Path(tmp) / f"posts-{size}.duckdb")
                    else:
                        db = Database(server.create_database())
                    fill(db, size, backend)
                    label = f"{backend}, {size:,} posts"
                    measure(db, args.runs, label)
                    if backend == "postgres":
                        with db.write() as con:
                            con.execute("DROP INDEX posts_ingested_at")
                        measure(db, args.runs, label + ", no index (before migration 4)")
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
