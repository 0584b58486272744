"""Storage: one `Database` resource over a DuckDB file or PostgreSQL, and the schema."""

from ecoin_assets.storage.connection import Connection, Result
from ecoin_assets.storage.db import Database
from ecoin_assets.storage.postgres import is_postgres_url, mask_url

__all__ = ["Connection", "Database", "Result", "is_postgres_url", "mask_url"]
