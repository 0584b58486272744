"""`ecoin status`: what is stored."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.table import Table

from ecoin_assets.cli.common import database, json_option, print_json, settings
from ecoin_assets.forecasting.model import served_version
from ecoin_assets.prices.status import coverage


@click.command()
@json_option
def status(as_json: bool) -> None:
    """Show what is stored: per coin first and last date, rows, missing days, last update
    and the latest forecasting model; per topic the X posts stored."""
    cfg = settings()
    db = database()
    with db.read() as con:
        coins = coverage(con)
        (answers,) = con.execute("SELECT count(*) FROM raw_coingecko_answers").fetchone()
        topics = con.execute("""
            SELECT t.topic, count(*), count(*) FILTER (WHERE p.keep), max(p.created_at),
                   max(p.ingested_at)
            FROM post_topics t JOIN posts p USING (post_id) GROUP BY 1 ORDER BY 1
        """).fetchall()
    models = {c.coin_id: served_version(cfg.home, c.coin_id) for c in coins}
    if as_json:
        print_json(
            {
                "home": str(cfg.home),
                "database": db.label,
                "mode": cfg.mode,
                "coins": [c.as_json() | {"model_version": models[c.coin_id]} for c in coins],
                "raw_coingecko_answers": answers,
                "topics": [
                    {"topic": t, "posts": n, "kept": k, "newest_post": newest, "last_ingest": last}
                    for t, n, k, newest, last in topics
                ],
            }
        )
        return
    console = Console(width=None if sys.stdout.isatty() else 160)  # no truncation in pipes
    console.print(f"database: {db.label}  (mode: {cfg.mode})", highlight=False)
    if not coins:
        console.print(
            "no prices stored yet: run 'ecoin prices fetch --coin bitcoin "
            "--start 2024-01-01 --end 2024-12-31'",
            highlight=False,
        )
    else:
        table = Table("coin", "first", "last", "rows", "missing days", "last update (UTC)", "model")
        for column in table.columns:
            column.no_wrap = True
        for c in coins:
            table.add_row(
                c.coin_id,
                str(c.first_date),
                str(c.last_date),
                str(c.rows),
                str(c.missing_days),
                c.last_update.strftime("%Y-%m-%d %H:%M"),
                models[c.coin_id] or "-",
            )
        console.print(table)
        console.print(f"{answers} raw CoinGecko answers kept", highlight=False)
    if topics:
        posts = Table(
            "topic", "posts", "kept for sentiment", "newest post (UTC)", "last ingest (UTC)"
        )
        for t, n, k, newest, last in topics:
            posts.add_row(
                t, str(n), str(k), f"{newest:%Y-%m-%d %H:%M:%S}", f"{last:%Y-%m-%d %H:%M:%S}"
            )
        console.print(posts)
