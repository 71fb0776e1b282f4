"""`Store`: the d7tui database. This module holds opening it and the watchlist; the states and
transitions live in `states.py`, the Infobip reports in `reports.py`.

Synchronous and thread-safe (one connection per thread); the UI uses it through `AsyncStore`,
which keeps every write off the event loop.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

from d7tui.models import Channel, IdKind, clean_label, clean_note
from d7tui.store import changes, sides
from d7tui.store.bulk import execute_rows
from d7tui.store.db import default_path
from d7tui.store.errors import StoreCorruptError, StoreUnavailable
from d7tui.store.files import (
    create_whole,
    is_empty,
    mode_warning,
    prepare_dir,
    restoring,
    set_aside,
)
from d7tui.store.lock import ReportLock
from d7tui.store.moved import Held, MovedMixin
from d7tui.store.records import Absorbed, Snapshot, WatchRecord, Which
from d7tui.store.reports import ReportsMixin
from d7tui.store.sides import wait_for_one_index
from d7tui.store.states import DEFAULT_TIMELINE, WHICH_WHERE, StatesMixin, ids_of, without_gc
from d7tui.store.walread import watched_in_wal

_WATCH_COLUMNS = (
    "w.request_id, w.channel, w.id_kind, w.label, w.note, w.added_at, w.resolved_channel, "
    "w.archived_at, w.removed_at, w.rowid, w.added_by, w.noted_by, w.noted_at, w.archived_by"
)


class WatchSummary(NamedTuple):
    """A watched id and the little the list needs of its state (Store.watch_summaries): the
    row as read, no frozen objects built (100,000 of those took most of a second)."""

    request_id: str
    channel: str  # what the user asked: "auto" or a Channel value
    id_kind: str  # an IdKind value
    label: str
    note: str
    added_at: float
    resolved_channel: str | None
    archived_at: float | None
    removed_at: float | None
    seq: int
    added_by: str | None
    noted_by: str | None
    noted_at: float | None
    archived_by: str | None
    answered: str | None  # the channel that answered, if any did
    observed_at: float | None
    changed_at: float | None

    @property
    def poll_channel(self) -> str:
        """The channel to ask: the one that answered before, else the one asked for."""
        return self.resolved_channel or self.channel


class FirstRows(NamedTuple):
    """The list's first screenful, read before the rest (Store.first_summaries)."""

    rows: list[WatchSummary]  # the live ids changed last, the last first
    kept: int  # how many ids the list has (live and archived)
    live: int  # how many of them are live
    last_seq: int  # the newest row's seq then: rows after it are picked up as added
    mark: int  # the newest watchlist change's number then (changes.py)


def _watch(row: sqlite3.Row | tuple[Any, ...]) -> WatchRecord:
    return WatchRecord(
        request_id=row[0],
        channel=row[1],
        id_kind=IdKind(row[2]),
        label=row[3],
        note=row[4],
        added_at=row[5],
        resolved_channel=row[6],
        archived_at=row[7],
        removed_at=row[8],
        seq=row[9],
        added_by=row[10],
        noted_by=row[11],
        noted_at=row[12],
        archived_by=row[13],
    )


def _salvage(path: Path) -> list[WatchRecord]:
    """The watchlist rows of a damaged file that can still be read, in order, up to the first
    damaged page (nothing if it cannot be read at all); then those its WAL still holds (an
    emptied file's last commits: walread.py), newer than the file's."""
    # The WAL first: SQLite deletes the WAL of a 0-byte database as it opens it, even to read.
    from_wal, _ = watched_in_wal(path)
    rows: list[WatchRecord] = []
    try:
        conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
    except sqlite3.Error:
        conn = None
    if conn is not None:
        try:
            for row in conn.execute(f"SELECT {_WATCH_COLUMNS} FROM watch w ORDER BY w.rowid"):
                rows.append(_watch(row))
        except (sqlite3.Error, ValueError, TypeError):
            pass  # the first damaged page: what was read before it is kept
        finally:
            conn.close()
    newer = {r.request_id: r for r in from_wal}
    kept = [newer.pop(r.request_id, r) for r in rows if r.removed_at is None]
    return kept + list(newer.values())


class _Unsettled(Exception):
    """The store's files were being changed by another d7tui as they were opened (a file set
    aside, a -wal being written back): looked at again, never taken for damage."""


class Store(StatesMixin, ReportsMixin, MovedMixin):
    """The d7tui database. Open it with `Store.open()`; every method may raise StoreError."""

    shared = False  # one desk's database, with a leader and followers (PgStore)
    actor: str | None = None  # who this is, kept with what they do (open_store sets it)

    def __init__(
        self, path: Path, *, busy_timeout: float | None = None, readonly: bool = False
    ) -> None:
        super().__init__(path, busy_timeout=busy_timeout, readonly=readonly)
        self.report_lock = ReportLock(path.with_name(path.name + ".lock"))

    @classmethod
    def open(
        cls,
        path: Path | str | None = None,
        *,
        busy_timeout: float | None = None,
        readonly: bool = False,
    ) -> Store:
        """Open (creating, migrating) the database; `None` is `default_path()`.

        A file there that is damaged (empty, not SQLite, or SQLite says damaged) is set aside
        with a timestamp and a new, empty store is made; `notices` says so in one line. Raises
        StoreVersionError for a database from a newer d7tui, StoreCorruptError for somebody
        else's SQLite database (both left untouched), StoreError otherwise; each one line.

        `readonly`: only read (an export); nothing is created, set aside, migrated or written.
        """
        target = Path(path) if path is not None else default_path()
        if readonly:
            store = cls(target, busy_timeout=busy_timeout, readonly=True)
            store._open_or_close()
            return store
        prepare_dir(target)
        deadline = time.monotonic() + sides.OPEN_WAIT
        while True:
            try:
                return cls._open_writing(target, busy_timeout, deadline)
            except _Unsettled as exc:
                if time.monotonic() >= deadline:
                    raise StoreUnavailable(
                        f"{target}: {exc}; nothing was changed: try again shortly"
                    ) from None
                # Another d7tui puts its files right at its next look (a second or so); there
                # is no event to wait for across processes.
                time.sleep(0.1)

    @classmethod
    def _open_writing(cls, target: Path, busy_timeout: float | None, deadline: float) -> Store:
        """`open` for writing, once. Raises `_Unsettled` when the files were being changed by
        another d7tui as they were opened: never taken for a damaged file, looked at again."""
        warnings: list[str] = []
        notices: list[str] = []
        if not target.exists():
            if restoring(target):
                raise _Unsettled("another d7tui is writing the store back")
            create_whole(target)
        elif (split := wait_for_one_index(target, deadline - time.monotonic())) is not None:
            raise StoreUnavailable(f"{target}: {split}; nothing was changed: try again shortly")
        elif (warning := mode_warning(target)) is not None:
            warnings.append(warning)
        damage = f"{target} was empty (0 bytes)" if is_empty(target) else None
        store = cls(target, busy_timeout=busy_timeout)
        if damage is None:
            damage = store._damage_found()
            # Looked at again once its connections have the -wal open (SQLite opens it by its
            # name at the first read): deleted meanwhile under another d7tui, this one would
            # write another -wal than that one's, through one index.
            if damage is None and (moved := store.moved() or sides.problem_at_open(target)):
                store.close()
                raise _Unsettled(moved)
        if damage is not None and not is_empty(target):
            # Found once, it may be a read through a -wal deleted a moment ago under another
            # d7tui (SQLite reads pages past its end): damage is what is found again, the same,
            # once every other d7tui uses the files at the path (a damaged file fails alike).
            first = damage
            if wait_for_one_index(target, deadline - time.monotonic()) is not None:
                raise _Unsettled("its files were being changed by another d7tui")
            store = cls(target, busy_timeout=busy_timeout)
            damage = store._damage_found()
            if damage is not None and (damage != first or sides.problem_at_open(target)):
                raise _Unsettled("its files were being changed by another d7tui")
        if damage is not None:
            readable = _salvage(target)
            aside = set_aside(target, "damaged")
            create_whole(target)
            store = cls(target, busy_timeout=busy_timeout)
            store._open_or_close()
            if readable and store.absorb(Snapshot(watches=readable)).requests:
                started = (
                    f"a new store was started with the {len(readable):,} requests still "
                    "readable in it (ids, labels, notes; their history stays in the kept file)"
                )
            else:
                started = "a new, empty store was started"
            notices.append(f"{damage}: it is kept as {aside}, and {started}")
        store.warnings[:0] = warnings
        store.notices[:0] = notices
        return store

    def _damage_found(self) -> str | None:
        """Open (see `_open_or_close`); what is damaged, or None once open. Raises `_Unsettled`
        if the file went from its path meanwhile (another d7tui set it aside)."""
        try:
            self._open_or_close()
        except StoreCorruptError as exc:
            if not exc.damaged:
                raise
            return str(exc)
        except StoreUnavailable:
            if not self.path.exists():
                raise _Unsettled(f"{self.path} went from its path as it was opened") from None
            if sides.problem_at_open(self.path) is not None:  # a read past a -wal's end
                raise _Unsettled("its files were being changed by another d7tui") from None
            raise
        return None

    def _open_or_close(self) -> None:
        try:
            self._init_schema()
            self.remember_file()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self.report_lock.release()
        super().close()

    def check_file(self, *, lock: bool = True, held: Held | None = None) -> str | None:
        """At a cheap moment: put right a file deleted, replaced or emptied under this store
        (see `moved.py`; `held`: what this process holds, should its own copy be unreadable),
        and (`lock`) take the report lock again if its file went. A line saying what
        happened, or None."""
        said = self.put_back(held)
        lost = (said is not None or lock) and self.report_lock.held and not self.report_lock.renew()
        # The lead gone with the file put right is said with it; gone alone (another monitor
        # found this one silent: stopped), the monitor's own look at its lead says it.
        if lost and said is not None:
            said = f"{said}; the report lock file was deleted and another d7tui took the lock"
        return said

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the watchlist -------------------------------------------------------------------------

    def add_watch(
        self,
        request_id: str,
        channel: str = "auto",
        id_kind: IdKind = IdKind.REQUEST,
        *,
        label: str | None = None,
        note: str | None = None,
        added_at: float | None = None,
    ) -> bool:
        """Watch an id (already validated); True if it is new to the watchlist.

        Adding an id already there merges: a label or note given replaces the old one, a
        concrete channel replaces the old choice ("auto" never overrides one), a removed id is
        restored (and counts as new), an archived one comes back to the live list.
        """
        label = None if label is None else clean_label(label)
        note = None if note is None else clean_note(note)
        now = time.time() if added_at is None else added_at
        with self.batch() as conn:
            row = conn.execute(
                "SELECT channel, id_kind, removed_at, archived_at FROM watch WHERE request_id = ?",
                (request_id,),
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO watch (request_id, channel, id_kind, label, note, added_at, "
                    "added_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        request_id,
                        channel,
                        IdKind(id_kind).value,
                        label or "",
                        note or "",
                        now,
                        self.actor,
                    ),
                )
                return True
            changes: dict[str, object] = {}
            if channel != "auto" and (channel, IdKind(id_kind).value) != (row[0], row[1]):
                changes.update(channel=channel, id_kind=IdKind(id_kind).value)
                changes["resolved_channel"] = None
            if label is not None:
                changes["label"] = label
            if note is not None:
                changes["note"] = note
            if label is not None or note is not None:
                changes.update(noted_by=self.actor, noted_at=now)
            if row[2] is not None:
                changes["removed_at"] = None
            if changes:
                sets = ", ".join(f"{column} = ?" for column in changes)
                conn.execute(
                    f"UPDATE watch SET {sets} WHERE request_id = ?",
                    (*changes.values(), request_id),
                )
            if row[3] is not None:
                self.unarchive(request_id, at=now)
            return row[2] is not None

    def absorb(self, snapshot: Snapshot) -> Absorbed:
        """Write what a process held in memory (its own file was lost) into this store: every
        id it does not watch yet, with label, note, last state and timeline, the label or note
        an id here has not got (empty), and the last state and timeline of every id that has
        none here. What it has already (another d7tui wrote it meanwhile) is left as it is."""
        with self.batch() as conn:
            blank = {
                row[0]: (row[1], row[2])
                for row in conn.execute(
                    "SELECT request_id, label = '', note = '' FROM watch "
                    "WHERE label = '' OR note = ''"
                )
            }
            filled = 0
            for w in snapshot.watches:
                empty = blank.get(w.request_id)
                if empty is None:
                    continue
                for column, mine, lacks in (
                    ("label", w.label, empty[0]),
                    ("note", w.note, empty[1]),
                ):
                    if lacks and mine:
                        conn.execute(
                            f"UPDATE watch SET {column} = ? WHERE request_id = ?",
                            (
                                clean_note(mine) if column == "note" else clean_label(mine),
                                w.request_id,
                            ),
                        )
                        filled += 1
            known = {row[0] for row in conn.execute("SELECT request_id FROM watch")}
            stated = {row[0] for row in conn.execute("SELECT request_id FROM request_state")}
            new = [w for w in snapshot.watches if w.request_id not in known]
            execute_rows(
                conn,
                "INSERT INTO watch (request_id, channel, id_kind, label, note, added_at, "
                "resolved_channel, archived_at) VALUES {rows}",
                [
                    (
                        w.request_id,
                        w.channel,
                        IdKind(w.id_kind).value,
                        clean_label(w.label or ""),
                        clean_note(w.note or ""),
                        w.added_at,
                        w.resolved_channel,
                        w.archived_at,
                    )
                    for w in new
                ],
            )
            # A state for every id that has none here, new or not (a row salvaged from a
            # damaged file has its id and label, and no history).
            observations = [
                (stored.state, snapshot.timelines.get(w.request_id, ()), stored.observed_at)
                for w in snapshot.watches
                if w.request_id not in stated
                and (stored := snapshot.states.get(w.request_id)) is not None
            ]
            self.save_observations(observations)
        return Absorbed(
            requests=len(new),
            states=len(observations),
            transitions=sum(len(items) for _, items, _ in observations),
            filled=filled,
        )

    def absorb_file(self, path: Path) -> Absorbed:
        """`absorb` what the d7tui database at `path` keeps: every request on its lists (live
        and archived, not removed) with label, note, last state and every transition."""
        other = type(self)(path, busy_timeout=self.busy_timeout)
        try:
            other._init_schema()
            snapshot = other.load(Which.KEPT, timeline_limit=None)
        finally:
            other.close()
        return self.absorb(snapshot)

    def remove_watch(self, request_id: str, *, at: float | None = None) -> bool:
        """Take an id off the watchlist, keeping its history (`restore_watch` undoes it)."""
        return self._update(
            "UPDATE watch SET removed_at = ? WHERE request_id = ? AND removed_at IS NULL",
            (time.time() if at is None else at, request_id),
        )

    def restore_watch(self, request_id: str) -> bool:
        return self._update(
            "UPDATE watch SET removed_at = NULL WHERE request_id = ? AND removed_at IS NOT NULL",
            (request_id,),
        )

    def set_label(self, request_id: str, label: str) -> bool:
        return self._update(
            "UPDATE watch SET label = ?, noted_by = ?, noted_at = ? WHERE request_id = ?",
            (None if label is None else clean_label(label), self.actor, time.time(), request_id),
        )

    def set_note(self, request_id: str, note: str) -> bool:
        return self._update(
            "UPDATE watch SET note = ?, noted_by = ?, noted_at = ? WHERE request_id = ?",
            (None if note is None else clean_note(note), self.actor, time.time(), request_id),
        )

    def set_channel(self, request_id: str, channel: Channel | str | None) -> bool:
        """Remember which channel answered an `auto` id (None forgets it)."""
        value = Channel(channel).value if channel is not None else None
        return self._update(
            "UPDATE watch SET resolved_channel = ? WHERE request_id = ?", (value, request_id)
        )

    def archive(self, request_id: str, *, at: float | None = None) -> bool:
        return self._update(
            "UPDATE watch SET archived_at = ?, archived_by = ? "
            "WHERE request_id = ? AND archived_at IS NULL AND removed_at IS NULL",
            (time.time() if at is None else at, self.actor, request_id),
        )

    def unarchive(self, request_id: str, *, at: float | None = None) -> bool:
        """Back to the live list. Its "final since" restarts, so it is not archived at once."""
        now = time.time() if at is None else at
        with self.batch() as conn:
            cur = conn.execute(
                "UPDATE watch SET archived_at = NULL "
                "WHERE request_id = ? AND archived_at IS NOT NULL",
                (request_id,),
            )
            conn.execute(
                "UPDATE request_state SET final_since = ? "
                "WHERE request_id = ? AND final_since IS NOT NULL",
                (now, request_id),
            )
            return cur.rowcount > 0

    def archive_finished(self, final_for: float, *, now: float | None = None) -> list[str]:
        """Archive every live id whose recipients have all been final for `final_for` seconds;
        the ids archived, in added order."""
        now = time.time() if now is None else now
        with self.batch() as conn:
            ids = [
                row[0]
                for row in conn.execute(
                    "SELECT w.request_id FROM watch w JOIN request_state s USING (request_id) "
                    f"WHERE {WHICH_WHERE[Which.LIVE]} AND s.final_since <= ? ORDER BY w.rowid",
                    (now - final_for,),
                )
            ]
            conn.executemany(
                "UPDATE watch SET archived_at = ?, archived_by = ? WHERE request_id = ?",
                [(now, self.actor, i) for i in ids],
            )
        return ids

    def data_version(self) -> int:
        """A number that changes whenever another connection (another process, or this
        store's writer thread) has committed to the database since this thread last asked."""
        return int(self._all("PRAGMA data_version")[0][0])

    def change_mark(self) -> int:
        """The number of the newest change to the watchlist (see changes.py); 0 if none."""
        with self.reading() as conn:
            return changes.newest(conn) if self.keeps_changes else 0

    def news_after(
        self, marks: tuple[int, int] | None, *, states: bool = True
    ) -> tuple[tuple[int, int], changes.Changes]:
        """What was written since `marks` for a monitor sharing this file (see changes.py):
        the states the leader wrote (if `states`), the polls a follower asked for; with the
        newest marks."""
        if not self.keeps_changes:
            return (0, 0), changes.Changes()
        with self.reading() as conn:
            return changes.news_after(conn, marks, states=states)

    def ask_to_poll(self, request_ids: Sequence[str]) -> None:
        """Ask the monitor that leads on this file to poll these ids now (none: every id); it
        reads them within a second. Raises StoreError."""
        with self.batch() as conn:
            conn.executemany(
                f"INSERT INTO {changes.ASKS} (request_id) VALUES (?)",
                [(request_id,) for request_id in request_ids or [changes.ASK_ALL]],
            )

    def changes_after(self, mark: int | None) -> tuple[int, list[WatchRecord] | None]:
        """The rows of the watchlist added or changed (label, note, removed, restored, archived,
        brought back) after `mark`, by anyone, in the order they were added; with the newest
        mark. None instead of rows when the changes since `mark` are not all kept: read the
        whole list then. Cheap: one range of the change numbers, then those rows."""
        if not self.keeps_changes:
            return 0, None
        with self.reading() as conn:
            last, ids = changes.changed_after(conn, mark)
            if ids is None:
                return last, None
            rows = conn.execute(
                f"SELECT {_WATCH_COLUMNS} FROM watch w WHERE w.request_id IN ({ids}) "
                "ORDER BY w.rowid"
            )
            return last, [_watch(row) for row in rows]

    def watches(self, which: Which = Which.LIVE) -> list[WatchRecord]:
        """The watchlist (live ids by default), in the order they were added."""
        return self._watches(self._conn(), which)

    def watch_summaries(self, which: Which = Which.KEPT) -> list[WatchSummary]:
        """Every watched id with when it was last polled and last changed: what a list needs to
        be drawn, in one quick read (a monitor of 100,000 ids paints from this, then reads the
        states and timelines while the list is already on screen)."""
        sql = (
            f"SELECT {_WATCH_COLUMNS}, s.channel, s.observed_at, s.changed_at FROM watch w "
            f"LEFT JOIN request_state s ON s.request_id = w.request_id "
            f"WHERE {WHICH_WHERE[Which(which)]} ORDER BY w.rowid"
        )
        with without_gc(), self.reading() as conn:
            try:
                return list(map(WatchSummary._make, conn.execute(sql)))
            except sqlite3.Error as exc:
                raise self._error(exc) from None

    def first_summaries(self, count: int) -> FirstRows:
        """The `count` live ids changed last (the list's first screenful, as it is sorted at
        start), with the newest change's mark and row: read and sorted by SQLite, only those
        rows made into objects. A monitor of 100,000 ids paints from this, then reads the rest
        (`watch_summaries`) while its first rows are on screen."""
        live = WHICH_WHERE[Which.LIVE]
        sql = (
            f"SELECT {_WATCH_COLUMNS}, s.channel, s.observed_at, s.changed_at FROM watch w "
            f"LEFT JOIN request_state s ON s.request_id = w.request_id WHERE {live} "
            "ORDER BY coalesce(s.changed_at, w.added_at) DESC, w.rowid LIMIT ?"
        )
        with self.reading() as conn:
            try:
                # The mark first: a change committed after it is read again, never missed.
                mark = changes.newest(conn) if self.keeps_changes else 0
                total, live_count, last = conn.execute(
                    "SELECT count(*), count(*) FILTER (WHERE w.archived_at IS NULL), "
                    f"coalesce(max(w.rowid), 0) FROM watch w WHERE {WHICH_WHERE[Which.KEPT]}"
                ).fetchone()
                rows = list(map(WatchSummary._make, conn.execute(sql, (count,))))
            except sqlite3.Error as exc:
                raise self._error(exc) from None
        return FirstRows(rows, int(total), int(live_count), int(last), mark)

    def live_summary(self) -> tuple[int, int]:
        """(how many ids are live, the newest row's seq): enough for a running monitor to tell
        whether `d7tui add` wrote anything since it last looked, without reading every row."""
        live = WHICH_WHERE[Which.LIVE]
        rows = self._all(f"SELECT count(*), coalesce(max(w.rowid), 0) FROM watch w WHERE {live}")
        return int(rows[0][0]), int(rows[0][1])

    def watches_after(self, seq: int) -> list[WatchRecord]:
        """The live ids added after `seq` (a WatchRecord's), in the order they were added."""
        live = WHICH_WHERE[Which.LIVE]
        return [
            _watch(row)
            for row in self._all(
                f"SELECT {_WATCH_COLUMNS} FROM watch w WHERE {live} AND w.rowid > ? "
                "ORDER BY w.rowid",
                (seq,),
            )
        ]

    def watch(self, request_id: str) -> WatchRecord | None:
        rows = self._all(
            f"SELECT {_WATCH_COLUMNS} FROM watch w WHERE request_id = ?", (request_id,)
        )
        return _watch(rows[0]) if rows else None

    def _watches(self, conn: sqlite3.Connection, which: Which) -> list[WatchRecord]:
        sql = f"SELECT {_WATCH_COLUMNS} FROM watch w WHERE {WHICH_WHERE[Which(which)]} ORDER BY w.rowid"
        try:
            return [_watch(row) for row in conn.execute(sql)]
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def _update(self, sql: str, params: tuple[Any, ...]) -> bool:
        with self.batch() as conn:
            return conn.execute(sql, params).rowcount > 0

    def load(
        self,
        which: Which = Which.KEPT,
        *,
        with_raw: bool = False,
        timeline_limit: int | None = DEFAULT_TIMELINE,
    ) -> Snapshot:
        """What the monitor shows at start, in one read: watches, states and timelines.

        `with_raw` is off by default: raw bodies are only needed for an export, and the one-time
        Infobip bodies are kept apart anyway (`report_bodies`).
        """
        with without_gc(), self.reading() as conn:
            return Snapshot(
                watches=self._watches(conn, which),
                states=self._states(conn, ids_of(which), (), with_raw),
                timelines=self._timelines(conn, ids_of(which), (), timeline_limit),
            )

    def load_part(
        self,
        after: int,
        count: int,
        which: Which = Which.KEPT,
        *,
        timeline_limit: int | None = DEFAULT_TIMELINE,
        states: bool = True,
        recipients: bool = True,
    ) -> tuple[Snapshot, int]:
        """`load`, a part at a time: the next `count` watched ids in the added order after the
        row `after` (a WatchRecord's seq; 0 for the first part), with their states and
        timelines, in one read; and the seq of the last one (0 when none was left). A monitor
        of 100,000 ids reads what it remembers this way, a part between two turns of its loop,
        and never holds all of it twice. What is not needed is not read: no states (`states`),
        states without their recipients (`recipients`: what a watchlist's line says), no
        timelines (`timeline_limit=0`)."""
        live = WHICH_WHERE[Which(which)]
        with without_gc(), self.reading() as conn:
            try:
                rows = conn.execute(
                    f"SELECT {_WATCH_COLUMNS} FROM watch w WHERE {live} AND w.rowid > ? "
                    "ORDER BY w.rowid LIMIT ?",
                    (after, count),
                ).fetchall()
            except sqlite3.Error as exc:
                raise self._error(exc) from None
            watches = [_watch(row) for row in rows]
            if not watches:
                return Snapshot(), 0
            last = watches[-1].seq
            where = (
                "request_id IN (SELECT w.request_id FROM watch w "
                f"WHERE {live} AND w.rowid > ? AND w.rowid <= ?)"
            )
            return (
                Snapshot(
                    watches=watches,
                    states=(
                        self._states(conn, where, (after, last), False, recipients)
                        if states
                        else {}
                    ),
                    timelines=self._timelines(conn, where, (after, last), timeline_limit),
                ),
                last,
            )

    def each_part(
        self,
        count: int,
        which: Which = Which.KEPT,
        *,
        timeline_limit: int | None = DEFAULT_TIMELINE,
        states: bool = True,
        recipients: bool = True,
    ) -> Iterator[Snapshot]:
        """Every part `load_part` reads, in the added order, read as they are taken: only one
        part is held at a time (an export of 100,000 ids held all of them at once, K12). Taken
        inside `with store.reading():`, the parts are one consistent read."""
        after = 0
        while True:
            part, after = self.load_part(
                after,
                count,
                which,
                timeline_limit=timeline_limit,
                states=states,
                recipients=recipients,
            )
            if not after:
                return
            yield part
