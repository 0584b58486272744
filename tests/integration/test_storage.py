"""The storage layer on both backends: schema, transactions, idempotent upserts, the monthly
range table, answers (ecoin_assets/storage, ecoin_assets/prices/store.py).

The `db` fixture runs every test that takes it twice, on a DuckDB file and on a fresh
PostgreSQL database (a throwaway server from tests/postgres_server.py; those runs are skipped
with the reason when PostgreSQL cannot start here). Tests about DuckDB's file and its
single-writer rules take `duckdb_db`; tests about PostgreSQL alone take `pg_db`.
"""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import numpy as np
import pandas as pd
import psycopg2
import psycopg2.errors
import pytest

from ecoin_assets.config import load_settings
from ecoin_assets.errors import UnavailableError, UserError
from ecoin_assets.forecasting.realized import score_new_forecasts
from ecoin_assets.prices.store import (
    PRICE_COLUMNS,
    WriteSummary,
    points_frame,
    store_answers,
    upsert_prices,
)
from ecoin_assets.resources import EcoinSettings, EcoinStore, build_resources
from ecoin_assets.sources.coingecko import ApiAnswer, DailyPoint
from ecoin_assets.storage import Database, mask_url
from ecoin_assets.storage.postgres import translate
from ecoin_assets.storage.schema import MIGRATIONS, SCHEMA_VERSION, TABLES, render

REPO_ROOT = Path(__file__).resolve().parents[2]
T1 = datetime(2024, 3, 1, 12, 0, 0)
T2 = datetime(2024, 3, 2, 12, 0, 0)
T3 = datetime(2024, 3, 3, 12, 0, 0)
BACKENDS = ["duckdb", "postgres"]
#: what each backend raises for a duplicate key and for a write in a read-only transaction
DUPLICATE_KEY = {"duckdb": duckdb.ConstraintException, "postgres": psycopg2.errors.UniqueViolation}
READ_ONLY = {"duckdb": duckdb.Error, "postgres": psycopg2.errors.ReadOnlySqlTransaction}


@pytest.fixture(params=BACKENDS)
def db_target(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """A DuckDB file that does not exist yet, or the URL of a fresh, empty PostgreSQL database."""
    if request.param == "duckdb":
        return tmp_path / "ecoin.duckdb"
    return request.getfixturevalue("postgres_database_url")


@pytest.fixture
def db(db_target: str | Path) -> Database:
    return Database(db_target, lock_timeout=30, open_timeout=30)


@pytest.fixture
def duckdb_db(tmp_path: Path) -> Database:
    return Database(tmp_path / "ecoin.duckdb", lock_timeout=30, open_timeout=30)


@pytest.fixture
def pg_db(postgres_database_url: str) -> Database:
    return Database(postgres_database_url, lock_timeout=30, open_timeout=30)


def frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=PRICE_COLUMNS)


def prices_of(db: Database) -> list[tuple]:
    return db.query("SELECT * FROM prices ORDER BY coin_id, date")


def ranges_of(db: Database) -> list[tuple]:
    return db.query(
        "SELECT coin_id, month, min_price_usd, min_date, max_price_usd, max_date, days "
        "FROM price_monthly_range ORDER BY coin_id, month"
    )


def upsert(db: Database, rows: list[tuple], source: str = "test", now: datetime = T1):
    with db.write() as con:
        return upsert_prices(con, frame(rows), source, now=now)


BTC_JAN = [
    ("bitcoin", date(2024, 1, 1), 100.0, 1000.0, 10.0),
    ("bitcoin", date(2024, 1, 2), 110.0, 1100.0, 11.0),
    ("bitcoin", date(2024, 1, 3), 90.0, None, 12.0),
    ("bitcoin", date(2024, 1, 4), 95.0, 950.0, None),
]

PRICES_COLUMNS = {
    "duckdb": [
        ("coin_id", "VARCHAR", "NO"),
        ("date", "DATE", "NO"),
        ("price_usd", "DOUBLE", "NO"),
        ("market_cap_usd", "DOUBLE", "YES"),
        ("volume_usd", "DOUBLE", "YES"),
        ("source", "VARCHAR", "NO"),
        ("ingested_at", "TIMESTAMP", "NO"),
    ],
    "postgres": [
        ("coin_id", "character varying", "NO"),
        ("date", "date", "NO"),
        ("price_usd", "double precision", "NO"),
        ("market_cap_usd", "double precision", "YES"),
        ("volume_usd", "double precision", "YES"),
        ("source", "character varying", "NO"),
        ("ingested_at", "timestamp without time zone", "NO"),
    ],
}
COLUMNS_SQL = (
    "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
    "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
)


# --- schema and transactions -------------------------------------------------------------


def test_schema_created_on_first_write(db_target: str | Path, db: Database) -> None:
    assert not db.exists()
    with db.write():
        pass
    assert db.exists()
    tables = {
        r[0]
        for r in db.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    }
    assert tables == {*TABLES, "schema_migrations"}
    columns = [r[1:] for r in db.query(COLUMNS_SQL) if r[0] == "prices"]
    assert columns == PRICES_COLUMNS[db.dialect]
    # Tables start empty, and applying the schema again (every write does) changes nothing.
    with Database(db_target).write():
        pass
    for table in TABLES:
        assert db.query(f"SELECT count(*) FROM {table}") == [(0,)]


def test_duckdb_file_and_folders_created_on_first_write(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "ecoin.duckdb"
    db = Database(path)
    assert not path.exists()
    assert not db.exists()
    with db.write():
        pass
    assert path.exists()
    assert db.exists()


def test_one_definition_gives_the_same_tables_on_both_backends(
    duckdb_db: Database, pg_db: Database
) -> None:
    for db in (duckdb_db, pg_db):
        with db.write():
            pass
    duck = duckdb_db.query(COLUMNS_SQL)
    pg = pg_db.query(COLUMNS_SQL)
    # Same tables, columns, order and nullability; the type names are each dialect's own.
    assert [(t, c, null) for t, c, _, null in duck] == [(t, c, null) for t, c, _, null in pg]
    same_type = {
        "VARCHAR": "character varying",
        "DATE": "date",
        "DOUBLE": "double precision",
        "TIMESTAMP": "timestamp without time zone",
        "INTEGER": "integer",
        "BIGINT": "bigint",
        "BOOLEAN": "boolean",
        "JSON": "json",
        "VARCHAR[]": "ARRAY",
    }
    assert [same_type[d[2]] for d in duck] == [p[2] for p in pg]


def test_render_maps_only_type_names() -> None:
    ddl = TABLES["forecasts"]
    assert render(ddl, "duckdb") == ddl
    pg = render(ddl, "postgres")
    assert "yhat DOUBLE PRECISION NOT NULL" in pg
    assert "interval DOUBLE PRECISION NOT NULL" in pg
    assert render(pg, "postgres") == pg
    assert pg.replace(" PRECISION", "") == ddl
    with pytest.raises(ValueError, match="unknown SQL dialect"):
        render(ddl, "oracle")


def test_read_on_a_new_database_creates_the_schema(db: Database) -> None:
    assert not db.exists()
    with db.read() as con:
        assert con.execute("SELECT count(*) FROM prices").fetchall() == [(0,)]
    assert db.exists()


def test_read_connection_is_read_only(db: Database) -> None:
    upsert(db, BTC_JAN)
    with db.read() as con, pytest.raises(READ_ONLY[db.dialect]):
        con.execute("DELETE FROM prices")
    assert len(prices_of(db)) == 4


def test_primary_key_on_coin_and_date(db: Database) -> None:
    upsert(db, BTC_JAN)
    with pytest.raises(DUPLICATE_KEY[db.dialect]), db.write() as con:
        con.execute(
            "INSERT INTO prices VALUES ('bitcoin', DATE '2024-01-01', 1, NULL, NULL, 'x', ?)",
            [T2],
        )
    assert prices_of(db)[0][2] == 100.0


def test_failing_write_rolls_back_completely(db_target: str | Path, db: Database) -> None:
    upsert(db, BTC_JAN, now=T1)
    with db.write() as con:
        store_answers(con, [_answer("bitcoin")])
    before = (prices_of(db), ranges_of(db), db.query("SELECT * FROM raw_coingecko_answers"))

    with pytest.raises(RuntimeError, match="boom"), db.write() as con:
        summary = upsert_prices(
            con,
            frame(
                [
                    ("bitcoin", date(2024, 1, 1), 1.0, 1.0, 1.0),  # update
                    ("bitcoin", date(2024, 1, 5), 2.0, 2.0, 2.0),  # insert
                    ("ethereum", date(2024, 2, 1), 3.0, None, None),  # new coin
                ]
            ),
            "test",
            now=T2,
        )
        assert summary.changed == 3
        store_answers(con, [_answer("ethereum")])
        con.execute("DELETE FROM prices WHERE date = DATE '2024-01-02'")
        # Inside the transaction the changes are visible ...
        assert con.execute("SELECT count(*) FROM prices").fetchall() == [(5,)]
        raise RuntimeError("boom")

    # ... and after the error none of them is.
    after = (prices_of(db), ranges_of(db), db.query("SELECT * FROM raw_coingecko_answers"))
    assert after == before
    # Nothing is left held (DuckDB: the file lock; PostgreSQL: the rows' locks): writing the
    # same rows again does not wait.
    quick = Database(db_target, lock_timeout=1)
    started = time.monotonic()
    upsert(quick, [("bitcoin", date(2024, 1, 1), 1.0, 1.0, 1.0)], now=T2)
    assert time.monotonic() - started < 1


def test_failing_statement_in_an_upsert_is_the_error_raised(db: Database) -> None:
    upsert(db, BTC_JAN, now=T1)
    not_null = {"duckdb": duckdb.ConstraintException, "postgres": psycopg2.errors.NotNullViolation}
    # No clean-up statement after the failed one hides its error (the transaction is aborted).
    with pytest.raises(not_null[db.dialect], match=r"(?i)null"), db.write() as con:
        upsert_prices(con, frame([("bitcoin", date(2024, 1, 9), None, None, None)]), "t", now=T2)
    assert [r[:5] for r in prices_of(db)] == BTC_JAN


def test_upsert_rejects_two_rows_for_one_coin_and_day(db: Database) -> None:
    # (DuckDB's ON CONFLICT would keep one of them, PostgreSQL's would fail: neither guesses.)
    twice = [*BTC_JAN, ("bitcoin", date(2024, 1, 2), 111.0, None, None)]
    with pytest.raises(ValueError, match="more than one row for bitcoin on 2024-01-02"):
        upsert(db, twice)
    assert prices_of(db) == []


def test_failing_write_keeps_a_new_database_empty(db: Database) -> None:
    with pytest.raises(ValueError), db.write() as con:
        upsert_prices(con, frame(BTC_JAN), "test", now=T1)
        raise ValueError("fail")
    assert prices_of(db) == []
    assert ranges_of(db) == []


# --- upserts -------------------------------------------------------------------------------


def test_upsert_inserts_rows_with_source_and_ingested_at(db: Database) -> None:
    summary = upsert(db, BTC_JAN, source="csv:x.csv", now=datetime(2024, 3, 1, 12, tzinfo=UTC))
    assert (summary.inserted, summary.updated, summary.unchanged) == (4, 0, 0)
    assert prices_of(db) == [(*row, "csv:x.csv", T1) for row in BTC_JAN]


def test_upsert_same_data_twice_is_a_no_op(db: Database) -> None:
    first = upsert(db, BTC_JAN, now=T1)
    assert first.as_dict() == {
        "inserted": 4,
        "updated": 0,
        "unchanged": 0,
        "per_coin": {"bitcoin": {"inserted": 4, "updated": 0, "unchanged": 0}},
    }
    prices_before, ranges_before = prices_of(db), ranges_of(db)

    second = upsert(db, BTC_JAN, now=T2)
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, 4)
    assert second.changed == 0
    assert second.per_coin == {"bitcoin": {"inserted": 0, "updated": 0, "unchanged": 4}}
    # Identical contents, `ingested_at` included (still T1, not T2).
    assert prices_of(db) == prices_before
    assert {r[-1] for r in prices_of(db)} == {T1}
    assert ranges_of(db) == ranges_before


def test_upsert_accepts_timestamps_and_strings_for_dates(db: Database) -> None:
    upsert(db, BTC_JAN, now=T1)
    again = [(c, pd.Timestamp(d), p, m, v) for c, d, p, m, v in BTC_JAN[:2]] + [
        (c, d.isoformat(), p, m, v) for c, d, p, m, v in BTC_JAN[2:]
    ]
    summary = upsert(db, again, now=T2)
    assert (summary.inserted, summary.updated, summary.unchanged) == (0, 0, 4)


def test_upsert_counts_changed_values_as_updated(db: Database) -> None:
    upsert(db, BTC_JAN, now=T1)
    changed = [
        ("bitcoin", date(2024, 1, 1), 101.0, 1000.0, 10.0),  # price changed
        ("bitcoin", date(2024, 1, 2), 110.0, None, 11.0),  # market cap -> NULL
        ("bitcoin", date(2024, 1, 3), 90.0, 900.0, 12.0),  # market cap NULL -> value
        ("bitcoin", date(2024, 1, 4), 95.0, 950.0, None),  # unchanged (NULL volume both)
        ("bitcoin", date(2024, 1, 5), 96.0, 960.0, 9.0),  # new
    ]
    summary = upsert(db, changed, now=T2)
    assert summary.as_dict() == {
        "inserted": 1,
        "updated": 3,
        "unchanged": 1,
        "per_coin": {"bitcoin": {"inserted": 1, "updated": 3, "unchanged": 1}},
    }
    assert summary.changed == 4
    rows = prices_of(db)
    assert [r[:5] for r in rows] == changed
    assert [r[6] for r in rows] == [T2, T2, T2, T1, T2]


def test_upsert_counts_a_new_source_as_updated(db: Database) -> None:
    upsert(db, BTC_JAN, source="coingecko:a", now=T1)
    summary = upsert(db, BTC_JAN[:1], source="csv:b.csv", now=T2)
    assert (summary.inserted, summary.updated, summary.unchanged) == (0, 1, 0)
    assert prices_of(db)[0][5:] == ("csv:b.csv", T2)
    assert prices_of(db)[1][5:] == ("coingecko:a", T1)


def test_upsert_per_coin_stats(db: Database) -> None:
    upsert(
        db,
        [
            ("ethereum", date(2024, 1, 1), 10.0, None, None),
            ("ethereum", date(2024, 1, 2), 11.0, None, None),
            ("ethereum", date(2024, 1, 3), 12.0, None, None),
            ("solana", date(2024, 1, 1), 1.0, None, None),
        ],
        now=T1,
    )
    summary = upsert(
        db,
        [
            *BTC_JAN[:3],  # bitcoin: 3 new
            ("ethereum", date(2024, 1, 1), 10.0, None, None),  # unchanged
            ("ethereum", date(2024, 1, 2), 11.5, None, None),  # updated
            ("ethereum", date(2024, 1, 3), 12.0, None, None),  # unchanged
            ("ethereum", date(2024, 1, 4), 13.0, None, None),  # new
        ],
        now=T2,
    )
    assert summary.per_coin == {
        "bitcoin": {"inserted": 3, "updated": 0, "unchanged": 0},
        "ethereum": {"inserted": 1, "updated": 1, "unchanged": 2},
    }
    assert (summary.inserted, summary.updated, summary.unchanged) == (4, 1, 2)
    assert summary.changed == 5
    assert db.query("SELECT count(*) FROM prices WHERE coin_id = 'solana'") == [(1,)]


def test_upsert_empty_frame_writes_nothing(db: Database) -> None:
    with db.write() as con:
        summary = upsert_prices(con, frame([]), "test")
    assert summary == WriteSummary()
    assert summary.as_dict() == {"inserted": 0, "updated": 0, "unchanged": 0, "per_coin": {}}
    assert prices_of(db) == []
    assert ranges_of(db) == []


def test_points_frame_round_trip(db: Database) -> None:
    points = [DailyPoint(*row) for row in BTC_JAN]
    f = points_frame(points)
    assert list(f.columns) == PRICE_COLUMNS
    with db.write() as con:
        summary = upsert_prices(con, f, "coingecko:test", now=T1)
    assert summary.inserted == 4
    assert [r[:5] for r in prices_of(db)] == BTC_JAN


# --- price_monthly_range -------------------------------------------------------------------


def test_monthly_range_written_by_upsert(db: Database) -> None:
    upsert(
        db,
        [
            *BTC_JAN,
            ("bitcoin", date(2024, 2, 1), 200.0, None, None),
            ("bitcoin", date(2024, 2, 29), 150.0, None, None),
            ("ethereum", date(2024, 1, 31), 5.0, None, None),
        ],
        now=T1,
    )
    assert ranges_of(db) == [
        ("bitcoin", date(2024, 1, 1), 90.0, date(2024, 1, 3), 110.0, date(2024, 1, 2), 4),
        ("bitcoin", date(2024, 2, 1), 150.0, date(2024, 2, 29), 200.0, date(2024, 2, 1), 2),
        ("ethereum", date(2024, 1, 1), 5.0, date(2024, 1, 31), 5.0, date(2024, 1, 31), 1),
    ]
    assert db.query("SELECT DISTINCT updated_at FROM price_monthly_range") == [(T1,)]


def test_monthly_range_follows_updates_that_lower_a_price(db: Database) -> None:
    upsert(db, [*BTC_JAN, ("bitcoin", date(2024, 2, 1), 200.0, None, None)], now=T1)
    # Lower the January maximum (110 on the 2nd) below everything else: both ends move.
    summary = upsert(db, [("bitcoin", date(2024, 1, 2), 80.0, 1100.0, 11.0)], now=T2)
    assert summary.updated == 1
    assert ranges_of(db) == [
        ("bitcoin", date(2024, 1, 1), 80.0, date(2024, 1, 2), 100.0, date(2024, 1, 1), 4),
        ("bitcoin", date(2024, 2, 1), 200.0, date(2024, 2, 1), 200.0, date(2024, 2, 1), 1),
    ]
    # Only the touched month was recomputed.
    assert db.query("SELECT month, updated_at FROM price_monthly_range ORDER BY month") == [
        (date(2024, 1, 1), T2),
        (date(2024, 2, 1), T1),
    ]


def test_monthly_range_follows_new_days_and_other_coins_are_untouched(db: Database) -> None:
    upsert(db, [*BTC_JAN, ("ethereum", date(2024, 1, 1), 5.0, None, None)], now=T1)
    upsert(
        db,
        [
            ("bitcoin", date(2024, 1, 20), 300.0, None, None),
            ("bitcoin", date(2024, 3, 10), 50.0, None, None),
        ],
        now=T2,
    )
    assert ranges_of(db) == [
        ("bitcoin", date(2024, 1, 1), 90.0, date(2024, 1, 3), 300.0, date(2024, 1, 20), 5),
        ("bitcoin", date(2024, 3, 1), 50.0, date(2024, 3, 10), 50.0, date(2024, 3, 10), 1),
        ("ethereum", date(2024, 1, 1), 5.0, date(2024, 1, 1), 5.0, date(2024, 1, 1), 1),
    ]
    assert db.query("SELECT updated_at FROM price_monthly_range WHERE coin_id = 'ethereum'") == [
        (T1,)
    ]


def test_monthly_range_matches_a_full_recomputation(db: Database) -> None:
    rows = [
        ("bitcoin", date(2023, 12, 1) + pd.Timedelta(days=i).to_pytimedelta(), p, None, None)
        for i, p in enumerate([5.0, 3.0, 8.0, 1.0, 9.0, 2.0, 7.0] * 12)
    ]
    upsert(db, rows[:40], now=T1)
    upsert(db, rows[30:], now=T2)
    upsert(db, [(c, d, p * 1.5, m, v) for c, d, p, m, v in rows[20:50]], now=T3)
    by_month: dict[date, list[tuple[date, float]]] = {}
    for d, p in db.query("SELECT date, price_usd FROM prices ORDER BY date"):
        by_month.setdefault(d.replace(day=1), []).append((d, p))
    expected = []  # ties resolve to the earliest date
    for month, days in sorted(by_month.items()):
        low = min(p for _, p in days)
        high = max(p for _, p in days)
        expected.append(
            (
                "bitcoin",
                month,
                low,
                min(d for d, p in days if p == low),
                high,
                min(d for d, p in days if p == high),
                len(days),
            )
        )
    assert ranges_of(db) == expected
    assert [r[1] for r in expected] == [date(2023, 12, 1), date(2024, 1, 1), date(2024, 2, 1)]


# --- raw answers ---------------------------------------------------------------------------


def _answer(coin: str | None, **kw) -> ApiAnswer:
    base = {
        "coin_id": coin,
        "endpoint": "coins/{id}/market_chart/range",
        "url": f"http://127.0.0.1:8701/api/v3/coins/{coin}/market_chart/range",
        "params": {"vs_currency": "usd", "from": "1704067200", "to": "1706745600"},
        "status": 200,
        "body": '{"prices": [[1704067200000, 42000.5]]}',
        "received_at": datetime(2024, 3, 1, 12, 30, 15, 123456, tzinfo=UTC),
    }
    base.update(kw)
    return ApiAnswer(**base)


def test_store_answers_round_trip(db: Database) -> None:
    answers = [
        _answer("bitcoin"),
        _answer(
            None,
            endpoint="ping",
            url="http://127.0.0.1:8701/api/v3/ping",
            params={},
            status=None,
            body="",
            error="connection reset by peer",
        ),
        _answer("ethereum", status=429, body='{"error": "rate limited \\u00e9"}'),
    ]
    with db.write() as con:
        assert store_answers(con, answers) == 3
    rows = db.query(
        "SELECT answer_id, coin_id, endpoint, url, params, status, error, body, received_at "
        "FROM raw_coingecko_answers"
    )
    assert len(rows) == 3
    ids = [r[0] for r in rows]
    assert len(set(ids)) == 3
    for answer_id in ids:
        uuid.UUID(answer_id)
    by_url_status = {(r[3], r[5]): r for r in rows}
    for a in answers:
        row = by_url_status[(a.url, a.status)]
        assert row[1:4] == (a.coin_id, a.endpoint, a.url)
        assert json.loads(row[4]) == a.params
        assert row[5:8] == (a.status, a.error, a.body)
        assert row[8] == a.received_at.replace(tzinfo=None)


def test_store_answers_appends_and_empty_is_zero(db: Database) -> None:
    with db.write() as con:
        assert store_answers(con, []) == 0
        assert store_answers(con, [_answer("bitcoin")]) == 1
    with db.write() as con:
        assert store_answers(con, [_answer("bitcoin")]) == 1
    assert db.query("SELECT count(*) FROM raw_coingecko_answers") == [(2,)]


# --- DuckDB: the file and its single writer ---------------------------------------------
# DuckDB-only: PostgreSQL has no file, its readers never wait for writers and its writers
# only wait for each other on the same rows (tested in the PostgreSQL section below).

_HOLDER = """
import sys, time
from datetime import datetime
from ecoin_assets.storage import Database

path, hold = sys.argv[1], sys.argv[2]
with Database(path).write() as con:
    con.execute(
        "INSERT INTO prices VALUES ('holder', DATE '2024-01-01', 1.0, NULL, NULL, 'proc', ?)",
        [datetime(2024, 1, 1)],
    )
    print("ready", flush=True)
    if hold == "stdin":
        sys.stdin.readline()
    else:
        time.sleep(float(hold))
print("done", flush=True)
"""


@contextmanager
def writer_in_other_process(path: Path, hold: str) -> Iterator[subprocess.Popen]:
    """Another process that holds a write transaction (lock + open file) on `path`.

    `hold` is seconds to sleep, or "stdin" to hold until a line is written to its stdin.
    Yields once the transaction is open.
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_HOLDER), str(path), hold],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        if line.strip() != "ready":
            proc.kill()
            _, err = proc.communicate(timeout=30)
            pytest.fail(f"holder process did not start: {line!r} {err}")
        yield proc
    finally:
        if proc.poll() is None:
            try:
                proc.stdin.write("go\n")
                proc.stdin.flush()
            except OSError:
                pass
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
        assert proc.returncode == 0, err
        assert out.strip() == "done"


def _create(db: Database) -> None:
    upsert(db, BTC_JAN, now=T1)


@pytest.mark.slow
def test_read_waits_for_a_writer_in_another_process(duckdb_db: Database) -> None:
    db = duckdb_db
    _create(db)
    with writer_in_other_process(db.path, "1.0"):
        started = time.monotonic()
        # A plain read-only open fails while the other process holds the file ...
        with pytest.raises(duckdb.Error, match=r"(?i)lock"):
            duckdb.connect(str(db.path), read_only=True)
        # ... but Database.read() retries and sees the other process's committed row.
        with db.read() as con:
            count = con.execute("SELECT count(*) FROM prices WHERE coin_id = 'holder'").fetchall()
        waited = time.monotonic() - started
    assert count == [(1,)]
    assert waited >= 0.5
    assert len(prices_of(db)) == 5


@pytest.mark.slow
def test_second_writer_queues_on_the_file_lock(duckdb_db: Database) -> None:
    db = duckdb_db
    _create(db)
    with writer_in_other_process(db.path, "1.0"):
        started = time.monotonic()
        with db.write() as con:
            waited = time.monotonic() - started
            # The other process has committed by the time this transaction begins.
            seen = con.execute("SELECT count(*) FROM prices WHERE coin_id = 'holder'").fetchall()
            summary = upsert_prices(
                con, frame([("ethereum", date(2024, 1, 1), 5.0, None, None)]), "test", now=T2
            )
    assert waited >= 0.5
    assert seen == [(1,)]
    assert summary.inserted == 1
    assert {r[0] for r in prices_of(db)} == {"bitcoin", "ethereum", "holder"}


@pytest.mark.slow
def test_busy_bounds_give_user_errors_not_lock_errors(duckdb_db: Database) -> None:
    db = duckdb_db
    _create(db)
    impatient = Database(db.path, lock_timeout=0.2, open_timeout=0.2)
    with writer_in_other_process(db.path, "stdin"):
        with (
            pytest.raises(UserError, match="another ecoin process has been writing"),
            impatient.write(),
        ):
            pass
        with pytest.raises(UserError, match="stayed busy"), impatient.read():
            pass
    # Once the other process has finished, both work.
    with impatient.write() as con:
        con.execute("SELECT 1")
    assert len(impatient.query("SELECT * FROM prices")) == 5


def test_other_open_errors_are_not_retried(tmp_path: Path) -> None:
    path = tmp_path / "not-a-database.duckdb"
    path.write_bytes(b"this is not a DuckDB file\n" * 200)
    db = Database(path, open_timeout=30)
    started = time.monotonic()
    with pytest.raises(duckdb.Error), db.read():
        pass
    assert time.monotonic() - started < 10


# --- the connection API callers use, on both backends ------------------------------------


def test_placeholders_outside_literals_and_percent_signs(db: Database) -> None:
    with db.read() as con:
        row = con.execute(
            "SELECT '?' AS q, 'it''s 100% ?' AS s, ? AS a, ? || '%' AS b -- a ? in a comment\n",
            ["x", "50"],
        ).fetchone()
        assert row == ("?", "it's 100% ?", "x", "50%")
        assert con.execute("SELECT 7 % 3, $n + 1", {"n": 41}).fetchall() == [(1, 42)]
        assert con.execute("SELECT $2, $1", [1, 2]).fetchall() == [(2, 1)]


def test_statements_without_rows_answer_their_row_count(db: Database) -> None:
    upsert(db, BTC_JAN)
    with db.write() as con:
        assert con.execute(
            "UPDATE prices SET source = 'x' WHERE price_usd > ?", [99]
        ).fetchall() == [(2,)]
        assert con.execute("DELETE FROM prices WHERE coin_id = 'none'").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM prices WHERE source = 'x'").fetchone() == (2,)


def test_results_have_duckdb_types(db: Database) -> None:
    upsert(db, BTC_JAN)
    sql = (
        "SELECT coin_id, count(*) AS n, sum(price_usd) AS total, avg(price_usd) AS mean, "
        "min(date) AS first, max(ingested_at) AS last FROM prices GROUP BY coin_id"
    )
    assert db.query(sql) == [("bitcoin", 4, 395.0, 98.75, date(2024, 1, 1), T1)]
    df = db.query_df(sql)
    assert list(df.columns) == ["coin_id", "n", "total", "mean", "first", "last"]
    assert df.iloc[0].tolist() == ["bitcoin", 4, 395.0, 98.75, pd.Timestamp(2024, 1, 1), T1]
    assert pd.api.types.is_datetime64_dtype(df["first"])
    assert pd.api.types.is_datetime64_dtype(df["last"])
    empty = db.query_df("SELECT coin_id, date FROM prices WHERE coin_id = ?", ["none"])
    assert list(empty.columns) == ["coin_id", "date"]
    assert empty.empty


def test_registered_frame_round_trips_every_column_type(db: Database) -> None:
    source = pd.DataFrame(
        {
            "i": np.array([1, 2, 3], dtype="int64"),
            "f": [1.5, np.nan, -2.0],
            "b": [True, False, True],
            "s": ["a", None, "c'%?"],
            "d": [date(2024, 1, 1), None, date(2024, 2, 29)],
            "t": pd.to_datetime(
                [datetime(2024, 1, 1, 10), None, datetime(2024, 3, 1, 0, 0, 1, 500000)]
            ),
            "nothing": [None, None, None],
            "tokens": [["a", "b"], [], ["c"]],
        }
    )
    with db.write() as con:
        con.register("frame_in", source)
        rows = con.execute("SELECT * FROM frame_in ORDER BY i").fetchall()
        con.unregister("frame_in")
        # Registering a name again replaces the frame.
        con.register("frame_in", source.head(1))
        assert con.execute("SELECT count(*) FROM frame_in").fetchone() == (1,)
    assert [r[:7] for r in rows] == [
        (1, 1.5, True, "a", date(2024, 1, 1), datetime(2024, 1, 1, 10), None),
        (2, None, False, None, None, None, None),
        (3, -2.0, True, "c'%?", date(2024, 2, 29), datetime(2024, 3, 1, 0, 0, 1, 500000), None),
    ]
    assert [list(r[7]) for r in rows] == [["a", "b"], [], ["c"]]


def test_executemany(db: Database) -> None:
    with db.write() as con:
        con.executemany(
            "INSERT INTO post_topics VALUES (?, ?)",
            [(1, "bitcoin"), (2, "ethereum"), (3, "bitcoin")],
        )
        (n,) = con.execute(
            "SELECT count(*) FROM post_topics WHERE topic = ? AND post_id >= ?", ["bitcoin", 1]
        ).fetchone()
    assert n == 2
    assert db.query("SELECT post_id FROM post_topics ORDER BY 1") == [(1,), (2,), (3,)]


# --- PostgreSQL: concurrent writers, snapshots, connection errors ------------------------


def test_postgres_writers_of_different_rows_run_at_the_same_time(pg_db: Database) -> None:
    upsert(pg_db, BTC_JAN)
    inside = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    def write(coin: str) -> None:
        try:
            with pg_db.write() as con:
                upsert_prices(con, frame([(coin, date(2024, 1, 1), 1.0, None, None)]), "t")
                inside.wait()  # both transactions are open at once: no writer lock
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(c,)) for c in ("ethereum", "solana")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert {r[0] for r in prices_of(pg_db)} == {"bitcoin", "ethereum", "solana"}


def test_postgres_writer_of_the_same_rows_waits_then_gives_a_user_error(
    postgres_database_url: str, pg_db: Database
) -> None:
    upsert(pg_db, BTC_JAN)
    impatient = Database(postgres_database_url, lock_timeout=0.3)
    with pg_db.write() as con:
        upsert_prices(con, frame([("bitcoin", date(2024, 1, 1), 1.0, None, None)]), "a", now=T2)
        started = time.monotonic()
        with (
            pytest.raises(UserError, match=r"writing the same rows .* for over 0 s"),
            impatient.write() as other,
        ):
            upsert_prices(other, frame(BTC_JAN[:1]), "b", now=T3)
        assert 0.25 < time.monotonic() - started < 5
        # Other rows are not blocked.
        with impatient.write() as other:
            upsert_prices(other, frame([("solana", date(2024, 1, 1), 1.0, None, None)]), "b")
    assert prices_of(pg_db)[0][2] == 1.0


def test_postgres_read_sees_one_snapshot(pg_db: Database) -> None:
    upsert(pg_db, BTC_JAN)
    with pg_db.read() as con:
        assert con.execute("SELECT count(*) FROM prices").fetchone() == (4,)
        upsert(pg_db, [("solana", date(2024, 1, 1), 1.0, None, None)])  # commits meanwhile
        assert con.execute("SELECT count(*) FROM prices").fetchone() == (4,)
    assert len(prices_of(pg_db)) == 5


def test_postgres_account_that_may_only_read(postgres_database_url: str, pg_db: Database) -> None:
    upsert(pg_db, BTC_JAN)
    with pg_db.write() as con:
        con.execute("CREATE ROLE reader LOGIN PASSWORD 'r3ad'")
        con.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader")
        con.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    parts = urlsplit(postgres_database_url)
    reader = Database(parts._replace(netloc=f"reader:r3ad@{parts.hostname}:{parts.port}").geturl())
    try:
        # The schema exists, so nothing is created: reading needs no other right.
        assert reader.exists()
        assert [r[:5] for r in prices_of(reader)] == BTC_JAN
        with pytest.raises(psycopg2.errors.InsufficientPrivilege), reader.write() as con:
            con.execute("DELETE FROM prices")
    finally:
        with pg_db.write() as con:
            con.execute("DROP OWNED BY reader")
            con.execute("DROP ROLE reader")


def test_postgres_bad_password_fails_at_once_without_showing_it(postgres_database_url: str) -> None:
    url = postgres_database_url.replace("@", "x@", 1)  # a wrong password
    secret = url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    db = Database(url, open_timeout=30)
    assert secret not in repr(db)
    assert secret not in db.label
    started = time.monotonic()
    with pytest.raises(UserError, match="password authentication failed") as failure, db.read():
        pass
    assert time.monotonic() - started < 5
    assert secret not in str(failure.value)
    assert ":***@127.0.0.1" in str(failure.value)
    assert not db.exists()


def test_postgres_unreachable_server_is_retried_within_the_bound() -> None:
    with socket_on_free_port() as port:
        pass  # the port is free again: nothing listens there
    db = Database(f"postgresql://u:pw@127.0.0.1:{port}/ecoin", open_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(UserError, match=r"cannot connect to the database postgresql://u:\*\*\*@"):
        db.query("SELECT 1")
    assert 0.3 < time.monotonic() - started < 5


@contextmanager
def socket_on_free_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


# --- configuration: one switch -----------------------------------------------------------


def test_translate_leaves_literals_names_and_comments_alone() -> None:
    assert translate("SELECT ? FROM t WHERE a = ?") == ("SELECT %s FROM t WHERE a = %s", "qmark")
    assert translate("""SELECT '?', E'\\'?', "a?", $$?$$, $x$?$x$ /* ? */ -- ?""") == (
        """SELECT '?', E'\\'?', "a?", $$?$$, $x$?$x$ /* ? */ -- ?""",
        "none",
    )
    assert translate("SELECT 5 % 2, '%'") == ("SELECT 5 %% 2, '%%'", "none")
    assert translate("SELECT $name::INT") == ("SELECT %(name)s::INT", "named")
    assert translate("SELECT $2, $1") == ("SELECT %(2)s, %(1)s", "numeric")
    with pytest.raises(ValueError, match="mixed placeholder styles"):
        translate("SELECT ?, $name")


def test_mask_url_hides_passwords() -> None:
    assert mask_url("postgresql://ecoin:s3cr%40t@db:5432/ecoin?sslmode=require") == (
        "postgresql://ecoin:***@db:5432/ecoin?sslmode=require"
    )
    assert mask_url("postgresql://db/ecoin?user=u&password=s3cret") == (
        "postgresql://db/ecoin?user=u&password=***"
    )
    assert mask_url("postgresql://ecoin@db/ecoin") == "postgresql://ecoin@db/ecoin"


def test_database_url_setting_switches_the_backend(tmp_path: Path) -> None:
    url = "postgresql://ecoin:s3cret@db.example:5432/ecoin"
    settings = load_settings({"ECOIN_HOME": str(tmp_path), "ECOIN_DATABASE_URL": url})
    assert settings.database_url == url
    assert "s3cret" not in repr(settings)
    db = Database.from_settings(settings)
    assert (db.dialect, db.path, db.label) == (
        "postgres",
        None,
        "postgresql://ecoin:***@db.example:5432/ecoin",
    )
    assert "s3cret" not in repr(db)

    duck = Database.from_settings(load_settings({"ECOIN_HOME": str(tmp_path)}))
    assert (duck.dialect, duck.path) == ("duckdb", tmp_path / "ecoin.duckdb")
    with pytest.raises(UserError, match="ECOIN_DATABASE_URL must be a PostgreSQL URL"):
        load_settings({"ECOIN_DATABASE_URL": "mysql://u:p@h/db"})


def test_store_resource_follows_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECOIN_HOME", str(tmp_path))
    monkeypatch.delenv("ECOIN_DATABASE_URL", raising=False)
    assert build_resources()["store"].database().path == tmp_path / "ecoin.duckdb"
    monkeypatch.setenv("ECOIN_DATABASE_URL", "postgres://u:pw@h/db")
    assert build_resources()["store"].database().dialect == "postgres"
    # settings handed in move the database (and the models: same home) with no environment
    other = EcoinSettings(ecoin_home=str(tmp_path / "other"))
    assert EcoinStore(settings=other).database().path == tmp_path / "other" / "ecoin.duckdb"
    assert other.resolve().home == tmp_path / "other"


def test_settings_resource_passes_secrets_as_env_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets reach Dagster as EnvVar references (resolved in the run), never as values."""
    import dagster as dg

    monkeypatch.setenv("X_BEARER_TOKEN", "secret-token")
    monkeypatch.setenv("ECOIN_DATABASE_URL", "postgresql://u:pw@h/db")
    monkeypatch.setenv("ECOIN_COINS", "bitcoin,solana")
    resource = EcoinSettings.from_env()
    assert isinstance(resource.x_bearer_token, dg.EnvVar)
    assert isinstance(resource.ecoin_database_url, dg.EnvVar)
    assert resource.ecoin_coins == "bitcoin,solana"  # plain settings are values
    settings = resource.resolve()
    assert settings.x_bearer_token == "secret-token" and settings.coins == ("bitcoin", "solana")
    assert "secret-token" not in repr(settings) and "pw@" not in repr(settings)
    with pytest.raises(UserError, match="ECOIN_MODE must be"):
        EcoinSettings.from_env({"ECOIN_MODE": "prod"})  # checked when the definitions load


def test_same_store_code_on_postgres_through_the_environment(
    postgres_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECOIN_DATABASE_URL", postgres_database_url)
    db = build_resources()["store"].database()
    upsert(db, BTC_JAN)
    assert db.dialect == "postgres"
    assert [r[:5] for r in prices_of(Database(postgres_database_url))] == BTC_JAN


# --- shared row writes and dialect helpers (storage/rows.py, storage/sql.py) -----------------
def test_frames_with_only_nulls_in_a_column_insert_on_both_backends(db):
    from ecoin_assets.storage.rows import insert_new_rows, replace_rows

    frame = pd.DataFrame(
        {
            "coin_id": ["bitcoin", "bitcoin"],
            "month": [date(2024, 1, 1), date(2024, 2, 1)],
            "avg_price_usd": [1.0, 2.0],
            "days": [31, 29],
        }
    )
    streak = pd.DataFrame({"coin_id": ["bitcoin"], "events": [0], "market_cap_date": [None]})
    with db.write() as con:
        replace_rows(con, "analysis_monthly_avg_price", frame)
        replace_rows(con, "analysis_losing_streak_rebound", streak)
        replace_rows(con, "analysis_monthly_avg_price", frame.iloc[1:], key={"coin_id": "bitcoin"})
        insert_new_rows(con, "post_topics", [(1, "bitcoin"), (1, "bitcoin"), (2, "ethereum")])
    assert db.query("SELECT month, days FROM analysis_monthly_avg_price ORDER BY month") == [
        (date(2024, 2, 1), 29)
    ]
    assert db.query("SELECT coin_id, market_cap_date FROM analysis_losing_streak_rebound") == [
        ("bitcoin", None)
    ]
    assert db.query("SELECT post_id, topic FROM post_topics ORDER BY 1") == [
        (1, "bitcoin"),
        (2, "ethereum"),
    ]


def test_hourly_points_without_market_cap_or_volume_on_both_backends(db):
    from ecoin_assets.prices.hourly import store_hourly
    from ecoin_assets.sources.coingecko import HourlyPoint

    points = [
        HourlyPoint(
            "bitcoin", datetime(2026, 1, 1, h), datetime(2026, 1, 1, h, 0, 37), 1.0 + h, None, None
        )
        for h in range(3)
    ]
    assert store_hourly(db, points, source="test") == 3
    assert db.query(
        "SELECT count(*), count(market_cap_usd), sum(price_usd) FROM prices_hourly"
    ) == [(3, 0, 6.0)]


def test_time_buckets_and_ratios_agree_on_both_backends(db):
    from ecoin_assets.storage.sql import ratio, time_bucket

    with db.read() as con:
        rows = con.execute(
            f"SELECT {time_bucket(con, 'ts')}, {ratio('n', 'd')} "
            "FROM (SELECT CAST(? AS TIMESTAMP) AS ts, 1 AS n, 4 AS d) t",
            [10, datetime(2026, 1, 1, 12, 37, 5)],
        ).fetchall()
    assert rows == [(datetime(2026, 1, 1, 12, 30), 0.25)]


OLD_POSTS = """
    CREATE TABLE posts (
        post_id BIGINT PRIMARY KEY, created_at TIMESTAMP, author_id VARCHAR, lang VARCHAR,
        text_raw VARCHAR NOT NULL, text_clean VARCHAR NOT NULL, tokens VARCHAR[] NOT NULL,
        is_retweet BOOLEAN NOT NULL, keep BOOLEAN NOT NULL, drop_reason VARCHAR,
        source VARCHAR NOT NULL, ingested_at TIMESTAMP NOT NULL
    );
    INSERT INTO posts VALUES (1, '2026-11-01 00:00:00', 'a', 'en', 'gm', 'gm', ARRAY['gm'],
        false, true, NULL, 'x', '2026-11-01 00:00:00')
"""


def test_a_database_of_the_previous_release_gains_the_new_columns(db_target) -> None:
    """posts without X's public_metrics columns (the previous release's): opened, it gets
    them, its rows kept with NULLs, and new rows carry the metrics."""
    if isinstance(db_target, Path):
        con = duckdb.connect(str(db_target))
        con.execute(OLD_POSTS)
        con.close()
    else:
        with psycopg2.connect(db_target) as raw, raw.cursor() as cursor:
            cursor.execute(OLD_POSTS)
    db = Database(db_target, lock_timeout=30, open_timeout=30)
    with db.write() as con:
        con.execute(
            "INSERT INTO posts VALUES (2, NULL, 'b', 'en', 'wagmi', 'wagmi', ARRAY['wagmi'], "
            "false, true, NULL, 'x', '2026-11-02 00:00:00', 5, 1, 0, 0)"
        )
    rows = db.query("SELECT post_id, text_raw, like_count, retweet_count FROM posts ORDER BY 1")
    assert rows == [(1, "gm", None, None), (2, "wagmi", 5, 1)]
    columns = db.query(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'posts' "
        "ORDER BY ordinal_position"
    )
    assert [c for (c,) in columns][-4:] == [
        "like_count",
        "retweet_count",
        "reply_count",
        "quote_count",
    ]


def test_reading_a_database_of_the_previous_release_migrates_it_first(tmp_path) -> None:
    """The dashboard or the data API may be the first to open an old file: a read migrates it."""
    path = tmp_path / "ecoin.duckdb"
    con = duckdb.connect(str(path))
    con.execute(OLD_POSTS)
    con.close()
    db = Database(path, lock_timeout=30, open_timeout=30)
    rows = db.query("SELECT post_id, like_count FROM posts")
    assert rows == [(1, None)]
    assert db.query("SELECT count(*) FROM topics") == [(0,)]  # a table added since


RELEASE_FIXTURE = Path(__file__).parents[1] / "fixtures" / "release_2026_12_02.sql"


def _load_fixture(db_target) -> None:
    """Make the database the previous release made (its schema and a few rows)."""
    statements = [s for s in RELEASE_FIXTURE.read_text().split(";\n") if s.strip(" \n-")]
    if isinstance(db_target, Path):
        con = duckdb.connect(str(db_target))
        for statement in statements:
            con.execute(statement)
        con.close()
    else:
        with psycopg2.connect(db_target) as raw, raw.cursor() as cursor:
            for statement in statements:
                cursor.execute(render(statement, "postgres"))


def test_the_previous_release_database_is_migrated_and_loses_nothing(db_target) -> None:
    _load_fixture(db_target)
    db = Database(db_target, lock_timeout=30, open_timeout=30)
    assert db.query("SELECT version FROM schema_migrations ORDER BY 1") == [
        (m.version,) for m in MIGRATIONS
    ]
    assert db.query("SELECT count(*), sum(price_usd) FROM prices") == [(3, 273600.75)]
    assert db.query("SELECT post_id, like_count FROM posts ORDER BY 1") == [
        (1861000000000000001, 7),
        (1861000000000000002, None),
    ]
    assert db.query("SELECT name, signal FROM alert_rules") == [("btc-spike", "volume_z")]
    assert db.query("SELECT count(*) FROM post_sentiment") == [(2,)]
    # migration 3 fills the per-minute authors and engagement sums from the stored posts
    noon = datetime(2026, 11, 30, 12, 0)
    assert db.query("SELECT topic, minute, author_id FROM topic_minute_authors ORDER BY 2") == [
        ("bitcoin", noon, "42"),
        ("bitcoin", noon + timedelta(minutes=1), "43"),
    ]
    sums = db.query(
        "SELECT engaged_weight, engaged_total FROM topic_minute_sentiment ORDER BY minute"
    )
    liked = 1 + math.log(1 + 7 + 2 * 2 + 1)  # 7 likes, 2 retweets, 1 reply when stored
    assert sums == [pytest.approx((liked, liked * 0.88)), pytest.approx((1.0, -0.8))]
    # the tables this release added exist and work on the old rows
    assert score_new_forecasts(db, "bitcoin") == 2
    assert db.query("SELECT count(*) FROM sentiment_drift") == [(0,)]
    if not isinstance(db_target, Path):  # migration 4 indexes the stored posts on PostgreSQL
        indexes = "SELECT count(*) FROM pg_indexes WHERE indexname = 'posts_ingested_at'"
        assert db.query(indexes) == [(1,)]
    # a second opening (another process) finds it current and changes nothing
    again = Database(db_target, lock_timeout=30, open_timeout=30)
    assert again.query("SELECT count(*) FROM schema_migrations") == [(len(MIGRATIONS),)]
    assert again.query("SELECT count(*) FROM forecast_scores") == [(2,)]


def test_postgres_finds_the_newest_posts_through_an_index(
    duckdb_db: Database, pg_db: Database
) -> None:
    """Migration 4: the dashboard's poll of the posts stored since an instant, newest first,
    can read an index on PostgreSQL instead of scanning `posts`; DuckDB gets no index (its
    row groups' min/max skip the old posts) but records the version all the same."""
    from ecoin_assets.dashboard.snapshot import LATEST_POSTS_SQL, POSTS_SHOWN

    since = datetime(2026, 12, 3, 12, 0)
    with pg_db.read() as con:
        con.execute("SET LOCAL enable_seqscan = off")  # a tiny table: ask whether it can
        explain = con.execute("EXPLAIN " + LATEST_POSTS_SQL, [since, POSTS_SHOWN, "v1"])
        plan = "\n".join(row[0] for row in explain.fetchall())
    assert (
        "Index Scan on posts_ingested_at" in plan
        or "Index Scan Backward using posts_ingested_at" in plan
    ), plan
    assert duckdb_db.query(
        "SELECT count(*) FROM duckdb_indexes() WHERE index_name = 'posts_ingested_at'"
    ) == [(0,)]
    for db in (duckdb_db, pg_db):
        assert db.query("SELECT max(version) FROM schema_migrations") == [(SCHEMA_VERSION,)]


def test_a_database_of_a_newer_release_is_refused_not_damaged(tmp_path) -> None:
    path = tmp_path / "ecoin.duckdb"
    Database(path).query("SELECT 1")  # made at this release's version
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_migrations VALUES (99, 'from the future', now())")
    con.close()
    with pytest.raises(UnavailableError, match="schema version 99, made by a newer ecoin"):
        Database(path).query("SELECT count(*) FROM prices")
    con = duckdb.connect(str(path))
    assert con.execute("SELECT max(version) FROM schema_migrations").fetchone() == (99,)
    con.close()


def test_the_dashboard_reads_a_coin_without_prices_on_both_backends(db: Database) -> None:
    """Posts flow before any price is fetched (the stream alone): the coin's panel shows its
    sentiment without prices instead of failing (PostgreSQL answers an empty price column as
    objects, which numpy's log refused)."""
    from factories import insert_neutral_minute

    from ecoin_assets.dashboard.snapshot import read_snapshot

    now = datetime(2026, 12, 1, 12, 0)
    with db.write() as con:
        for day in range(3):
            minute = now - timedelta(days=day, hours=1)
            insert_neutral_minute(con, "bitcoin", minute, "v1", 10, 0.2, now)
    with db.read() as con:
        snapshot = read_snapshot(con, "v1", "24 hours", "bitcoin", now, ["bitcoin"], ["bitcoin"])
    assert len(snapshot.daily) == 3 and snapshot.daily["price_usd"].isna().all()
    assert snapshot.daily["sentiment"].tolist() == pytest.approx([0.2, 0.2, 0.2])
