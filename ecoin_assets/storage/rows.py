"""Row-level writes shared by the domains."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ecoin_assets.storage.connection import Connection


def insert_new_rows(con: Connection, table: str, rows: Sequence[tuple]) -> None:
    """Insert tuples in `table`'s column order, skipping keys already there, in one statement
    (`executemany` costs a statement per row: seconds for a first ingestion's thousands)."""
    if not rows:
        return
    frame = pd.DataFrame(list(rows), columns=[f"c{i}" for i in range(len(rows[0]))])
    con.register("incoming_rows", frame)
    con.execute(f"INSERT INTO {table} SELECT * FROM incoming_rows ON CONFLICT DO NOTHING")
    # not in a `finally`: after a failed statement it fails too and hides the real error
    con.unregister("incoming_rows")
