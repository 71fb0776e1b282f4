"""A database file deleted or replaced while it is open, noticed and put right.

SQLite in WAL mode goes on writing to a file that was deleted, without a word: every commit
"succeeds", and all of it is gone when the process ends. So the store compares the file at its
path with the one it opened (device and inode) at cheap moments, and when they differ:

- deleted: the database as this process has it open is written back to the path;
- replaced by another d7tui database (another d7tui put its copy back, or the user restored a
  backup): this process writes to the new file from now on, and keeps what it had until then
  beside it, named with a timestamp;
- replaced by anything else (an empty or broken file): that file is set aside with a
  timestamp, and the open database is written back to the path.

Each returns one line saying what was done, for the screen. The connections of every other
thread must have been dropped first (`AsyncStore` does it on its reader thread).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from d7tui.store.db import Database
from d7tui.store.errors import StoreError, StoreUnavailable
from d7tui.store.files import SIDECARS, free_aside_name, prepare_dir, set_aside
from d7tui.store.schema import SCHEMA_VERSION

FileId = tuple[int, int]  # (st_dev, st_ino)


def file_id(path: Path) -> FileId | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class MovedMixin(Database):
    """Part of `Store`: notices and puts right a database file deleted or replaced under it."""

    _opened: FileId | None = None  # the file opened, and the SQLite files beside it
    _sidecars: frozenset[FileId] = frozenset()

    def remember_file(self) -> None:
        """Note which file is open (call once it is open and in WAL mode)."""
        self._opened = file_id(self.path)
        self._sidecars = frozenset(
            found
            for suffix in SIDECARS
            if (found := file_id(self.path.with_name(self.path.name + suffix))) is not None
        )

    def moved(self) -> str | None:
        """ "deleted" or "replaced" if the path no longer leads to the file that is open."""
        if self._opened is None or self.readonly or self._closed:
            return None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return "deleted"
        except OSError:
            return None  # cannot tell (a directory became unreadable): the writes will say
        return None if (st.st_dev, st.st_ino) == self._opened else "replaced"

    def put_back(self) -> str | None:
        """Put right a file deleted or replaced under this store; one line saying what was done,
        None if nothing had happened. Raises StoreError if it cannot be done now."""
        what = self.moved()
        if what is None:
            return None
        try:
            prepare_dir(self.path)  # the whole directory may have been deleted
            if what == "replaced" and self._is_d7tui_database(self.path):
                kept = self._copy_to(free_aside_name(self.path, "kept"))
                self._reopen(lambda: None)
                return (
                    f"{self.path} was replaced while d7tui ran: it writes to the new file now, "
                    f"and what it had until then is kept as {kept}"
                )
            aside = None
            if what == "replaced":
                aside = set_aside(self.path, "replaced", keep=self._sidecars)
            temp = self._copy_to(self.path.with_name(f".{self.path.name}.restoring-{os.getpid()}"))
            self._reopen(lambda: os.replace(temp, self.path))
        except (OSError, sqlite3.Error, StoreError) as exc:
            said = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise StoreUnavailable(
                f"{self.path} was {what} while d7tui ran, and cannot be put back yet: {said}"
            ) from None
        if aside is not None:
            return (
                f"{self.path} was replaced by a file that is not a d7tui database while d7tui "
                f"ran: that file is kept as {aside}, and the database was written back"
            )
        return f"{self.path} was deleted while d7tui ran: it was written back, nothing is lost"

    def _copy_to(self, target: Path) -> Path:
        """A whole copy of the database as it is open here (from the deleted file, if it was)."""
        for name in (target.name, *(target.name + s for s in SIDECARS)):
            with contextlib.suppress(FileNotFoundError):
                (target.parent / name).unlink()
        fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        copy = sqlite3.connect(target, isolation_level=None)
        try:
            self._conn().backup(copy)
            copy.execute("PRAGMA journal_mode = WAL")
        finally:
            copy.close()
        return target

    def _reopen(self, move_into_place: Callable[[], object]) -> None:
        # Every connection to the file as it was is closed before any is made to the new one:
        # SQLite finds a database's WAL by its name, and the last connection to close deletes
        # it by that name. A WAL file there that is not ours (the new file's) is moved out of
        # the way while ours close, so that their closing cannot delete it.
        foreign = []
        for suffix in SIDECARS:
            sidecar = self.path.with_name(self.path.name + suffix)
            found = file_id(sidecar)
            if found is not None and found not in self._sidecars:
                hidden = sidecar.with_name(f".{sidecar.name}.{os.getpid()}")
                os.replace(sidecar, hidden)
                foreign.append((hidden, sidecar))
        try:
            with self._conns_lock:
                conns, self._conns = self._conns, []
            for conn in conns:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._generation += 1
            for suffix in SIDECARS:  # ours, left because another process still has the old file
                sidecar = self.path.with_name(self.path.name + suffix)
                if file_id(sidecar) in self._sidecars:
                    os.replace(sidecar, free_aside_name(sidecar, "stale"))
        finally:
            for hidden, sidecar in foreign:
                os.replace(hidden, sidecar)
        move_into_place()
        self._init_schema()
        self.remember_file()

    def _is_d7tui_database(self, path: Path) -> bool:
        # Read from the file's header, not through SQLite: SQLite would take our WAL, still
        # beside it under the same name, for the new file's.
        try:
            with open(path, "rb") as fh:
                header = fh.read(100)
        except OSError:
            return False
        if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
            return False
        return 1 <= int.from_bytes(header[60:64], "big") <= SCHEMA_VERSION
