"""The SQLite file itself: where it lives, opening it safely, connections and transactions.

Durability choices, and why:
- WAL: readers never wait for the writer (the UI reads while a poll is saved), and a kill at any
  moment leaves either the old or the new transaction, never half of one.
- synchronous=FULL on every connection: a commit is on the disk when it returns. The one-time
  Infobip reports need it (they exist nowhere else once pulled), and the writer thread batches
  queued writes into one transaction, so one fsync per batch is cheap enough for everything.
- busy_timeout: a second d7tui on the same file waits its turn instead of failing.
- BEGIN IMMEDIATE for writes: the write lock is taken up front, so two writers queue in the busy
  handler instead of one failing with "database is locked" when it upgrades a read.

Failures come out as one line of the right kind: `StoreCorruptError` (damaged, not ours),
`StoreUnavailable` (disk full, read-only, locked, gone: it may pass, so writes are held and
retried), `StoreError` (anything else).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import platformdirs

from d7tui.safety import one_line
from d7tui.store import changes, writelock
from d7tui.store.errors import StoreCorruptError, StoreError, StoreUnavailable, StoreVersionError
from d7tui.store.files import connect_existing
from d7tui.store.schema import SCHEMA_VERSION, migrate

APP_NAME = "d7tui"
DB_NAME = "d7tui.sqlite3"
DEFAULT_BUSY_TIMEOUT = 10.0  # seconds a writer waits for another process's transaction

_CORRUPT = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}
# SQLite's primary result codes that mean "not now, for a reason outside d7tui", in words.
_UNAVAILABLE = {
    "SQLITE_FULL": "the disk is full",
    "SQLITE_READONLY": "the database cannot be written (read-only)",
    "SQLITE_PERM": "the database cannot be written (permission denied)",
    "SQLITE_BUSY": "another program holds the database locked",
    "SQLITE_LOCKED": "another program holds the database locked",
    "SQLITE_PROTOCOL": "another program holds the database locked",
    "SQLITE_IOERR": "the disk reported an error",
    "SQLITE_CANTOPEN": "the database file cannot be opened",
}
_LOCKED = {"SQLITE_BUSY", "SQLITE_LOCKED"}
_MAYBE_FULL = {"SQLITE_IOERR", "SQLITE_CANTOPEN"}
_MAYBE_READ_ONLY = {"SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_IOERR"}


def default_path() -> Path:
    """`d7tui.sqlite3` in platformdirs' user data dir (XDG_DATA_HOME is honoured on Linux)."""
    return Path(platformdirs.user_data_dir(APP_NAME)) / DB_NAME


def error_of(path: Path, exc: sqlite3.Error | OSError) -> StoreError:
    """One line for the user about a failure on the database at `path`, of the right kind."""
    if isinstance(exc, OSError):
        return StoreUnavailable(f"{path}: {exc.strerror or exc}")
    said = one_line(str(exc), 200)
    name = getattr(exc, "sqlite_errorname", "") or ""
    primary = "_".join(name.split("_")[:2])  # SQLITE_IOERR_WRITE -> SQLITE_IOERR
    if primary in _CORRUPT:
        return StoreCorruptError(f"{path} is damaged or not a d7tui database ({said})")
    if primary in _UNAVAILABLE:
        meaning = _UNAVAILABLE[primary]
        if primary in _LOCKED and (holder := writelock.writer(path)) is not None:
            if holder.stopped:  # SQLite's own words add nothing to what is said then
                return StoreUnavailable(f"{path}: {writelock.said(holder)}")
            meaning = writelock.said(holder)
        elif primary in _MAYBE_FULL and disk_full(path):
            meaning = _UNAVAILABLE["SQLITE_FULL"]  # SQLite says only "I/O error" for some
        elif primary in _MAYBE_READ_ONLY and not _writable(path.parent):
            meaning = f"its directory {path.parent} is read-only"
        return StoreUnavailable(f"{path}: {meaning} ({said})")
    return StoreError(f"{path}: {said}")


def _writable(directory: Path) -> bool:
    # os.access says False for a read-only mount even to root (EROFS), and True to root on a
    # directory whose permission bits alone say no: then SQLite's own words stand.
    return not directory.is_dir() or os.access(directory, os.W_OK)


def disk_full(path: Path) -> bool:
    """No block left for us on the file system of `path` (its nearest existing directory)."""
    directory = path.parent
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    try:
        return os.statvfs(directory).f_bavail == 0
    except (OSError, AttributeError):  # AttributeError: no statvfs (Windows)
        return False


class Database:
    """Connections (one per thread), transactions and the schema; `Store` adds what is stored.

    `readonly`: opened for reading only (an export from a read-only directory); nothing is
    created, migrated or written.
    """

    locks_in_shm = True  # SQLite's write lock is in the -shm beside the file (not a server's)

    def __init__(
        self, path: Path, *, busy_timeout: float | None = None, readonly: bool = False
    ) -> None:
        self.path = path
        # Looked up now, not when the module was loaded: a test may shorten it.
        self.busy_timeout = DEFAULT_BUSY_TIMEOUT if busy_timeout is None else busy_timeout
        self.readonly = readonly
        self.warnings: list[str] = []  # worth a word once (a file others can read ...)
        self.notices: list[str] = []  # worth keeping on screen (a damaged file set aside ...)
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._savepoints = itertools.count()
        self._closed = False
        # Set once the file is open: a connection that cannot be made is then said as the file
        # deleted while d7tui ran (a connection never creates the file: `_connect`).
        self._must_exist = False
        self.keeps_changes = False  # the file numbers the watchlist's changes (changes.py)
        # Look whether a stopped process holds the write lock before taking it: at the first
        # write, and after one that found the database locked (see writelock.py).
        self._look_for_stopped = True
        # Bumped when the file was put back after it was deleted or replaced: every thread's
        # connection to the file as it was is then closed and made again on its next use.
        self._generation = 0

    # -- errors --------------------------------------------------------------------------------

    def _error(self, exc: sqlite3.Error | OSError) -> StoreError:
        return error_of(self.path, exc)

    # -- connections ---------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        self._guard_sides()
        local = self._local
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is not None:
            if local.generation == self._generation:
                return conn
            self.drop_connection()
        if self._closed:
            raise StoreError(f"{self.path}: the store is closed")
        try:
            conn = self._connect()
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        with self._conns_lock:
            self._conns.append(conn)
        local.conn, local.generation = conn, self._generation
        return conn

    def _guard_sides(self) -> None:
        """Before a connection is used: SQLite's files beside the database as they must be
        (sides.py, through MovedMixin); raises StoreUnavailable if they are not."""

    def _connect(self) -> sqlite3.Connection:
        # check_same_thread=False only so close() may close every thread's connection;
        # each connection is still used by the one thread that made it.
        if not self.readonly:
            # Never made here (files.connect_existing): only whole, 0600, by `create_whole`.
            conn = connect_existing(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                check_same_thread=False,
            )
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = FULL")
            return conn
        uri = f"file:{quote(str(self.path))}"
        try:
            conn = sqlite3.connect(
                f"{uri}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA user_version").fetchone()  # opening is lazy: try it
            return conn
        except sqlite3.OperationalError:
            if not self.path.exists():
                raise
        # A WAL database in a directory nobody may write cannot make its shared-memory file;
        # read the file as it is (what a clean exit left: everything), and say if it was not.
        wal = self.path.with_name(self.path.name + "-wal")
        if wal.exists() and wal.stat().st_size:
            self.warnings.append(
                f"{wal} could not be read (the directory is read-only): "
                "the last changes before d7tui stopped may be missing"
            )
        return sqlite3.connect(
            f"{uri}?immutable=1", uri=True, isolation_level=None, check_same_thread=False
        )

    def drop_connection(self) -> None:
        """Close the calling thread's connection (the next use makes a new one)."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is None:
            return
        with self._conns_lock:
            if conn in self._conns:
                self._conns.remove(conn)
        with contextlib.suppress(sqlite3.Error):
            conn.close()

    def close(self) -> None:
        """Close every connection this object opened. Committed data is already on disk."""
        self._closed = True
        with self._conns_lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    # -- transactions --------------------------------------------------------------------------

    @contextlib.contextmanager
    def batch(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; nested inside another on the same thread, a savepoint of it.

        Every write method of the store runs in one, so a block of several writes under
        `with store.batch():` commits all of them at once (one fsync) or none.
        """
        conn = self._conn()
        try:
            if conn.in_transaction:
                name = f"sp{next(self._savepoints)}"
                conn.execute(f"SAVEPOINT {name}")
                try:
                    yield conn
                except BaseException:
                    if conn.in_transaction:
                        conn.execute(f"ROLLBACK TO {name}")
                        conn.execute(f"RELEASE {name}")
                    raise
                conn.execute(f"RELEASE {name}")
                return
            self._not_behind_a_stopped_writer()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error:
                self._look_for_stopped = True
                raise
            self._look_for_stopped = False
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def _not_behind_a_stopped_writer(self) -> None:
        """Raises StoreUnavailable, at once, if a stopped process holds the write lock: SQLite
        would wait its busy timeout for a lock that is let go only once that process runs."""
        if not (self._look_for_stopped and self.locks_in_shm):
            return
        holder = writelock.stopped_writer(self.path)
        if holder is not None:
            raise StoreUnavailable(f"{self.path}: {writelock.said(holder)}")

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees the same committed state."""
        conn = self._conn()
        try:
            if conn.in_transaction:
                yield conn
                return
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    # -- schema --------------------------------------------------------------------------------

    def _init_schema(self) -> None:
        """Check the file is ours and not from the future, then migrate it to SCHEMA_VERSION.

        Nothing is written before both checks pass (switching to WAL is a write).
        """
        conn = self._conn()
        try:
            # One read transaction: another d7tui migrating this very file between the two
            # reads would otherwise make it look like somebody else's database.
            conn.execute("BEGIN")
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            # Damaged, or not SQLite at all: StoreCorruptError. Locked, unreadable: not that.
            raise self._error(exc) from None
        self._check_version(version)
        if version == 0 and tables:
            raise StoreCorruptError(
                f"{self.path} is an SQLite database but not d7tui's; nothing was changed",
                damaged=False,
            )
        if version:  # an export too: a broken page read as an empty table would export less
            self._check_whole(conn)
        if self.readonly:
            if version == 0:  # empty (0 bytes, say): never written by d7tui, nothing to read
                raise StoreCorruptError(f"{self.path} is empty: it is not a d7tui database")
            if version < SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} was written by an older d7tui and cannot be upgraded "
                    "read-only: open it once with write access (d7tui add, or the monitor)"
                )
            return
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        if str(mode).lower() != "wal":
            self.warnings.append(f"{self.path}: SQLite could not use WAL here (mode {mode})")
        if version < SCHEMA_VERSION:
            with self.batch() as tx:
                # Read again under the write lock: another d7tui may have migrated meanwhile.
                current = tx.execute("PRAGMA user_version").fetchone()[0]
                self._check_version(current)
                if current < SCHEMA_VERSION:
                    migrate(tx, current)
        self.keeps_changes = self._number_changes(conn)

    def _number_changes(self, conn: sqlite3.Connection) -> bool:
        """Make the watchlist's numbered changes (changes.py) if the file has none yet; whether
        it has them now. A file that cannot take them is used without: the monitor then
        looks for new ids only."""
        try:
            if not changes.missing(conn):
                return True
            with self.batch() as tx:
                changes.create(tx)
        except (sqlite3.Error, StoreError):
            return False
        return True

    def _check_whole(self, conn: sqlite3.Connection) -> None:
        """Every page readable (SQLite's quick check: the b-trees, not the indexes against
        their tables): a file with a few damaged pages opens and reads its first rows as well
        as a whole one, and fails at a later read. About 0.15 s at 100,000 ids (BENCHMARKS.md);
        raises StoreCorruptError, before anything is written to the file."""
        try:
            rows = conn.execute("PRAGMA quick_check(1)").fetchall()
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        said = str(rows[0][0]) if rows else "ok"
        if said != "ok":  # "*** in database main ***\nPage 2: ...": the page is what helps
            lines = [line for line in said.splitlines() if not line.startswith("***")]
            detail = one_line("; ".join(lines) or said, 120)
            # Read-only (an export) nothing is set aside here: say what does it.
            todo = (
                "; nothing exported: the monitor or d7tui add sets it aside and keeps what "
                "is still readable"
                if self.readonly
                else ""
            )
            raise StoreCorruptError(f"{self.path} is damaged (SQLite's check: {detail}){todo}")

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StoreVersionError(
                f"{self.path} was written by a newer d7tui (schema version {version}, this one "
                f"knows up to {SCHEMA_VERSION}); nothing was changed: upgrade d7tui"
            )

    def schema_version(self) -> int:
        return int(self._all("PRAGMA user_version")[0][0])

    def integrity_check(self) -> str:
        """SQLite's own full check: "ok", or its first complaint."""
        rows = self._all("PRAGMA integrity_check")
        return str(rows[0][0]) if rows else "ok"
