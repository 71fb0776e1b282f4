"""One process at a time pulls Infobip's one-time reports from a data directory.

Reading a one-time report takes it away from every other reader, so two monitors pulling at once
would each see half. The lock is an OS file lock (`flock`) on a file beside the database: the
kernel drops it when the process ends in any way, kill -9 included, so it never goes stale.
The holder writes its pid into the file only so that the other instance can name it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt


class ReportLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._file: tuple[int, int] | None = None
        self.problem: str | None = None  # why the lock file itself could not be used

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; True if this object holds it now. Never waits."""
        if self._fd is not None:
            return True
        # O_CLOEXEC: a program we start (an editor, a pager) must not keep our lock alive.
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError as exc:
            self.problem = f"cannot use {self.path}: {exc.strerror or exc}"
            return False
        self.problem = None
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:  # pragma: no cover - Windows: a byte-range lock, also dropped at exit
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            os.close(fd)
            return False
        # Write then truncate (not the other way round): a reader sees a whole pid or the old one.
        pid = f"{os.getpid()}\n".encode()
        with contextlib.suppress(OSError):  # only a hint: a full disk must not cost the lock
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, pid)
            os.ftruncate(fd, len(pid))
        self._fd = fd
        st = os.fstat(fd)
        self._file = (st.st_dev, st.st_ino)  # which file holds it, to notice it deleted
        return True

    def renew(self) -> bool:
        """Still held, at the lock file's path as it is now? A lock whose file was deleted (the
        data directory removed under a running d7tui) holds nothing: another d7tui would take a
        new one. So it is taken again at the path; False if it could not be (another took it)."""
        fd = self._fd
        if fd is None:
            return False
        try:
            st = os.stat(self.path)
            if (st.st_dev, st.st_ino) == self._file:
                return True
        except OSError:
            pass
        self._fd = None
        taken = self.try_acquire()
        with contextlib.suppress(OSError):
            os.close(fd)
        return taken

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing drops the lock

    def holder(self) -> int | None:
        """The pid the holder wrote, if it can be read (it is a hint, not the lock)."""
        try:
            text = self.path.read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def refusal(self) -> str:
        """What the second instance tells its user, in one line."""
        if self.problem is not None:
            return f"Infobip reports are not pulled: {self.problem}"
        pid = self.holder()
        who = f"another d7tui (pid {pid})" if pid else "another d7tui"
        return (
            f"{who} is pulling Infobip reports from this data directory ({self.path.parent}); "
            "this one shows them read-only"
        )
