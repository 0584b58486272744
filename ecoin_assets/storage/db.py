"""The one storage resource: a DuckDB file (the default) or a PostgreSQL database.

`Database(target)` takes a path (DuckDB) or a `postgresql://` URL (PostgreSQL, see
postgres.py); `Database.from_settings` picks the one `ECOIN_DATABASE_URL` / `ECOIN_HOME` name.
Both offer the same API: `write()` (one transaction, committed on success, rolled back on any
error), `read()` (read-only), `query`, `query_df` and `exists()`.

DuckDB follows the single-writer rules (ARCHITECTURE.md, "Storage"). DuckDB allows one
read-write process at a time, and while it holds the file no other process can open it, not
even read-only. So:

- writes take a cross-process file lock (`<db>.lock`), open the file, run one transaction and
  close it at once; writers queue on the lock instead of failing;
- reads open the file read-only for as short as possible and retry, with a bound, while a
  writer holds it; a user sees "busy, try again" only after that bound, never a lock error.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pandas as pd
from filelock import FileLock, Timeout

from ecoin_assets.errors import UserError
from ecoin_assets.storage.connection import Connection
from ecoin_assets.storage.postgres import PostgresBackend, is_postgres_url
from ecoin_assets.storage.schema import apply_schema

if TYPE_CHECKING:
    from ecoin_assets.config import Settings


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("could not set" in text or "conflicting" in text)


class DuckDBBackend:
    """A DuckDB file, written by one process at a time (see the module docstring)."""

    dialect = "duckdb"

    def __init__(self, path: Path, *, lock_timeout: float = 300.0, open_timeout: float = 60.0):
        self.path = path
        self.label = str(path)
        self.lock_timeout = lock_timeout
        self.open_timeout = open_timeout
        self._lock = FileLock(str(self.path) + ".lock")
        self._schema_of: tuple[int, int] | None = None  # the file the schema was checked on

    def _file(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return stat.st_dev, stat.st_ino

    def _schema_unchecked(self) -> bool:
        return self._schema_of is None or self._schema_of != self._file()

    def _check_schema(self, con: duckdb.DuckDBPyConnection) -> None:
        """Once per file this object opens (again if the file is replaced): the catalog
        queries cost tens of milliseconds, a batch of posts a few."""
        if self._schema_unchecked():
            con.execute("BEGIN TRANSACTION")  # a migration is all or nothing
            try:
                apply_schema(con, label=self.label)
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
            self._schema_of = self._file()

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.open_timeout
        delay = 0.02
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=read_only)
            except duckdb.Error as exc:
                if not _is_lock_error(exc) or time.monotonic() > deadline:
                    if _is_lock_error(exc):
                        raise UserError(
                            f"the database {self.path} stayed busy for {self.open_timeout:.0f} s "
                            "(another process holds it); try again in a moment"
                        ) from None
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One serialized transaction: committed on success, rolled back on any error."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=self.lock_timeout)
        except Timeout:
            raise UserError(
                f"another ecoin process has been writing to {self.path} for over "
                f"{self.lock_timeout:.0f} s; try again when it has finished"
            ) from None
        try:
            con = self._open(read_only=False)
            try:
                self._check_schema(con)
                con.execute("BEGIN TRANSACTION")
                try:
                    yield con
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
            finally:
                con.close()
        finally:
            self._lock.release()

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived read-only connection. The file and schema are created if missing, and
        a file an earlier release made gets its new tables and columns (once per file)."""
        if self._schema_unchecked():
            # a writer holding the file brings its schema up to date: never wait for it
            with suppress(Timeout), self._lock.acquire(timeout=0):
                con = self._open(read_only=False)
                try:
                    self._check_schema(con)
                finally:
                    con.close()
        con = self._open(read_only=True)
        try:
            yield con
        finally:
            con.close()

    def exists(self) -> bool:
        return self.path.exists()


class Database:
    """The storage resource every module uses: DuckDB file or PostgreSQL, by `target`.

    `lock_timeout`: how long a write waits for another writer (DuckDB: the file lock;
    PostgreSQL: a row another transaction is writing). `open_timeout`: how long opening retries
    while the file is busy (DuckDB) or the server is unreachable (PostgreSQL).
    """

    def __init__(
        self,
        target: str | os.PathLike[str],
        *,
        lock_timeout: float = 300.0,
        open_timeout: float = 60.0,
    ):
        self.backend: DuckDBBackend | PostgresBackend
        if is_postgres_url(target):
            self.backend = PostgresBackend(
                str(target), lock_timeout=lock_timeout, open_timeout=open_timeout
            )
        else:
            self.backend = DuckDBBackend(
                Path(target), lock_timeout=lock_timeout, open_timeout=open_timeout
            )

    @classmethod
    def from_settings(cls, settings: Settings, **timeouts: float) -> Database:
        """`settings.database_url` when set, else the DuckDB file `settings.db_path`."""
        return cls(settings.database_url or settings.db_path, **timeouts)

    @property
    def dialect(self) -> str:
        """`duckdb` or `postgres`: which SQL the connections speak."""
        return self.backend.dialect

    @property
    def path(self) -> Path | None:
        """The DuckDB file; None on PostgreSQL."""
        return self.backend.path if isinstance(self.backend, DuckDBBackend) else None

    @property
    def label(self) -> str:
        """Where the data lives, for messages: the path, or the URL with its password masked."""
        return self.backend.label

    def __repr__(self) -> str:
        return f"Database({self.label!r})"

    def exists(self) -> bool:
        """Whether there is a database yet (the DuckDB file; PostgreSQL's tables)."""
        return self.backend.exists()

    def write(self) -> AbstractContextManager[Connection]:
        """One transaction: committed on success, rolled back on any error."""
        return self.backend.write()

    def read(self) -> AbstractContextManager[Connection]:
        """A short-lived read-only connection (the database and schema are created if missing)."""
        return self.backend.read()

    def query(self, sql: str, params: list | tuple | dict | None = None) -> list[tuple]:
        with self.read() as con:
            return con.execute(sql, params or []).fetchall()

    def query_df(self, sql: str, params: list | tuple | dict | None = None) -> pd.DataFrame:
        with self.read() as con:
            return con.execute(sql, params or []).df()
