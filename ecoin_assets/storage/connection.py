"""What callers may use of the connection `Database.write()` / `.read()` yield, on any backend.

A `duckdb.DuckDBPyConnection` is one; on PostgreSQL it is `postgres.PgConnection`. Code that
keeps to this subset (and to SQL both dialects accept) runs on both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import pandas as pd


class Result(Protocol):
    def fetchall(self) -> list[tuple[Any, ...]]: ...

    def fetchone(self) -> tuple[Any, ...] | None: ...

    def df(self) -> pd.DataFrame: ...


class Connection(Protocol):
    def execute(self, query: str, parameters: Any = None, /) -> Result:
        """Run one statement with `?` (list) or `$name` (mapping) parameters."""
        ...

    def executemany(self, query: str, parameters: Sequence[Sequence[Any] | Mapping], /) -> Any:
        """Run one statement once per row of parameters."""
        ...

    def register(self, view_name: str, python_object: pd.DataFrame, /) -> Any:
        """Make a DataFrame queryable as `view_name` (until `unregister` or the end)."""
        ...

    def unregister(self, view_name: str, /) -> Any: ...
