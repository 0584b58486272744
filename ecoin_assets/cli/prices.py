"""`ecoin prices fetch | fetch-hourly | import | export`."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ecoin_assets.cli.common import (
    database,
    interactive,
    json_option,
    output_option,
    print_json,
    settings,
    write_output,
)
from ecoin_assets.config import validate_coin_id
from ecoin_assets.errors import UserError
from ecoin_assets.prices.csv_io import export_rows, read_prices_csv
from ecoin_assets.prices.fetch import check_range, fetch_and_store, parse_date
from ecoin_assets.prices.hourly import MAX_DAYS, fetch_hourly
from ecoin_assets.prices.store import upsert_prices
from ecoin_assets.sources.coingecko import ApiAnswer, CoinGeckoClient, FetchResult

# `--coin ID`, repeatable, for the commands that fetch from CoinGecko
coins_option = click.option(
    "--coin",
    "coins",
    multiple=True,
    required=True,
    metavar="ID",
    help="CoinGecko coin id, e.g. bitcoin (repeat for several coins).",
)


@click.group()
def prices() -> None:
    """Collect, import and export daily prices (the `prices` table)."""


def _days(n: int) -> str:
    return f"{n} day{'' if n == 1 else 's'}"


def _summary_line(summary) -> str:
    return f"{summary.inserted} new, {summary.updated} updated, {summary.unchanged} unchanged"


@prices.command()
@coins_option
@click.option("--start", required=True, metavar="YYYY-MM-DD", help="First day (UTC).")
@click.option("--end", metavar="YYYY-MM-DD", help="Last day (UTC); default: the start day only.")
@click.option(
    "--concurrency",
    default=3,
    show_default=True,
    type=click.IntRange(1, 16),
    help="Coins fetched at once (all share the API's rate limit).",
)
@json_option
def fetch(
    coins: tuple[str, ...], start: str, end: str | None, concurrency: int, as_json: bool
) -> None:
    """Fetch daily 00:00 UTC prices from CoinGecko and upsert them.

    All coins are fetched first and stored in one transaction: on any error nothing is
    written. Running the same command twice leaves the same rows.
    """
    coin_ids = [validate_coin_id(c) for c in coins]
    first = parse_date(start, "--start")
    last = parse_date(end, "--end") if end else None
    first, last = check_range(first, last)
    client = CoinGeckoClient.from_settings(settings())
    days = (last - first).days + 1
    console = Console(stderr=True)

    if interactive() and not as_json:
        progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<12}"),
            BarColumn(),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        tasks = {c: progress.add_task(c, total=days, note="waiting") for c in coin_ids}

        def on_call(answer: ApiAnswer) -> None:
            if answer.coin_id in tasks:
                note = "ok" if answer.error is None else f"retrying ({answer.error})"
                progress.update(tasks[answer.coin_id], note=note)

        def on_done(result: FetchResult) -> None:
            progress.update(
                tasks[result.coin_id],
                completed=days,
                note=f"{_days(len(result.points))}, {result.data_calls} call(s)",
            )

        with progress:
            outcome = fetch_and_store(
                database(),
                client,
                coin_ids,
                first,
                last,
                concurrency=concurrency,
                on_done=on_done,
                on_call=on_call,
            )
    else:
        outcome = fetch_and_store(
            database(), client, coin_ids, first, last, concurrency=concurrency
        )
    if as_json:
        print_json(
            {
                "start": first,
                "end": last,
                "coins": {
                    r.coin_id: {
                        "days": len(r.points),
                        "data_calls": r.data_calls,
                        "answers": len(r.answers),
                    }
                    for r in outcome.results
                },
                **outcome.summary.as_dict(),
            }
        )
    else:
        for r in outcome.results:
            click.echo(f"{r.coin_id}: {_days(len(r.points))} from {r.data_calls} data call(s)")
        rows = sum(len(r.points) for r in outcome.results)
        click.echo(
            f"stored {rows} daily prices for {len(coin_ids)} coin(s) {first}..{last}: "
            f"{_summary_line(outcome.summary)}"
        )


@prices.command("import")
@click.option("--coin", required=True, metavar="ID", help="The coin the file holds.")
@click.option(
    "--csv",
    "csv_path",
    required=True,
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="CoinGecko's CSV export or ecoin's export format.",
)
@json_option
def import_(coin: str, csv_path: Path, as_json: bool) -> None:
    """Import a CSV of daily prices, all or nothing.

    Every row is validated first (dates, numbers, duplicates, negative prices); one bad row
    stops the import with its line number and nothing is written.
    """
    coin_id = validate_coin_id(coin)
    frame = read_prices_csv(csv_path, coin_id)
    with database().write() as con:
        summary = upsert_prices(con, frame, source=f"csv:{csv_path.name}")
    if as_json:
        print_json({"coin": coin_id, "rows": len(frame), **summary.as_dict()})
    else:
        click.echo(
            f"imported {len(frame)} rows for {coin_id} "
            f"({frame['date'].min()}..{frame['date'].max()}): {_summary_line(summary)}"
        )


@prices.command()
@click.option(
    "--coin",
    "coins",
    multiple=True,
    metavar="ID",
    help="Coin to export (repeatable; default: every coin).",
)
@click.option("--start", metavar="YYYY-MM-DD", help="First day to export.")
@click.option("--end", metavar="YYYY-MM-DD", help="Last day to export.")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
@output_option
def export(
    coins: tuple[str, ...], start: str | None, end: str | None, fmt: str, output: Path | None
) -> None:
    """Export stored prices as CSV (re-importable) or JSON."""
    clauses, params = [], []
    if coins:
        ids = [validate_coin_id(c) for c in coins]
        clauses.append(f"coin_id IN ({', '.join('?' for _ in ids)})")
        params += ids
    first = parse_date(start, "--start") if start else None
    last = parse_date(end, "--end") if end else None
    if first and last and last < first:
        raise UserError(f"the range is reversed: --end {last} is before --start {first}")
    if first:
        clauses.append("date >= ?")
        params.append(first)
    if last:
        clauses.append("date <= ?")
        params.append(last)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = database().query(
        f"""
        SELECT coin_id, date, price_usd, market_cap_usd, volume_usd, source, ingested_at
        FROM prices {where} ORDER BY coin_id, date
    """,
        params,
    )
    if coins and not rows:
        raise UserError(
            f"no stored prices for {', '.join(coins)} in that range; "
            "fetch them first with 'ecoin prices fetch'"
        )
    text = export_rows(rows, fmt)
    write_output(text, output, f"{len(rows)} rows")


@prices.command("fetch-hourly")
@coins_option
@click.option(
    "--days",
    default=7.0,
    show_default=True,
    type=click.FloatRange(1, MAX_DAYS),
    help="How far back from now.",
)
@json_option
def fetch_hourly_command(coins: tuple[str, ...], days: float, as_json: bool) -> None:
    """Fetch hourly prices of the last --days days and upsert them (`prices_hourly`).

    CoinGecko answers ranges of 2 to 90 days hourly; longer spans take one call per 89
    days. All coins are fetched first and stored in one transaction.
    """
    coin_ids = [validate_coin_id(c) for c in coins]
    client = CoinGeckoClient.from_settings(settings())
    with Console(stderr=True).status("fetching hourly prices", spinner="dots"):
        fetched = fetch_hourly(database(), client, coin_ids, days)
    if as_json:
        print_json({"days": days, "coins": {f.coin_id: vars(f) for f in fetched}})
        return
    for f in fetched:
        click.echo(f"{f.coin_id}: {f.points} hours from {f.calls} call(s)")
    click.echo(f"stored {sum(f.points for f in fetched)} hourly prices of the last {days:g} days")
