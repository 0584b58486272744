"""`ecoin analysis correlation`."""

from __future__ import annotations

from datetime import datetime, time

import click
from rich.console import Console
from rich.table import Table

from ecoin_assets.cli.common import database, json_option, print_json, settings
from ecoin_assets.prices.fetch import parse_date


@click.group()
def analysis() -> None:
    """Analyses across prices and sentiment."""


@analysis.command()
@click.option("--coin", required=True, metavar="ID", help="CoinGecko coin id.")
@click.option("--topic", required=True, metavar="Q", help="Tracked X topic (e.g. the coin id).")
@click.option(
    "--freq",
    type=click.Choice(["hour", "day"]),
    default="day",
    show_default=True,
    help="Period: hourly needs hourly prices ('ecoin prices fetch-hourly').",
)
@click.option("--start", "start_text", metavar="YYYY-MM-DD", help="First day (default: all).")
@click.option("--end", "end_text", metavar="YYYY-MM-DD", help="Last day, included.")
@json_option
def correlation(
    coin: str,
    topic: str,
    freq: str,
    start_text: str | None,
    end_text: str | None,
    as_json: bool,
) -> None:
    """Correlate the topic's sentiment with the coin's price and returns, hourly or daily.

    Sentiment of period t (the active model's mean over the period's posts) is paired with
    the price known at the end of period t (never a later one) and with that period's log
    return; lag k pairs period t's sentiment with period t+k's price or return. Pearson and
    Spearman r, two-sided p-values and the number of pairs are printed for lags -3..+3 and
    stored in `sentiment_price_correlation`.
    """
    from datetime import timedelta

    from ecoin_assets.analysis.correlation import MIN_PAIRS
    from ecoin_assets.analysis.service import correlate
    from ecoin_assets.sentiment.registry import active_version

    start = datetime.combine(parse_date(start_text, "--start"), time()) if start_text else None
    end = (
        datetime.combine(parse_date(end_text, "--end") + timedelta(days=1), time())
        if end_text
        else None
    )
    version = active_version(settings().home)
    _, stats = correlate(database(), coin, topic, version, freq, start, end)
    if as_json:
        print_json(stats.astype(object).where(stats.notna(), None).to_dict("records"))
        return
    table = Table(
        f"lag ({freq}s)",
        "against",
        "method",
        "r",
        "p-value",
        "pairs",
        title=f"{topic} sentiment vs {coin}, {freq}ly, model {version}",
    )
    for row in stats.itertuples():
        shown = "-" if row.r != row.r else f"{row.r:+.3f}"
        p = "-" if row.p_value != row.p_value else f"{row.p_value:.3g}"
        table.add_row(f"{row.lag:+d}", row.against, row.method, shown, p, str(row.n))
    Console().print(table)
    if stats["r"].isna().all():
        click.echo(
            f"no correlation yet: it needs at least {MIN_PAIRS} {freq}s with both posts and "
            f"prices (the most here: {int(stats['n'].max())})"
        )
