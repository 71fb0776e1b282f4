"""The files of an open store that d7tui reads beside SQLite, each opened once per process.

POSIX record locks belong to a process and a file, not to a descriptor: closing any descriptor
of a file drops every lock the process holds on it, SQLite's among them (the SHARED lock every
connection to a database in WAL mode holds, the `-shm`'s dead man switch). Without the SHARED
lock another process closing last checkpoints and deletes the WAL and its index under this one;
without the switch another process takes the index for abandoned and empties it. So the database
file and its `-shm`, which moved.py and sides.py read, are opened once per process and file,
shared by every store object using them, and closed only when the last one lets go (its SQLite
connections closed by then).
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

Key = tuple[int, int]  # (st_dev, st_ino)


@dataclass(eq=False)
class OpenFile:
    fds: list[int]  # the first is the one read; more only if a race opened it twice
    key: Key
    users: int = 1

    @property
    def fd(self) -> int:
        return self.fds[0]


_open: dict[Key, OpenFile] = {}
_lock = threading.Lock()


def hold(path: Path) -> OpenFile | None:
    """The file at `path`, open for reading and writing where it may be (else reading),
    shared; None if it cannot be opened. Each `hold` is ended by one `let_go`."""
    with _lock:
        try:
            st = os.stat(path)
        except OSError:
            return None
        found = _open.get((st.st_dev, st.st_ino))
        if found is not None:
            found.users += 1
            return found
        fd = None
        for flags in (os.O_RDWR, os.O_RDONLY):
            try:
                fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
                break
            except OSError:
                continue
        if fd is None:
            return None
        mine = os.fstat(fd)
        key = (mine.st_dev, mine.st_ino)
        found = _open.get(key)
        if found is not None:  # the path changed meanwhile, to a file held: never closed alone
            found.fds.append(fd)
            found.users += 1
            return found
        opened = _open[key] = OpenFile([fd], key)
        return opened


def let_go(opened: OpenFile | None) -> None:
    if opened is None:
        return
    with _lock:
        opened.users -= 1
        if opened.users > 0:
            return
        if _open.get(opened.key) is opened:
            del _open[opened.key]
        for fd in opened.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
