"""DuckDB tables. Every statement is idempotent; `apply_schema` runs before each write."""

from __future__ import annotations

import duckdb

TABLES: dict[str, str] = {
    # The stable, user-facing table (DESIGN.md): the CoinGecko point at 00:00 UTC of `date`.
    "prices": """
        CREATE TABLE IF NOT EXISTS prices (
            coin_id VARCHAR NOT NULL,
            date DATE NOT NULL,
            price_usd DOUBLE NOT NULL,
            market_cap_usd DOUBLE,
            volume_usd DOUBLE,
            source VARCHAR NOT NULL,
            ingested_at TIMESTAMP NOT NULL,
            PRIMARY KEY (coin_id, date)
        )""",
    # Every CoinGecko answer as received, with the request it answered (never a secret).
    "raw_coingecko_answers": """
        CREATE TABLE IF NOT EXISTS raw_coingecko_answers (
            answer_id VARCHAR PRIMARY KEY,
            coin_id VARCHAR,
            endpoint VARCHAR NOT NULL,
            url VARCHAR NOT NULL,
            params JSON NOT NULL,
            status INTEGER,
            error VARCHAR,
            body VARCHAR NOT NULL,
            received_at TIMESTAMP NOT NULL
        )""",
    # Kept current by every write to `prices` (same transaction).
    "price_monthly_range": """
        CREATE TABLE IF NOT EXISTS price_monthly_range (
            coin_id VARCHAR NOT NULL,
            month DATE NOT NULL,
            min_price_usd DOUBLE NOT NULL,
            min_date DATE NOT NULL,
            max_price_usd DOUBLE NOT NULL,
            max_date DATE NOT NULL,
            days INTEGER NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (coin_id, month)
        )""",
}


def apply_schema(con: duckdb.DuckDBPyConnection) -> None:
    for ddl in TABLES.values():
        con.execute(ddl)
