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
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import platformdirs

from d7tui.safety import one_line
from d7tui.store.errors import StoreCorruptError, StoreError, StoreVersionError
from d7tui.store.schema import SCHEMA_VERSION, migrate

APP_NAME = "d7tui"
DB_NAME = "d7tui.sqlite3"
DEFAULT_BUSY_TIMEOUT = 10.0  # seconds a writer waits for another process's transaction

_CORRUPT = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}


def default_path() -> Path:
    """`d7tui.sqlite3` in platformdirs' user data dir (XDG_DATA_HOME is honoured on Linux)."""
    return Path(platformdirs.user_data_dir(APP_NAME)) / DB_NAME


def prepare_file(path: Path) -> list[str]:
    """Create the missing directories (0700) and the file (0600); warnings for the user."""
    warnings: list[str] = []
    missing: list[Path] = []
    parent = path.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    try:
        for directory in reversed(missing):
            directory.mkdir(mode=0o700)
            os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask
        if path.is_dir():
            raise StoreError(f"cannot use {path} as the database: it is a directory")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                warnings.append(
                    f"{path} can be read by other users (mode {mode:04o}); "
                    f"it holds phone numbers: chmod 600 it"
                )
        else:
            os.fchmod(fd, 0o600)
            os.close(fd)
    except OSError as exc:
        raise StoreError(f"cannot create {path}: {exc.strerror or exc}") from None
    return warnings


class Database:
    """Connections (one per thread), transactions and the schema; `Store` adds what is stored."""

    def __init__(self, path: Path, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self.warnings: list[str] = []
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._savepoints = itertools.count()
        self._closed = False

    # -- errors --------------------------------------------------------------------------------

    def _error(self, exc: sqlite3.Error) -> StoreError:
        said = one_line(str(exc), 200)
        if getattr(exc, "sqlite_errorname", "") in _CORRUPT:
            return StoreCorruptError(f"{self.path} is damaged or not a d7tui database ({said})")
        return StoreError(f"{self.path}: {said}")

    # -- connections ---------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self._closed:
            raise StoreError(f"{self.path}: the store is closed")
        try:
            # check_same_thread=False only so close() may close every thread's connection;
            # each connection is still used by the one thread that made it.
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                check_same_thread=False,
            )
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        with self._conns_lock:
            self._conns.append(conn)
        self._local.conn = conn
        return conn

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
            conn.execute("BEGIN IMMEDIATE")
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
        except sqlite3.DatabaseError as exc:
            raise StoreCorruptError(
                f"{self.path} is not a d7tui database ({one_line(str(exc), 120)})"
            ) from None
        self._check_version(version)
        if version == 0 and tables:
            raise StoreCorruptError(
                f"{self.path} is an SQLite database but not d7tui's; nothing was changed"
            )
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
