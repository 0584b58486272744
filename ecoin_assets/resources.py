"""Dagster resources: thin wrappers that hand the plain library objects to assets.

API keys are not resource fields: the clients read them from the environment at run time,
so they never appear in run config, in the UI or in event logs.
"""

import dagster as dg

from ecoin_assets.config import load_settings
from ecoin_assets.sources.coingecko import CoinGeckoClient
from ecoin_assets.sources.x import XSource
from ecoin_assets.storage import Database


class EcoinStore(dg.ConfigurableResource):
    """The project's database: `path` when given (a DuckDB file), else `ECOIN_DATABASE_URL`
    (PostgreSQL) when set, else the DuckDB file under `ECOIN_HOME`.

    The URL is read from the environment at run time, like the API keys, so its password never
    appears in run config, in the UI or in event logs.
    """

    path: str | None = None

    def database(self) -> Database:
        if self.path:
            return Database(self.path)
        return Database.from_settings(load_settings())


class CoinGeckoResource(dg.ConfigurableResource):
    """CoinGecko client; base URL and keys come from `COINGECKO_*` / `ECOIN_MODE`."""

    calls_per_minute: int = 30
    max_attempts: int = 8
    backoff_seconds: float = 1.0

    def client(self) -> CoinGeckoClient:
        return CoinGeckoClient.from_settings(
            load_settings(),
            calls_per_minute=self.calls_per_minute,
            max_attempts=self.max_attempts,
            backoff=self.backoff_seconds,
        )


class XResource(dg.ConfigurableResource):
    """X recent-search client; host and bearer token come from `X_API_URL` / `X_BEARER_TOKEN`."""

    max_attempts: int = 6
    backoff_seconds: float = 1.0

    def source(self) -> XSource:
        return XSource.from_settings(
            load_settings(), max_attempts=self.max_attempts, backoff=self.backoff_seconds
        )
