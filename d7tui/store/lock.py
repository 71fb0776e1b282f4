"""One process at a time polls for a data directory and pulls Infobip's one-time reports.

Reading a one-time report takes it away from every other reader, so two monitors pulling at once
would each see half; two monitors polling at once would spend the account's rate budget twice.
So the holder of this lock leads (see d7tui/desk.py): it polls the vendors, writes what they say
and pulls the reports; another monitor on the store follows it. The lock is an OS file lock
(`flock`) on a file beside the database: the kernel drops it when the process ends in any way,
kill -9 included, so it never goes stale. The holder writes its pid and who it is into the file
only so that the others can name it.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

from d7tui.store.errors import StoreError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt


def whoami(user: str | None) -> str:
    return f"{user or '?'}@{socket.gethostname()} pid {os.getpid()}"


class ReportLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.user: str | None = None  # who this is (the store's actor), written for the others
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
        pid = f"{os.getpid()}\n{whoami(self.user)}\n".encode()
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
        first = self._written()[0]
        return int(first) if first.isdigit() else None

    def _written(self) -> list[str]:
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return [""]
        return [line.strip() for line in text.splitlines()] or [""]

    def leader(self) -> str | None:
        """Who holds the lock ("user@host pid N"), None if nobody does; StoreError if the lock
        file cannot be read. Looks without taking it for more than an instant: a shared lock
        that cannot be had means it is held."""
        if self._fd is not None:
            return whoami(self.user)
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot use {self.path}: {exc.strerror or exc}") from None
        try:
            if fcntl is None:  # pragma: no cover - Windows: the holder's byte is locked
                msvcrt.locking(fd, msvcrt.LK_NBRLCK, 1)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
            else:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return None
        except OSError:
            pass
        finally:
            os.close(fd)  # closing drops the shared lock, if it was had
        written = self._written()
        if len(written) > 1 and written[1]:
            return written[1]
        return f"another d7tui (pid {written[0]})" if written[0].isdigit() else "another d7tui"

    def end_if_silent(self, after: float) -> str | None:
        """A holder stopped (`kill -STOP`) or frozen keeps its file lock: nothing here can end
        it short of signalling another user's process, which d7tui does not do. None."""
        return None

    def refusal(self) -> str:
        """What the second instance tells its user, in one line."""
        if self.problem is not None:
            return f"Infobip reports are not pulled: {self.problem}"
        pid = self.holder()
        who = f"another d7tui (pid {pid})" if pid else "another d7tui"
        return (
            f"{who} leads on this data directory ({self.path.parent}): it pulls the Infobip "
            "reports, this one shows them read-only"
        )
