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

The same numbering tells a following monitor which requests' states the leader wrote
(`STATES`: whatever a screen shows changed, as PostgreSQL's triggers tell it, see pg.py), and tells
the leader what a follower's `r` / `R` asks it to poll now (`ASKS`: a request id; `ASK_ALL`: every
one).

Not part of the schema's versions (PostgreSQL says the same with LISTEN/NOTIFY, see pg.py): made
when a file without it is opened for writing, and a file that has it still opens in a d7tui that
does not know it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

TABLE = "watch_change"
STATES = "state_change"
ASKS = "poll_ask"
ASK_ALL = ""
TABLES = (TABLE, STATES, ASKS)
KEPT = 100_000  # changes kept: a reader further behind than that reads the whole list
_TRACKED = ("label", "note", "removed_at", "archived_at")
_CHANGED = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _TRACKED)
_NOTE = f"INSERT INTO {TABLE} (request_id) VALUES (NEW.request_id)"
# What a screen shows of a request's own row (pg.py's _STATE_NEWS): a poll that changed nothing
# still rewrites when it was polled, and that is no news.
_STATE_NEWS = " OR ".join(
    f"NEW.{c} IS NOT OLD.{c}" for c in ("changed_at", "channel", "final_since", "fields")
)


def _state_note(row: str) -> str:
    # One row per row written, even many of one request in one commit: a trigger cannot tell
    # one commit from the next, and a change folded into an earlier one already read is lost.
    return f"INSERT INTO {STATES} (request_id) VALUES ({row}.request_id)"


def _kept(table: str, every: int = 1) -> str:
    when = f"WHEN NEW.seq % {every} = 0 " if every > 1 else ""
    return (
        f"AFTER INSERT ON {table} {when}BEGIN "
        f"DELETE FROM {table} WHERE seq <= NEW.seq - {KEPT}; END"
    )


# The names carry a version, so that a file made by a d7tui with other triggers gets these.
TRIGGERS: dict[str, str] = {
    "d7tui_watch_added_1": f"AFTER INSERT ON watch BEGIN {_NOTE}; END",
    "d7tui_watch_changed_1": (
        f"AFTER UPDATE OF {', '.join(_TRACKED)} ON watch WHEN {_CHANGED} BEGIN {_NOTE}; END"
    ),
    "d7tui_watch_change_kept_1": _kept(TABLE),
    "d7tui_state_new_1": f"AFTER INSERT ON request_state BEGIN {_state_note('NEW')}; END",
    "d7tui_state_news_1": (
        f"AFTER UPDATE ON request_state WHEN {_STATE_NEWS} BEGIN {_state_note('NEW')}; END"
    ),
    "d7tui_state_gone_1": f"AFTER DELETE ON request_state BEGIN {_state_note('OLD')}; END",
    # The store rewrites a recipient only when it differs: any write of one is news.
    "d7tui_recipient_new_1": f"AFTER INSERT ON recipient BEGIN {_state_note('NEW')}; END",
    "d7tui_recipient_news_1": f"AFTER UPDATE ON recipient BEGIN {_state_note('NEW')}; END",
    "d7tui_recipient_gone_1": f"AFTER DELETE ON recipient BEGIN {_state_note('OLD')}; END",
    # A request of 20,000 recipients writes as many rows: the oldest go a thousand at a time.
    "d7tui_state_change_kept_1": _kept(STATES, every=1000),
    "d7tui_poll_ask_kept_1": _kept(ASKS),
}


@dataclass
class Changes:
    """What other processes committed, as a following or leading monitor hears it (from
    these numbers on a file, from LISTEN/NOTIFY on PostgreSQL: see pglisten.py)."""

    states: set[str] = field(default_factory=set)  # request ids whose state was written
    watches: set[str] = field(default_factory=set)  # request ids added, relabelled, removed ...
    everything: bool = False  # not every change was told (the connection lost ...): read all
    asked: set[str] = field(default_factory=set)  # request ids a follower asks to poll now
    asked_all: bool = False  # a follower asks to poll every id now

    def __bool__(self) -> bool:
        return bool(self.states or self.watches or self.everything or self.asked or self.asked_all)


def news_after(
    conn: sqlite3.Connection, marks: tuple[int, int] | None, *, states: bool = True
) -> tuple[tuple[int, int], Changes]:
    """The states written (not read unless `states`: the leader wrote them itself) and the
    polls asked for after `marks` (the newest numbers seen of each; None: the first look, which
    only takes them), with the newest numbers now."""
    news = Changes()
    if marks is None:
        return (newest(conn, STATES), newest(conn, ASKS)), news
    if states:
        last_state, after = changed_after(conn, marks[0], STATES)
        if after is None:
            news.everything = last_state != marks[0]
        else:
            news.states = {row[0] for row in conn.execute(f"SELECT DISTINCT * FROM ({after})")}
    else:
        last_state = newest(conn, STATES)
    last_ask, asks = changed_after(conn, marks[1], ASKS)
    for (request_id,) in conn.execute(asks) if asks is not None else ():
        if request_id == ASK_ALL:
            news.asked_all = True
        else:
            news.asked.add(request_id)
    return (last_state, last_ask), news


def missing(conn: sqlite3.Connection) -> bool:
    """Whether the file lacks a table or a trigger (one read of the schema)."""
    names = (*TABLES, *TRIGGERS)
    found = conn.execute(
        f"SELECT count(*) FROM sqlite_master WHERE name IN ({', '.join('?' * len(names))})",
        names,
    ).fetchone()[0]
    return int(found) < len(names)


def create(conn: sqlite3.Connection) -> None:
    """Make the table and the triggers (inside the caller's write transaction)."""
    for table in TABLES:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {table} "
            "(seq INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT NOT NULL)"
        )
    for name, body in TRIGGERS.items():
        conn.execute(f"CREATE TRIGGER IF NOT EXISTS {name} {body}")


def newest(conn: sqlite3.Connection, table: str = TABLE) -> int:
    """The number of the newest change (0: none yet)."""
    row = conn.execute(f"SELECT max(seq) FROM {table}").fetchone()
    return int(row[0] or 0)


def changed_after(
    conn: sqlite3.Connection, mark: int | None, table: str = TABLE
) -> tuple[int, str | None]:
    """(the newest number, a subquery of the ids changed after `mark`); None instead of the
    subquery when not every change since `mark` is kept here (pruned, another file, `mark`
    None): the whole list is to be read then."""
    first, last = conn.execute(f"SELECT min(seq), max(seq) FROM {table}").fetchone()
    last = int(last or 0)
    if mark is None or mark > last or (first is not None and int(first) > mark + 1):
        return last, None
    return last, f"SELECT request_id FROM {table} WHERE seq > {int(mark)}"
