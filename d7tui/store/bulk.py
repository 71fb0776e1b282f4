"""Many rows in one statement: `VALUES (?, ?), (?, ?), ...`.

Why not `executemany`: it steps SQLite once per row, and every step lets go of Python's GIL and
takes it back. While the UI thread is busy, taking it back waits for the UI to yield (up to the
5 ms switch interval), so a writer thread saving 500 polls row by row measured 50 saves a
second instead of 6,000. One statement per table per batch takes the GIL back a handful of
times per batch, however large (bench/store_pace.py measures it).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

MAX_ROWS = 2000  # rows per statement: bounds the SQL text SQLite parses at once


def execute_rows(conn: sqlite3.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> int:
    """Run `sql`, whose `{rows}` stands for a VALUES list, over `rows` (all of one width) in as
    few statements as SQLite's limits allow; the rows changed, as SQLite counts them."""
    if not rows:
        return 0
    width = len(rows[0])
    per_statement = max(
        1, min(MAX_ROWS, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width)
    )
    one = "(" + ", ".join("?" * width) + ")"
    changed = 0
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        values = ", ".join([one] * len(chunk))
        params = [value for row in chunk for value in row]
        changed += max(conn.execute(sql.format(rows=values), params).rowcount, 0)
    return changed
