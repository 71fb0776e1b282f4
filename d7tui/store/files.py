"""The database file on disk: its directory, creating it whole, and setting a broken one aside.

A new database appears at its path only once it holds the schema: it is built under a temporary
name and hard-linked into place. So a file of 0 bytes at the path is never a database being
created by another d7tui at this moment: it was truncated (or damaged otherwise), and it is set
aside with a timestamp rather than silently becoming a new, empty store.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
import stat
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any
from urllib.parse import quote

from d7tui.store.errors import StoreError
from d7tui.store.schema import migrate

SIDECARS = ("-wal", "-shm", "-journal")  # SQLite's own files beside a database, by suffix
_CREATING = ".creating-"
RESTORING = ".restoring-"  # a copy being written back by moved.py, named after its process


def connect_existing(path: Path, **kwargs: Any) -> sqlite3.Connection:
    """A connection to the database file at `path` for reading and writing, never creating
    it: SQLite would make a missing file with the process's umask (0644: readable by every
    local user), and a path whose file vanished a moment ago (another d7tui setting it aside)
    would become a new, empty store. New files are made 0600 by `create_whole`; SQLite gives
    the `-wal` and `-shm` it makes beside a database the database file's own mode."""
    return sqlite3.connect(f"file:{quote(str(path))}?mode=rw", uri=True, **kwargs)


def prepare_dir(path: Path) -> None:
    """Create the missing directories of `path` (0700: the store holds phone numbers)."""
    missing: list[Path] = []
    parent = path.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
            os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask
        except OSError as exc:
            why = exc.strerror or str(exc)
            if directory.is_symlink():  # a link to nowhere "does not exist", yet is there
                why = (
                    f"{directory} is a symbolic link to {os.readlink(directory)}, which is missing"
                )
            raise StoreError(f"cannot create {path}: {why}") from None
    if not path.parent.is_dir():
        raise StoreError(f"cannot create {path}: {path.parent} is not a directory")
    if path.is_dir():
        raise StoreError(f"cannot use {path} as the database: it is a directory")


def mode_warning(path: Path) -> str | None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    if mode & 0o077:
        return (
            f"{path} can be read by other users (mode {mode:04o}); "
            f"it holds phone numbers: chmod 600 it"
        )
    return None


def create_whole(path: Path) -> bool:
    """Create the database at `path` with its schema, all at once; False if a file was there
    already (another d7tui was first). Raises StoreError if it cannot be created."""
    temp = path.with_name(f".{path.name}{_CREATING}{os.getpid()}")
    try:
        _forget_unfinished(path)
        fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        os.close(fd)
        conn = connect_existing(temp, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL")  # kept in the file's header
            conn.execute("BEGIN IMMEDIATE")
            migrate(conn, 0)
            conn.execute("COMMIT")
        finally:
            conn.close()
        _set_aside_orphans(path)
        try:
            os.link(temp, path)
        except FileExistsError:
            return False
        return True
    except (OSError, sqlite3.Error) as exc:
        said = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise StoreError(f"cannot create {path}: {said or exc}") from None
    finally:
        remove_with_sidecars(temp)


def _set_aside_orphans(path: Path) -> None:
    """The SQLite files of a database deleted at `path` (`rm d7tui.sqlite3` while a monitor
    runs: its WAL and shared memory stay) are moved aside before a new database takes the
    name: SQLite finds a WAL by name alone, and would lay the deleted database's pages over the
    new one, sharing the running monitor's WAL with it."""
    if path.exists():
        return  # another d7tui was first: those files are its database's
    for suffix in SIDECARS:
        sidecar = path.with_name(path.name + suffix)
        if sidecar.exists():
            os.replace(sidecar, free_aside_name(sidecar, "stale"))


def _forget_unfinished(path: Path) -> None:
    # A d7tui killed while it created the file left its temporary file behind: nothing was in it.
    for leftover in path.parent.glob(f".{path.name}{_CREATING}*"):
        pid = leftover.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            remove_with_sidecars(leftover)


def restoring(path: Path) -> bool:
    """Whether a running d7tui is writing the store at `path` back this moment (moved.py:
    its copy is moved into place as soon as it is whole)."""
    for temp in path.parent.glob(f".{path.name}{RESTORING}*"):
        pid = temp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
            return True
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, but is not ours to signal
    return True


def remove_with_sidecars(path: Path) -> None:
    for name in (path.name, *(path.name + s for s in SIDECARS)):
        with contextlib.suppress(FileNotFoundError):
            (path.parent / name).unlink()


def is_empty(path: Path) -> bool:
    try:
        return path.stat().st_size == 0
    except OSError:
        return False


def free_aside_name(path: Path, why: str, *, now: float | None = None) -> Path:
    """A name beside `path`, `<name>.<why>-<timestamp>`, that no file (nor SQLite file) uses."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(time.time() if now is None else now))
    for n in itertools.count():
        aside = path.with_name(f"{path.name}.{why}-{stamp}" + (f"-{n}" if n else ""))
        if not any((aside.parent / (aside.name + s)).exists() for s in ("", *SIDECARS)):
            return aside
    raise AssertionError("unreachable")


KEEP_ASIDE = 3  # copies of a store set aside for the same reason that are kept at most


def prune_aside(path: Path, why: str, keep: int = KEEP_ASIDE) -> None:
    """Of the files set aside as `<name>.<why>-<time>`, the first (it holds the most history:
    every later one was written from what a monitor held) and the newest stay, `keep` in all;
    the others go, with their SQLite files. A -wal emptied every second made a full copy of the
    store every second, until the disk was full."""
    prefix = f"{path.name}.{why}-"
    found = sorted(p for p in path.parent.glob(f"{prefix}*") if not p.name.endswith(SIDECARS))
    if keep < 1 or len(found) <= keep:
        return
    for extra in found[1 : len(found) - (keep - 1)]:
        with contextlib.suppress(OSError):
            remove_with_sidecars(extra)


def set_aside(path: Path, why: str, *, keep: Collection[tuple[int, int]] = ()) -> Path:
    """Rename `path`, and the SQLite files beside it (so that the set still opens together),
    to a free `<name>.<why>-<timestamp>`; the new path. Never overwrites anything. A file
    beside it whose (device, inode) is in `keep` stays where it is."""
    aside = free_aside_name(path, why)
    try:
        os.link(path, aside)  # never replaces: fails if `aside` appeared meanwhile
        for suffix in SIDECARS:
            sidecar = path.with_name(path.name + suffix)
            try:
                st = sidecar.stat()
            except FileNotFoundError:
                continue
            if (st.st_dev, st.st_ino) not in keep:
                os.replace(sidecar, aside.with_name(aside.name + suffix))
        os.unlink(path)
    except OSError as exc:
        raise StoreError(f"cannot set {path} aside: {exc.strerror or exc}") from None
    return aside
