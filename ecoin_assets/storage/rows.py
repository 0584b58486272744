"""Row-level writes shared by the domains, in SQL both backends accept.

A DataFrame is registered under a name, used by one statement and unregistered; the
`unregister` is deliberately not in a `finally`: after a failed statement it fails too (the
transaction is aborted) and would hide the real error. The transaction's rollback cleans up.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ecoin_assets.storage.connection import Connection
from ecoin_assets.storage.sql import feed_columns


def insert_new_rows(con: Connection, table: str, rows: Sequence[tuple]) -> None:
    """Insert tuples in `table`'s column order, skipping keys already there, in one statement
    (`executemany` costs a statement per row: seconds for a first ingestion's thousands)."""
    if not rows:
        return
    source = [f"c{i}" for i in range(len(rows[0]))]
    frame = pd.DataFrame(list(rows), columns=source)
    select = feed_columns(con, table, None, source)
    con.register("incoming_rows", frame)
    con.execute(f"INSERT INTO {table} SELECT {select} FROM incoming_rows ON CONFLICT DO NOTHING")
    con.unregister("incoming_rows")


def insert_frame(
    con: Connection, table: str, frame: pd.DataFrame, columns: Sequence[str] | None = None
) -> None:
    """Insert `frame`'s `columns` (default: all) into the same-named columns of `table`."""
    columns = list(frame.columns if columns is None else columns)
    if frame.empty:
        return
    select = feed_columns(con, table, columns)
    con.register("frame_rows", frame[columns])
    con.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {select} FROM frame_rows")
    con.unregister("frame_rows")


def replace_rows(
    con: Connection,
    table: str,
    frame: pd.DataFrame,
    columns: Sequence[str] | None = None,
    key: dict[str, object] | None = None,
) -> None:
    """Delete `table`'s rows matching `key` (all rows when None) and insert `frame`'s."""
    if key:
        where = " AND ".join(f"{column} = ?" for column in key)
        con.execute(f"DELETE FROM {table} WHERE {where}", list(key.values()))
    else:
        con.execute(f"DELETE FROM {table}")
    insert_frame(con, table, frame, columns)
