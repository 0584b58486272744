"""PostgreSQL behind the same `Database` API as the DuckDB file (`ECOIN_DATABASE_URL`).

Callers write DuckDB-style SQL against the connection `Database.write()` / `.read()` yield:
`execute(sql, params)` with `?` (or `$name` / `$1`) placeholders returning something with
`fetchall()`, `fetchone()` and `df()`, `executemany`, and `register(name, frame)` to query a
DataFrame as a table. `PgConnection` offers exactly that subset on a psycopg2 connection:
placeholders are translated outside string literals, quoted names and comments, a registered
frame becomes a temporary table dropped at commit, and values come back as DuckDB returns them
(NUMERIC as int/float, JSON as its text, dates as `datetime64` in `df()`).

PostgreSQL has concurrent writers, so there is no file lock: each `write()` is one transaction
(committed on success, rolled back on error) whose writes stay idempotent through the tables'
primary keys. Each `read()` is one read-only transaction on one snapshot.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import numpy as np
import pandas as pd
import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras
from psycopg2 import sql as pgsql

from ecoin_assets.errors import UserError
from ecoin_assets.storage.schema import check_version, migration_statements

URL_SCHEMES = ("postgresql", "postgres")
# type OIDs (pg_type) of the columns `df()` turns into datetime64, like DuckDB's `df()`
_DATETIME_OIDS = frozenset({1082, 1114, 1184})  # date, timestamp, timestamptz


def _numeric(value: str | None, _cursor: object) -> int | float | None:
    """NUMERIC as DuckDB returns its results: int when integral in form (sum), else float."""
    if value is None:
        return None
    return int(value) if value.lstrip("-").isdigit() else float(value)


_NUMERIC = psycopg2.extensions.new_type((1700,), "ECOIN_NUMERIC", _numeric)
_NUMERIC_ARRAY = psycopg2.extensions.new_array_type((1231,), "ECOIN_NUMERIC[]", _NUMERIC)
# any key; taken (transaction-scoped) while the schema is created, so processes do not race
_SCHEMA_LOCK_KEY = 0x6563_6F69_6E00  # "ecoin"


def is_postgres_url(target: object) -> bool:
    """True for `postgresql://...` / `postgres://...` strings."""
    return isinstance(target, str) and urlsplit(target).scheme in URL_SCHEMES


def mask_url(url: str) -> str:
    """The URL with its password (in the user part or a `password=` parameter) as `***`."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, hostinfo = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{hostinfo}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k == "password" for k, _ in pairs):
            query = urlencode([(k, "***" if k == "password" else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _secrets_of(url: str) -> list[str]:
    parts = urlsplit(url)
    found = [dict(parse_qsl(parts.query)).get("password") or ""]
    if parts.password:
        found += [parts.password, unquote(parts.password)]
    return [s for s in found if s]


# --- SQL translation -----------------------------------------------------------------------

_IDENT_START = re.compile(r"[A-Za-z_]")
_IDENT = re.compile(r"[A-Za-z0-9_]*")
_DIGITS = re.compile(r"[0-9]+")


@lru_cache(maxsize=1024)
def translate(sql: str) -> tuple[str, str]:
    """DuckDB placeholders to psycopg2's; returns (sql, style).

    `?` becomes `%s` (style "qmark"), `$name` becomes `%(name)s` ("named"), `$1` becomes
    `%(1)s` ("numeric"), and `%` is doubled; string literals ('...', E'...', $tag$...$tag$),
    quoted names and comments are copied as they are (only `%` doubled).
    """
    out: list[str] = []
    styles: set[str] = set()
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c == "'":
            escaped = i > 0 and sql[i - 1] in "eE" and (i < 2 or not sql[i - 2].isalnum())
            j = i + 1
            while j < n:
                if escaped and sql[j] == "\\":
                    j += 2
                    continue
                if sql[j] == "'":
                    if j + 1 < n and sql[j + 1] == "'":
                        j += 2
                        continue
                    break
                j += 1
            out.append(sql[i : j + 1].replace("%", "%%"))
            i = j + 1
        elif c == '"':
            j = sql.find('"', i + 1)
            while j != -1 and j + 1 < n and sql[j + 1] == '"':
                j = sql.find('"', j + 2)
            j = n - 1 if j == -1 else j
            out.append(sql[i : j + 1].replace("%", "%%"))
            i = j + 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j == -1 else j
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            j = n if j == -1 else j + 2
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif c == "?":
            styles.add("qmark")
            out.append("%s")
            i += 1
        elif c == "$":
            digits = _DIGITS.match(sql, i + 1)
            ident = _IDENT.match(sql, i + 1)
            tag_end = ident.end() if ident else i + 1
            if digits and not (i > 0 and (sql[i - 1].isalnum() or sql[i - 1] == "_")):
                styles.add("numeric")
                out.append(f"%({digits.group()})s")
                i = digits.end()
            elif tag_end < n and sql[tag_end] == "$":  # dollar-quoted string $tag$...$tag$
                tag = sql[i : tag_end + 1]
                j = sql.find(tag, tag_end + 1)
                j = n if j == -1 else j + len(tag)
                out.append(sql[i:j].replace("%", "%%"))
                i = j
            elif _IDENT_START.match(sql, i + 1):
                styles.add("named")
                out.append(f"%({sql[i + 1 : tag_end]})s")
                i = tag_end
            else:
                out.append(c)
                i += 1
        elif c == "%":
            out.append("%%")
            i += 1
        else:
            j = i + 1
            while j < n and sql[j] not in "'\"-/?$%":
                j += 1
            out.append(sql[i:j])
            i = j
    if len(styles) > 1:
        raise ValueError(f"mixed placeholder styles {sorted(styles)} in one statement")
    return "".join(out), styles.pop() if styles else "none"


def _py(value: Any) -> Any:
    """A value psycopg2 can send: NaN/NaT/NA as NULL, numpy scalars and arrays as Python."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        return [_py(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [_py(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.to_pydatetime()
    if isinstance(value, pd.Timedelta):
        return None if pd.isna(value) else value.to_pytimedelta()
    if value is pd.NaT or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return value


def _bind(style: str, parameters: Sequence | Mapping | None) -> tuple | dict:
    if parameters is None:
        return {} if style in ("named", "numeric") else ()
    if isinstance(parameters, Mapping):
        if style == "qmark":
            raise ValueError("`?` placeholders take a list of parameters, not a mapping")
        return {str(k): _py(v) for k, v in parameters.items()}
    if style == "named":
        raise ValueError("`$name` placeholders take a mapping of parameters")
    if style == "numeric":
        return {str(k): _py(v) for k, v in enumerate(parameters, start=1)}
    return tuple(_py(v) for v in parameters)


# --- frames as temporary tables ------------------------------------------------------------


def _scalar_type(value: Any) -> str:
    # bool before int, datetime before date: subclasses
    for kind, name in (
        (bool | np.bool_, "BOOLEAN"),
        (int | np.integer, "BIGINT"),
        (float | np.floating, "DOUBLE PRECISION"),
        (Decimal, "NUMERIC"),
        (str, "TEXT"),
        (bytes, "BYTEA"),
        (timedelta, "INTERVAL"),
    ):
        if isinstance(value, kind):
            return name
    if isinstance(value, datetime):
        return "TIMESTAMPTZ" if value.tzinfo else "TIMESTAMP"
    if isinstance(value, date):
        return "DATE"
    raise TypeError(f"cannot store a {type(value).__name__} in PostgreSQL")


def column_type(series: pd.Series) -> str:
    """The PostgreSQL type of a DataFrame column (all-NULL object columns are TEXT)."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "BOOLEAN"
    if pd.api.types.is_integer_dtype(dtype):
        return "BIGINT"
    if pd.api.types.is_float_dtype(dtype):
        return "DOUBLE PRECISION"
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "TIMESTAMPTZ"
    if pd.api.types.is_datetime64_dtype(dtype):
        return "TIMESTAMP"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "INTERVAL"
    present = series.dropna()
    if present.empty:
        return "TEXT"
    first = present.iloc[0]
    if isinstance(first, list | tuple | np.ndarray):
        items = [v for cell in present for v in cell if v is not None]
        return f"{_scalar_type(items[0]) if items else 'TEXT'}[]"
    try:
        return _scalar_type(first)
    except TypeError as exc:
        raise TypeError(f"column {series.name!r}: {exc}") from None


def _frame_rows(frame: pd.DataFrame) -> list[tuple]:
    columns = []
    for name in frame.columns:
        series = frame[name]
        if pd.api.types.is_float_dtype(series.dtype):
            values = series.to_numpy(dtype=float, na_value=np.nan)
            columns.append([None if v != v else float(v) for v in values])
        else:
            columns.append([_py(v) for v in series.tolist()])
    return list(zip(*columns, strict=True))


# --- connection ----------------------------------------------------------------------------


class PgResult:
    """The result of one statement: `fetchall()`, `fetchone()`, `df()` (like DuckDB's)."""

    def __init__(self, cursor: psycopg2.extensions.cursor) -> None:
        self._cursor = cursor

    def _no_rows(self) -> list[tuple]:
        # DuckDB answers INSERT/UPDATE/DELETE without RETURNING with one row: the row count.
        status = (self._cursor.statusmessage or "").split(" ", 1)[0]
        return [(self._cursor.rowcount,)] if status in ("INSERT", "UPDATE", "DELETE") else []

    def fetchall(self) -> list[tuple]:
        if self._cursor.description is None:
            return self._no_rows()
        return self._cursor.fetchall()

    def fetchone(self) -> tuple | None:
        if self._cursor.description is None:
            rows = self._no_rows()
            return rows[0] if rows else None
        return self._cursor.fetchone()

    def df(self) -> pd.DataFrame:
        description = self._cursor.description or []
        names = [d.name for d in description]
        frame = pd.DataFrame.from_records(self.fetchall(), columns=names)
        for i, d in enumerate(description):
            if d.type_code in _DATETIME_OIDS:
                frame.isetitem(i, pd.to_datetime(frame.iloc[:, i]))
        return frame


class PgConnection:
    """The subset of DuckDB's connection API that ecoin uses, on a psycopg2 connection."""

    dialect = "postgres"

    def __init__(self, raw: psycopg2.extensions.connection) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Sequence | Mapping | None = None) -> PgResult:
        text, style = translate(sql)
        cursor = self.raw.cursor()
        cursor.execute(text, _bind(style, parameters))
        return PgResult(cursor)

    def executemany(self, sql: str, rows: Sequence[Sequence | Mapping]) -> None:
        text, style = translate(sql)
        with self.raw.cursor() as cursor:
            psycopg2.extras.execute_batch(
                cursor, text, [_bind(style, row) for row in rows], page_size=500
            )

    def register(self, name: str, frame: pd.DataFrame) -> None:
        """Make `frame` queryable as `name` until `unregister(name)` or the end of the write."""
        table = pgsql.Identifier(name)
        columns = pgsql.SQL(", ").join(
            pgsql.SQL("{} {}").format(pgsql.Identifier(str(c)), pgsql.SQL(column_type(frame[c])))
            for c in frame.columns
        )
        with self.raw.cursor() as cursor:
            cursor.execute(pgsql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(table))
            cursor.execute(
                pgsql.SQL("CREATE TEMPORARY TABLE {} ({}) ON COMMIT DROP").format(table, columns)
            )
            rows = _frame_rows(frame)
            if rows:
                insert = pgsql.SQL("INSERT INTO pg_temp.{} VALUES %s").format(table)
                psycopg2.extras.execute_values(cursor, insert, rows, page_size=1000)

    def unregister(self, name: str) -> None:
        if self.raw.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_INERROR:
            return  # the rollback that follows drops it; a statement now would mask the error
        with self.raw.cursor() as cursor:
            cursor.execute(
                pgsql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(pgsql.Identifier(name))
            )


_PERMANENT_CONNECT_ERRORS = (
    "password authentication failed",
    "does not exist",
    "no pg_hba.conf entry",
    "invalid",
    "ssl",
)


class PostgresBackend:
    """`write()`/`read()` transactions on a PostgreSQL database, by URL."""

    dialect = "postgres"

    def __init__(self, url: str, *, lock_timeout: float = 300.0, open_timeout: float = 60.0):
        if not is_postgres_url(url):
            raise ValueError(f"not a PostgreSQL URL: {mask_url(url)}")
        self._url = url
        self.label = mask_url(url)
        self.lock_timeout = lock_timeout
        self.open_timeout = open_timeout
        self._schema_ready = False

    def _scrub(self, text: str) -> str:
        for secret in _secrets_of(self._url):
            text = text.replace(secret, "***")
        return text

    def _connect(self) -> psycopg2.extensions.connection:
        """Connect, retrying for up to `open_timeout` while the server is unreachable."""
        deadline = time.monotonic() + self.open_timeout
        delay = 0.05
        while True:
            try:
                raw = psycopg2.connect(
                    self._url,
                    connect_timeout=max(1, min(10, round(self.open_timeout))),
                    application_name="ecoin",
                )
                break
            except psycopg2.Error as exc:
                reason = self._scrub((str(exc).strip().splitlines() or [repr(exc)])[0])
                permanent = any(p in reason.lower() for p in _PERMANENT_CONNECT_ERRORS)
                if permanent or time.monotonic() + delay > deadline:
                    raise UserError(
                        f"cannot connect to the database {self.label}: {reason} "
                        "(check ECOIN_DATABASE_URL and that the server is up)"
                    ) from None
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        psycopg2.extensions.register_type(_NUMERIC, raw)
        psycopg2.extensions.register_type(_NUMERIC_ARRAY, raw)
        psycopg2.extras.register_default_json(raw, loads=lambda text: text)
        psycopg2.extras.register_default_jsonb(raw, loads=lambda text: text)
        return raw

    def _ensure_schema(self, raw: psycopg2.extensions.connection) -> None:
        """Bring the schema to SCHEMA_VERSION (`schema.py`), checked once per `Database` object.

        Only when the stored version is behind does it run DDL (in one transaction, under an
        advisory lock so that processes starting together do not race, the version read again
        once the lock is held): an account that may only read never needs the right to create.
        """
        if self._schema_ready:
            return
        with raw.cursor() as cursor:
            if check_version(self._version(cursor), self.label):
                cursor.execute(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK_KEY})")
                version = self._version(cursor)
                if check_version(version, self.label):
                    for statement in migration_statements(version, "postgres"):
                        cursor.execute(statement)
        raw.commit()
        self._schema_ready = True

    @staticmethod
    def _version(cursor: psycopg2.extensions.cursor) -> int:
        cursor.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return 0
        cursor.execute("SELECT max(version) FROM schema_migrations")
        (version,) = cursor.fetchone()
        return int(version or 0)

    def exists(self) -> bool:
        """True when the database answers and holds the schema (never creates it)."""
        try:
            with self.read(create=False) as con:
                (found,) = con.execute("SELECT to_regclass('prices') IS NOT NULL").fetchone()
                return bool(found)
        except UserError:
            return False

    @contextmanager
    def write(self) -> Iterator[PgConnection]:
        """One transaction: committed on success, rolled back on any error."""
        raw = self._connect()
        try:
            self._ensure_schema(raw)
            with raw.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('lock_timeout', %s, true)",
                    (f"{round(self.lock_timeout * 1000)}ms",),
                )
            try:
                yield PgConnection(raw)
            except psycopg2.errors.LockNotAvailable:
                raw.rollback()
                raise UserError(
                    f"another ecoin process has been writing the same rows of {self.label} for "
                    f"over {self.lock_timeout:.0f} s; try again when it has finished"
                ) from None
            except BaseException:
                raw.rollback()
                raise
            raw.commit()
        finally:
            raw.close()

    @contextmanager
    def read(self, *, create: bool = True) -> Iterator[PgConnection]:
        """One read-only transaction on one snapshot (the schema is created if missing)."""
        raw = self._connect()
        try:
            if create:
                self._ensure_schema(raw)
            with raw.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield PgConnection(raw)
        finally:
            raw.close()  # closing without commit rolls back
