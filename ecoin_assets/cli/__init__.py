"""The `ecoin` command. User errors end with one line on stderr and a non-zero exit."""

from __future__ import annotations

import os
import sys

import click

from ecoin_assets.cli.alerts import alerts
from ecoin_assets.cli.analysis import analysis
from ecoin_assets.cli.demo import demo
from ecoin_assets.cli.forecast import forecast
from ecoin_assets.cli.hints import one_line
from ecoin_assets.cli.prices import prices
from ecoin_assets.cli.report import report
from ecoin_assets.cli.sandbox import sandbox
from ecoin_assets.cli.sentiment import sentiment
from ecoin_assets.cli.serve import serve
from ecoin_assets.cli.status import status
from ecoin_assets.cli.topics import topics
from ecoin_assets.cli.tweets import tweets
from ecoin_assets.errors import UserError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="ecoin", prog_name="ecoin")
def cli() -> None:
    """ecoin: crypto prices, forecasts and X sentiment on Dagster and DuckDB.

    Configuration comes from the environment: ECOIN_HOME (data folder, default ./data),
    ECOIN_DATABASE_URL (PostgreSQL instead of DuckDB), ECOIN_MODE (sandbox or live),
    ECOIN_COINS, ECOIN_TOPICS, COINGECKO_API_URL, COINGECKO_DEMO_API_KEY, COINGECKO_PRO_API_KEY,
    X_API_URL, X_BEARER_TOKEN, ECOIN_SENTIMENT_URL. See the README.
    """


cli.add_command(status)
cli.add_command(sandbox)
cli.add_command(prices)
cli.add_command(forecast)
cli.add_command(analysis)
cli.add_command(topics)
cli.add_command(alerts)
cli.add_command(tweets)
cli.add_command(sentiment)
cli.add_command(serve)
cli.add_command(report)
cli.add_command(demo)


def main(argv: list[str] | None = None) -> None:
    code = run(argv)
    # Exit without interpreter finalization: with torch loaded, DuckDB's nanobind bindings
    # report dozens of spurious "leaked instance" lines at shutdown. All files and database
    # connections are closed by now; only the streams need flushing.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (user errors become one line on stderr)."""
    try:
        code = cli.main(args=argv, prog_name="ecoin", standalone_mode=False)
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "ecoin"
        click.echo(f"error: {exc.format_message()} (see '{where} --help')", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        return exc.exit_code
    except UserError as exc:
        click.echo(f"error: {one_line(exc)}", err=True)
        return 1
    except (KeyboardInterrupt, click.Abort):
        click.echo("error: interrupted; nothing half-written was kept", err=True)
        return 130
    return code if isinstance(code, int) else 0
