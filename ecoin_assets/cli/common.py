"""Helpers shared by the CLI commands."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path

import click

from ecoin_assets.config import Settings, load_settings
from ecoin_assets.storage import Database

output_option = click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to FILE instead of stdout.",
)

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout."
)


def settings() -> Settings:
    return load_settings()


def database() -> Database:
    return Database.from_settings(settings())


def interactive() -> bool:
    return sys.stderr.isatty()


def _default(value: object) -> str:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def print_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2, default=_default))


def write_output(text: str, output: Path | None, summary: str) -> None:
    """Print `text`, or write it to `output` atomically (temp file, then rename)."""
    if output is None:
        click.echo(text, nl=False)
        return
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(output)
    click.echo(f"wrote {summary} to {output}", err=True)
