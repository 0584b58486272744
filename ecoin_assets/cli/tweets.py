"""`ecoin tweets ingest | export`."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import click

from ecoin_assets.cli.common import (
    database,
    json_option,
    output_option,
    print_json,
    settings,
    write_output,
)
from ecoin_assets.errors import UserError

EXPORT_COLUMNS = [
    "id",
    "created_at",
    "topics",
    "text_raw",
    "text_clean",
    "lang",
    "keep",
    "drop_reason",
    "label",
    "p_negative",
    "p_neutral",
    "p_positive",
    "model_version",
    "ingested_at",
]


topics_option = click.option(
    "--topic",
    "topics",
    multiple=True,
    metavar="Q",
    help="X query of a topic, named by itself (repeatable; default: the stored topics, see "
    "'ecoin topics list').",
)


@click.group()
def tweets() -> None:
    """Collect X posts on topics, cleaned and stored exactly once."""


@tweets.command()
@topics_option
@click.option("--once", is_flag=True, help="Search each topic once and stop.")
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Keep ingesting for this long.",
)
@click.option(
    "--interval",
    default=15.0,
    show_default=True,
    type=click.FloatRange(1),
    metavar="SECONDS",
    help="Pause between searches with --duration.",
)
@json_option
def ingest(
    topics: tuple[str, ...], once: bool, duration: float | None, interval: float, as_json: bool
) -> None:
    """Search X for new posts on each topic, clean, score and store each post once.

    Every round searches from the newest post stored per topic and writes posts and their
    sentiment (active model: see 'ecoin sentiment models') in one transaction, so an
    interrupted run loses and duplicates nothing.
    """
    from ecoin_assets.sentiment.registry import Classifier
    from ecoin_assets.sources.x import XSource
    from ecoin_assets.tweets.ingest import ingest_once
    from ecoin_assets.tweets.topics import active_topics, as_queries, seeds

    if once == (duration is not None):
        raise UserError("give exactly one of --once or --duration SECONDS")
    cfg = settings()
    db = database()
    queries = as_queries(topics) if topics else active_topics(db, seeds(cfg))
    if not queries:
        raise UserError("no topics to search: give --topic, or add one with 'ecoin topics add'")
    source = XSource.from_settings(cfg)
    classifier = Classifier.load(cfg.home)
    deadline = time.monotonic() + (duration or 0)
    totals: dict[str, int] = {"rounds": 0, "stored": 0, "kept": 0, "scored": 0, "calls": 0}
    while True:
        started = time.monotonic()
        result = ingest_once(db, source, queries, classifier=classifier)
        totals["rounds"] += 1
        for key in ("stored", "kept", "scored", "calls"):
            totals[key] += getattr(result, key)
        if not as_json:
            click.echo(
                f"{time.strftime('%H:%M:%S')} stored {result.stored} new posts "
                f"({result.kept} kept and scored) from {result.fetched} found in {result.calls} "
                f"call(s)",
                err=True,
            )
        if once or started >= deadline:
            break  # the last round started at or after the deadline: the window is covered
        time.sleep(max(0.0, min(interval, deadline - time.monotonic())))
    if as_json:
        print_json(totals)
    else:
        click.echo(
            f"{totals['stored']} new posts stored ({totals['kept']} kept for sentiment) "
            f"in {totals['rounds']} round(s) for {', '.join(queries)}"
        )


@tweets.command()
@topics_option
@click.option(
    "--mode",
    type=click.Choice(["auto", "stream", "poll"]),
    default="auto",
    show_default=True,
    help="stream: X's filtered stream; poll: recent search every few seconds, the topics "
    "combined into as few queries as X's 512 characters allow; auto: the stream, or polling "
    "when the app has no stream access.",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Stop after this long (default: run until Ctrl-C or SIGTERM).",
)
@click.option(
    "--poll-interval",
    default=2.0,
    show_default=True,
    type=click.FloatRange(1),
    metavar="SECONDS",
    help="Shortest time between search rounds in poll mode; rounds are spread over what is "
    "left of the app's 15-minute budget, as X's rate-limit headers report it.",
)
@json_option
def stream(
    topics: tuple[str, ...], mode: str, duration: float | None, poll_interval: float, as_json: bool
) -> None:
    """Follow topics in real time: store, clean and score each post once, within seconds.

    The stream's rules are made to match the topics (one rule per topic, tagged
    ecoin:<topic>; other rules of the app are left alone). After a disconnect, a stall or a
    restart, the posts created meanwhile are recovered through recent search from what is
    stored. Posts are written about once a second, each batch in one transaction with the
    cursors, so a killed service loses and duplicates nothing when it restarts. With
    DAGSTER_HOME set, it reports x_posts to Dagster about once a minute. Posts are scored
    in-process, or by the BentoML sentiment service at ECOIN_SENTIMENT_URL when it is set.
    """
    import signal

    from ecoin_assets.sentiment.registry import Classifier
    from ecoin_assets.sentiment.remote import RemoteClassifier
    from ecoin_assets.sources.x import FilteredStream, XSource
    from ecoin_assets.tweets.reporting import DagsterReporter
    from ecoin_assets.tweets.stream import StreamService
    from ecoin_assets.tweets.topics import active_topics, seeds

    cfg = settings()
    db = database()
    seeded = seeds(cfg)
    service = StreamService(
        db,
        XSource.from_settings(cfg),
        topics or active_topics(db, seeded),
        stream=None if mode == "poll" else FilteredStream.from_settings(cfg),
        mode=mode,
        classifier=RemoteClassifier(cfg.sentiment_url)
        if cfg.sentiment_url
        else Classifier.load(cfg.home),
        poll_interval=poll_interval,
        on_batch=None if as_json else _echo_batch,
        reporter=DagsterReporter.from_environment(),
        refresh=None if topics else lambda: active_topics(db, seeded),
    )
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: service.stop())
    report = service.run(duration).summary()
    if as_json:
        print_json(report)
    else:
        lag = (
            f"; lag p50 {report['lag_p50_s']} s, p95 {report['lag_p95_s']} s"
            if ("lag_p50_s" in report)
            else ""
        )
        click.echo(
            f"{report['stored']} new posts stored ({report['kept']} kept for sentiment) in "
            f"{report['mode']} mode, {report['gaps']} gap(s) recovered{lag}"
        )


def _echo_batch(batch: dict) -> None:
    if batch["stored"]:
        click.echo(
            f"{time.strftime('%H:%M:%S')} stored {batch['stored']} new posts "
            f"({batch['kept']} kept and scored)",
            err=True,
        )


@tweets.command()
@click.option("--topic", metavar="Q", help="Only posts linked to this topic.")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True
)
@output_option
def export(topic: str | None, fmt: str, output: Path | None) -> None:
    """Export stored posts, one row per post: raw and clean text, topics, and the label and
    probabilities given by the active sentiment model (empty for posts not kept)."""
    from ecoin_assets.sentiment.registry import active_version

    version = active_version(settings().home)
    rows = database().query(
        f"""
        SELECT p.post_id, p.created_at, array_agg(t.topic ORDER BY t.topic), p.text_raw,
               p.text_clean,
               p.lang, p.keep, p.drop_reason,
               s.label, s.p_negative, s.p_neutral, s.p_positive, s.model_version,
               p.ingested_at
        FROM posts p JOIN post_topics t USING (post_id)
        LEFT JOIN post_sentiment s ON s.post_id = p.post_id AND s.model_version = ?
        {"WHERE p.post_id IN (SELECT post_id FROM post_topics WHERE topic = ?)" if topic else ""}
        GROUP BY p.post_id, p.created_at, p.text_raw, p.text_clean, p.lang, p.keep,
                 p.drop_reason, s.label, s.p_negative, s.p_neutral, s.p_positive, s.model_version,
                 p.ingested_at
        ORDER BY p.post_id
    """,
        [version, *([topic] if topic else [])],
    )
    records = [dict(zip(EXPORT_COLUMNS, r, strict=True)) for r in rows]
    for rec in records:
        rec["id"] = str(rec["id"])
        for key in ("created_at", "ingested_at"):  # stored as naive UTC
            rec[key] = rec[key].isoformat() + "Z" if rec[key] else None
    if fmt == "jsonl":
        text = "".join(json.dumps(rec, ensure_ascii=False) + "\n" for rec in records)
    else:
        out = io.StringIO()
        writer = csv.DictWriter(out, EXPORT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for rec in records:
            writer.writerow(rec | {"topics": "|".join(rec["topics"])})
        text = out.getvalue()
    write_output(text, output, f"{len(records)} posts")
