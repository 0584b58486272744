"""The Dagster instance folder (`DAGSTER_HOME`, default `$ECOIN_HOME/dagster`)."""

from __future__ import annotations

import os
from pathlib import Path

from ecoin_assets.config import Settings

# Telemetry off (no network); one op at a time in the `duckdb` pool: DuckDB has one writer.
INSTANCE_YAML = """\
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1
"""


def dagster_home(settings: Settings) -> Path:
    return Path(os.environ.get("DAGSTER_HOME") or settings.dagster_home).resolve()


def ensure_dagster_home(settings: Settings) -> Path:
    """Create DAGSTER_HOME with ecoin's `dagster.yaml` unless one is already there."""
    home = dagster_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(INSTANCE_YAML)
    return home
