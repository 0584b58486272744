"""DuckDB access that follows DESIGN.md's single-writer rules.

DuckDB allows one read-write process at a time, and while it holds the file no other process
can open it, not even read-only. So:

- writes take a cross-process file lock (`<db>.lock`), open the file, run one transaction and
  close it at once; writers queue on the lock instead of failing;
- reads open the file read-only for as short as possible and retry, with a bound, while a
  writer holds it; a user sees "busy, try again" only after that bound, never a lock error.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from filelock import FileLock, Timeout

from ecoin_assets.errors import UserError
from ecoin_assets.storage.schema import apply_schema


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("could not set" in text or "conflicting" in text)


class Database:
    def __init__(
        self, path: str | Path, *, lock_timeout: float = 300.0, open_timeout: float = 60.0
    ):
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self.open_timeout = open_timeout
        self._lock = FileLock(str(self.path) + ".lock")

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
                apply_schema(con)
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
        """A short-lived read-only connection (the file and schema are created if missing)."""
        if not self.path.exists():
            with self.write():
                pass
        con = self._open(read_only=True)
        try:
            yield con
        finally:
            con.close()

    def query(self, sql: str, params: list | tuple | None = None) -> list[tuple]:
        with self.read() as con:
            return con.execute(sql, params or []).fetchall()

    def query_df(self, sql: str, params: list | tuple | None = None):
        with self.read() as con:
            return con.execute(sql, params or []).df()
