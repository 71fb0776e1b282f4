"""The watchlist's changes, numbered (SQLite): how a running monitor hears what another process
did to the watchlist (`d7tui add` relabelled an id or gave it a note, another monitor removed,
archived or brought one back) without rereading every row: a monitor of 100,000 ids looks every
few seconds.

Triggers on `watch` append the id of every row added, or whose label, note, removal or archiving
changed, to `watch_change`, numbered in the order of commits (the write lock is held while the
number is taken). Whoever writes (a monitor, `d7tui add`, an older d7tui of the same schema), nobody
has to remember to say so. A reader keeps the newest number it has seen and asks for the rows
changed after it. Only the newest `KEPT` changes are kept: a reader further behind reads the whole
list once.

Not part of the schema's versions (PostgreSQL says the same with LISTEN/NOTIFY, see pg.py): made
when a file without it is opened for writing, and a file that has it still opens in a d7tui that
does not know it.
"""

from __future__ import annotations

import sqlite3

TABLE = "watch_change"
KEPT = 100_000  # changes kept: a reader further behind than that reads the whole list
_TRACKED = ("label", "note", "removed_at", "archived_at")
_CHANGED = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _TRACKED)
_NOTE = f"INSERT INTO {TABLE} (request_id) VALUES (NEW.request_id)"
# The names carry a version, so that a file made by a d7tui with other triggers gets these.
TRIGGERS: dict[str, str] = {
    "d7tui_watch_added_1": f"AFTER INSERT ON watch BEGIN {_NOTE}; END",
    "d7tui_watch_changed_1": (
        f"AFTER UPDATE OF {', '.join(_TRACKED)} ON watch WHEN {_CHANGED} BEGIN {_NOTE}; END"
    ),
    "d7tui_watch_change_kept_1": (
        f"AFTER INSERT ON {TABLE} BEGIN DELETE FROM {TABLE} WHERE seq <= NEW.seq - {KEPT}; END"
    ),
}


def missing(conn: sqlite3.Connection) -> bool:
    """Whether the file lacks the table or a trigger (one read of the schema)."""
    names = (TABLE, *TRIGGERS)
    found = conn.execute(
        f"SELECT count(*) FROM sqlite_master WHERE name IN ({', '.join('?' * len(names))})",
        names,
    ).fetchone()[0]
    return int(found) < len(names)


def create(conn: sqlite3.Connection) -> None:
    """Make the table and the triggers (inside the caller's write transaction)."""
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} "
        "(seq INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT NOT NULL)"
    )
    for name, body in TRIGGERS.items():
        conn.execute(f"CREATE TRIGGER IF NOT EXISTS {name} {body}")


def newest(conn: sqlite3.Connection) -> int:
    """The number of the newest change (0: none yet)."""
    row = conn.execute(f"SELECT max(seq) FROM {TABLE}").fetchone()
    return int(row[0] or 0)


def changed_after(conn: sqlite3.Connection, mark: int | None) -> tuple[int, str | None]:
    """(the newest number, a subquery of the ids changed after `mark`); None instead of the
    subquery when not every change since `mark` is kept here (pruned, another file, `mark`
    None): the whole list is to be read then."""
    first, last = conn.execute(f"SELECT min(seq), max(seq) FROM {TABLE}").fetchone()
    last = int(last or 0)
    if mark is None or mark > last or (first is not None and int(first) > mark + 1):
        return last, None
    return last, f"SELECT request_id FROM {TABLE} WHERE seq > {int(mark)}"
