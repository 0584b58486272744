"""DuckDB storage: schema and single-writer access."""

from ecoin_assets.storage.db import Database

__all__ = ["Database"]
