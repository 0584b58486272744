"""Helpers shared by the CLI commands."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime

import click

from ecoin_assets.config import Settings, load_settings
from ecoin_assets.storage import Database

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout."
)


def settings() -> Settings:
    return load_settings()


def database() -> Database:
    return Database(settings().db_path)


def interactive() -> bool:
    return sys.stderr.isatty()


def _default(value: object) -> str:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def print_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2, default=_default))
