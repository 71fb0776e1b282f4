"""Held writes on disk as they are held, not only at quit.

While the store cannot be written (a full disk, a read-only directory), what the user does and
what the APIs said lives in memory until the store takes it; a kill -9 or a power cut meanwhile
would lose it. So each held write is also appended, as its journal line (journal.py), to a held
file: beside the database, else in a directory of the user's own (rescue.py's places, where
the next open looks), fsynced before it counts as kept. The cost of a write is its own line, never the
whole file again: the file is only written whole when it moves to another place (the one it was
in refused a line).

The file is created under a name no open looks for, locked (`flock`, dropped by the kernel
however the process ends) and only then renamed into place: another d7tui opening the store
meanwhile leaves a file whose owner still runs alone, and takes in one whose owner died. Once
the store has taken the writes, the file goes. When no place takes a line, `refused` says why:
those writes are in memory only, and whoever shows the trouble must say so.

What is written is exactly what the store would be given (a poll's answer is redacted before
it reaches either), nothing about the settings: no credential can reach the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import stat
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from d7tui.store.journal import Action, to_line

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the file is not locked, only named
    fcntl = None  # type: ignore[assignment]

_NUMBERS = itertools.count(1)  # two held files of one process in one second differ


def places(db: Path) -> list[tuple[Path, str]]:
    """Where the held files of `db` go, as (directory, name prefix): beside the database; else
    a directory of the user's own in the temporary directory (mode 0700: in the shared one
    anyone could plant a file under the name a store's held file has, K2; there rather than the
    user's state directory, which a full home disk refuses too), under a name only this
    database uses."""
    tag = hashlib.sha256(str(db.resolve()).encode()).hexdigest()[:12]
    return [(db.parent, f"{db.name}.held-"), (private_dir(), f"d7tui-held-{tag}-")]


def legacy_place(db: Path) -> tuple[Path, str]:
    """Where a d7tui before 2026-11-30 put them (the shared temporary directory): looked in
    only for the user's own files (rescue.py), never written."""
    tag = hashlib.sha256(str(db.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()), f"d7tui-held-{tag}-"


def private_dir() -> Path:
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"d7tui-{uid}"


def make_private(directory: Path) -> None:
    """`directory` made (mode 0700) if missing, and checked to be the user's own, a directory
    (not a link) that no one else may enter: OSError (why) otherwise."""
    with contextlib.suppress(FileExistsError):
        directory.mkdir(mode=0o700, parents=True)
    check_private(directory, fix=True)


def check_private(directory: Path, *, fix: bool = False) -> None:
    """OSError unless `directory` is the user's own directory (not a link) that no one else may
    enter; `fix`: one of the user's own that others may enter is made private first."""
    st = os.lstat(directory)
    if not stat.S_ISDIR(st.st_mode):
        raise OSError(f"{directory} is not a directory")
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise OSError(f"{directory} is another user's")
    if st.st_mode & 0o077:
        if not fix:
            raise OSError(f"{directory} is open to other users")
        os.chmod(directory, 0o700)


class HeldLog:
    """The held file of one store. Thread-safe; every method blocks on the disk."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.path: Path | None = None  # the held file, once one place took it
        self.refused: str | None = None  # why the newest lines are on no disk (None: all are)
        self._fd: int | None = None
        self._lines: list[bytes] = []  # every line since the file was last emptied
        self._on_disk = 0  # how many of them the file at `path` holds, fsynced
        self._size = 0  # its length in bytes: where the next line goes
        self._lock = threading.Lock()

    @property
    def complete(self) -> bool:
        """Every line appended is in the file at `path`, on disk."""
        return self.path is not None and self._on_disk == len(self._lines)

    @property
    def count(self) -> int:
        return len(self._lines)

    def append(self, actions: Sequence[Action]) -> bool:
        """Put `actions` on disk after those before (blocks: a write and an fsync); whether
        every line so far is on disk now."""
        with self._lock:
            self._lines.extend(json.dumps(to_line(a)).encode("ascii") + b"\n" for a in actions)
            if self.complete:
                return True
            return self._write()

    def discard(self) -> None:
        """The store took every write held: the file goes, and what it held."""
        with self._lock:
            path = self.path
            self._close()
            self._lines, self._on_disk, self._size, self.refused = [], 0, 0, None
            if path is not None:
                with contextlib.suppress(OSError):
                    path.unlink()

    def close(self) -> None:
        """Leave the file for the next open (the process ends): only its lock goes."""
        with self._lock:
            self._close()

    def said(self) -> str:
        """Where what is held is, for the line that says writes are held."""
        if self.refused is not None:
            return (
                "ONLY IN MEMORY: no disk could take it either (the store's directory, the "
                f"user's own in the temporary directory: {self.refused}), so a crash or kill "
                "loses it"
            )
        if self.path is not None:
            return f"written as it comes to {self.path}, which the next start takes in"
        return "held in memory"

    # -- on the disk (under the lock) ---------------------------------------------------------

    def _close(self) -> None:
        fd, self._fd, self.path = self._fd, None, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _write(self) -> bool:
        why: OSError | None = None
        if self._fd is not None:
            try:
                self._extend(self._fd)
            except OSError as exc:
                why = exc
            else:
                self.refused = None
                return True
        for directory, prefix in places(self.db):
            if self.path is not None and self.path.parent == directory:
                continue  # it just refused
            try:
                self._start(directory, prefix)
            except OSError as exc:
                why = exc
            else:
                self.refused = None
                return True
        self.refused = (why.strerror or str(why)).lower() if why is not None else "no place"
        return False

    def _extend(self, fd: int) -> None:
        data = b"".join(self._lines[self._on_disk :])
        try:
            _write_at(fd, data, self._size)
            os.fsync(fd)
        except OSError:
            # A line half-written stays out: the next one goes where it began.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, self._size)
            raise
        self._size += len(data)
        self._on_disk = len(self._lines)

    def _start(self, directory: Path, prefix: str) -> None:
        """Every line in a new file in `directory`, in place of the old one (if any)."""
        if directory != self.db.parent:
            make_private(directory)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        path = directory / f"{prefix}{stamp}-{os.getpid()}-{next(_NUMBERS)}.jsonl"
        making = path.with_name(f".{path.name}.new")  # a name no open takes in
        fd = os.open(making, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            data = b"".join(self._lines)
            _write_at(fd, data, 0)
            os.fsync(fd)
            os.rename(making, path)
            _sync_dir(directory)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                making.unlink()
            raise
        old = self.path
        self._close()
        if old is not None:  # all it held is in the new one
            with contextlib.suppress(OSError):
                old.unlink()
        self._fd, self.path, self._size, self._on_disk = fd, path, len(data), len(self._lines)


def in_use(path: Path) -> bool:
    """Whether a running d7tui still writes the held file at `path` (it holds its lock)."""
    if fcntl is None:  # pragma: no cover - Windows
        return False
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False  # reading it will say why
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
    return False


def _write_at(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        done = os.pwrite(fd, view, offset)
        view, offset = view[done:], offset + done


def _sync_dir(directory: Path) -> None:
    # The file's name survives a power cut too, not only its bytes.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
