"""Dagster resources: the settings, and thin wrappers that hand the plain library objects to
assets, checks and sensors.

`EcoinSettings` is built once by the definitions (or by a test) from the environment; every
other resource takes it, so a test that hands another `EcoinSettings` moves the database, the
models and the API hosts together. Secrets are `EnvVar` references, resolved by Dagster in the
run's process: they never appear in run config, in the UI or in event logs.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

from ecoin_assets.config import (
    SECRET_VARIABLES,
    VARIABLES,
    Settings,
    load_settings,
    read_environment,
)
from ecoin_assets.sources.coingecko import CoinGeckoClient
from ecoin_assets.sources.x import XSource
from ecoin_assets.storage import Database


class EcoinSettings(dg.ConfigurableResource):
    """ecoin's settings; each field is the environment variable of its name in upper case
    (config.py says what each means). Empty fields take the documented defaults."""

    ecoin_home: str = ""
    ecoin_mode: str = ""
    ecoin_coins: str = ""
    ecoin_topics: str = ""
    coingecko_api_url: str = ""
    x_api_url: str = ""
    ecoin_sentiment_url: str = ""
    coingecko_demo_api_key: str = ""
    coingecko_pro_api_key: str = ""
    x_bearer_token: str = ""
    ecoin_database_url: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> EcoinSettings:
        """The settings `env` gives (default: the process environment, whose secrets become
        `EnvVar`s). Bad values fail here, when the definitions load, not in a run."""
        found = read_environment(env)
        settings = load_settings(found)  # validates
        values: dict[str, str] = {
            field: found[name] for field, name in VARIABLES.items() if name in found
        }
        values["ecoin_home"] = str(settings.home)  # the entry point's, whatever the run's cwd
        for field, name in SECRET_VARIABLES.items():
            if name in found:
                values[field] = dg.EnvVar(name) if env is None else found[name]
        return cls(**values)

    def resolve(self) -> Settings:
        names = {**VARIABLES, **SECRET_VARIABLES}
        return load_settings({names[field]: value for field, value in self._values().items()})

    def _values(self) -> dict[str, str]:
        """The fields' values; an `EnvVar` Dagster has not resolved (the resource used outside
        a run, e.g. by a test) is read now."""
        values = {field: getattr(self, field) for field in (*VARIABLES, *SECRET_VARIABLES)}
        return {
            field: (value.get_value() or "") if isinstance(value, dg.EnvVar) else value
            for field, value in values.items()
        }


class EcoinStore(dg.ConfigurableResource):
    """The project's database: `ECOIN_DATABASE_URL` (PostgreSQL) when set, else the DuckDB
    file under `ECOIN_HOME`."""

    settings: EcoinSettings

    def database(self) -> Database:
        return Database.from_settings(self.settings.resolve())


class CoinGeckoResource(dg.ConfigurableResource):
    """CoinGecko client; base URL and keys come from the settings."""

    settings: EcoinSettings
    calls_per_minute: int = 30
    max_attempts: int = 8
    backoff_seconds: float = 1.0

    def client(self) -> CoinGeckoClient:
        return CoinGeckoClient.from_settings(
            self.settings.resolve(),
            calls_per_minute=self.calls_per_minute,
            max_attempts=self.max_attempts,
            backoff=self.backoff_seconds,
        )


class XResource(dg.ConfigurableResource):
    """X recent-search client; host and bearer token come from the settings."""

    settings: EcoinSettings
    max_attempts: int = 6
    backoff_seconds: float = 1.0

    def source(self) -> XSource:
        return XSource.from_settings(
            self.settings.resolve(), max_attempts=self.max_attempts, backoff=self.backoff_seconds
        )


def build_resources(env: Mapping[str, str] | None = None) -> dict[str, dg.ConfigurableResource]:
    """Every resource the definitions bind, on one `EcoinSettings` (see `from_env`)."""
    settings = EcoinSettings.from_env(env)
    return {
        "settings": settings,
        "store": EcoinStore(settings=settings),
        "coingecko": CoinGeckoResource(settings=settings),
        "x": XResource(settings=settings),
    }
