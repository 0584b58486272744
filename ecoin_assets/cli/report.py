"""`ecoin report coin | sentiment`: render a report notebook as .ipynb and HTML."""

from __future__ import annotations

import click

from ecoin_assets.cli.common import interactive, json_option, print_json, settings

start_option = click.option("--start", metavar="YYYY-MM-DD", help="First day of the window (UTC).")
end_option = click.option(
    "--end", metavar="YYYY-MM-DD", help="Last day of the window, included (default: today, UTC)."
)


def _done(rendered, as_json: bool) -> None:
    if as_json:
        print_json(rendered.as_dict())
        return
    click.echo(
        f"wrote the {rendered.kind} report ({rendered.images} plots, "
        f"{rendered.seconds:.1f} s):\n  {rendered.html}\n  {rendered.notebook}"
    )


@click.group()
def report() -> None:
    """Report notebooks, run with papermill and written as .ipynb and self-contained HTML
    under $ECOIN_HOME/reports (one current report per coin and per topic)."""


@report.command(short_help="A coin's prices, risks, analyses, forecast, backtests, sentiment.")
@click.option("--coin", required=True, metavar="ID", help="CoinGecko coin id.")
@start_option
@end_option
@click.option(
    "--horizon", default="7", show_default=True, metavar="N", help="Days to forecast (1-30)."
)
@json_option
def coin(coin: str, start: str | None, end: str | None, horizon: str, as_json: bool) -> None:
    """Prices of the last 30 days, risk classes, monthly analyses, the forecast with its
    interval, the backtests of three models and the sentiment-price correlation of a coin.

    The window defaults to the 365 days up to --end. Writes
    $ECOIN_HOME/reports/coin/<coin>.html and .ipynb.
    """
    from ecoin_assets.reports.render import render_coin_report

    _done(
        render_coin_report(settings(), coin, start, end, horizon, progress=interactive()), as_json
    )


@report.command(short_help="A topic's volume, sentiment, top posts, words and emoji.")
@click.option("--topic", required=True, metavar="Q", help="Tracked X topic (e.g. bitcoin).")
@start_option
@end_option
@json_option
def sentiment(topic: str, start: str | None, end: str | None, as_json: bool) -> None:
    """Volume and sentiment over time, label shares, the most positive and negative posts,
    and frequent words and emoji of a topic.

    The window defaults to the 7 days up to --end. Writes
    $ECOIN_HOME/reports/sentiment/<topic>.html and .ipynb.
    """
    from ecoin_assets.reports.render import render_sentiment_report

    _done(render_sentiment_report(settings(), topic, start, end, progress=interactive()), as_json)
