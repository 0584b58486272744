"""The Dagster instance folder (`DAGSTER_HOME`, default `$ECOIN_HOME/dagster`)."""

from __future__ import annotations

from pathlib import Path

from ecoin_assets.config import Settings, environment_value

# Telemetry off (no network), no first-visit community/newsletter dialog in the UI (`nux`);
# one op at a time in the `duckdb` pool: DuckDB has one writer.
INSTANCE_YAML = """\
telemetry:
  enabled: false
nux:
  enabled: false
concurrency:
  pools:
    default_limit: 1
"""
# what earlier releases wrote: brought up to INSTANCE_YAML when found unchanged
_EARLIER = ("telemetry:\n  enabled: false\nconcurrency:\n  pools:\n    default_limit: 1\n",)


def dagster_home(settings: Settings) -> Path:
    return Path(environment_value("DAGSTER_HOME") or settings.dagster_home).resolve()


def ensure_dagster_home(settings: Settings) -> Path:
    """Create DAGSTER_HOME with ecoin's `dagster.yaml` unless one is already there (one an
    earlier release wrote is updated; one of the user's is left alone)."""
    home = dagster_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() or config.read_text() in _EARLIER:
        config.write_text(INSTANCE_YAML)
    return home
