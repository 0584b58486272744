"""The few SQL expressions DuckDB and PostgreSQL spell differently, one function each.

Everything else the modules write is SQL both accept (deploy/STORAGE.md lists the portable
forms); these take the open connection and return the fragment in its dialect.
"""

from __future__ import annotations

from ecoin_assets.storage.connection import Connection

# DuckDB's `time_bucket` origin for intervals without months (a Monday); `date_bin` is given the
# same one, so both backends cut the same buckets
_BUCKET_ORIGIN = "TIMESTAMP '2000-01-03 00:00:00'"


def dialect_of(con: Connection) -> str:
    """`duckdb` or `postgres`: the SQL the connection speaks."""
    return getattr(con, "dialect", "duckdb")


def time_bucket(con: Connection, column: str) -> str:
    """The start of the bucket of `column` (a TIMESTAMP), for a bucket length in minutes given
    as the next `?` parameter."""
    if dialect_of(con) == "postgres":
        return f"date_bin(CAST(? AS INTEGER) * INTERVAL '1 minute', {column}, {_BUCKET_ORIGIN})"
    return f"time_bucket(to_minutes(CAST(? AS INTEGER)), {column}, {_BUCKET_ORIGIN})"


def period_start(con: Connection, column: str, minutes: int | None, unit: str | None) -> str:
    """The start of the period of `column` (a TIMESTAMP): fixed `minutes` (30, 60, 1440), or a
    calendar `unit` (`week`, from Monday, or `month`). No `?` parameter."""
    if unit is not None:
        if unit not in ("week", "month"):
            raise ValueError(f"unknown calendar unit {unit!r}")
        return f"CAST(date_trunc('{unit}', {column}) AS TIMESTAMP)"
    if dialect_of(con) == "postgres":
        return f"date_bin(INTERVAL '{int(minutes or 0)} minutes', {column}, {_BUCKET_ORIGIN})"
    return f"time_bucket(INTERVAL '{int(minutes or 0)} minutes', {column}, {_BUCKET_ORIGIN})"


def ratio(numerator: str, denominator: str) -> str:
    """`numerator / denominator` as a float on both backends (PostgreSQL divides integers)."""
    return f"CAST({numerator} AS DOUBLE PRECISION) / {denominator}"


def feed_columns(
    con: Connection, table: str, columns: list[str] | None, source: list[str] | None = None
) -> str:
    """The SELECT list that feeds `table`'s `columns` (None: all, in order) from a registered
    frame's `source` columns (default: the same names).

    On PostgreSQL each is cast to its column's type: a frame column that holds only NULLs is
    registered as TEXT, which PostgreSQL will not store in a number or a date column (DuckDB
    casts by itself, so there the list is just the source names).
    """
    source = source or columns
    if source is None:
        raise ValueError("feed_columns needs the target columns or the source columns")
    if dialect_of(con) != "postgres":
        return ", ".join(source)
    types = con.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = to_regclass(?) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        [table],
    ).fetchall()
    by_name = dict(types)
    targets = [name for name, _ in types] if columns is None else columns
    return ", ".join(
        f"CAST({name} AS {by_name[column]})" for name, column in zip(source, targets, strict=True)
    )
