"""One process at a time polls for a data directory and pulls Infobip's one-time reports.

Reading a one-time report takes it away from every other reader, so two monitors pulling at once
would each see half; two monitors polling at once would spend the account's rate budget twice.
So the holder of this lock leads (see d7tui/desk.py): it polls the vendors, writes what they say
and pulls the reports; another monitor on the store follows it. The lock is an OS file lock
(`flock`) on a file beside the database: the kernel drops it when the process ends in any way,
kill -9 included. The holder writes its pid and who it is into the file, so that the others can
name it, and a heartbeat, renewed with every look at its lead (about once a second): a holder
stopped (ctrl+z, `kill -STOP`, a frozen laptop) keeps its `flock` for ever, but its heartbeat
stands still, and a follower that sees it stand still long enough (`end_if_silent`) deletes that
very file: the lock at the path is free again, and the first monitor to take it leads. The
stopped one, when it runs again, finds another file at the path (`renew`): it leads no more.
A follower judges stillness by its own clock (the heartbeat changed or not since it last
looked), never by comparing the holder's clock with its own.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from pathlib import Path
from typing import NamedTuple

from d7tui.store.errors import StoreError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt


BEAT = "beat "  # the heartbeat's line: BEAT, the holder's time.time() and a count
BEAT_EVERY = 0.5  # seconds: renewed at most this often (renew is asked by two threads)


def whoami(user: str | None) -> str:
    return f"{user or '?'}@{socket.gethostname()} pid {os.getpid()}"


class _Seen(NamedTuple):
    """The holder's file and heartbeat as a follower last saw them change."""

    file: tuple[int, int]  # device and inode: another holder is another file
    beat: str | None  # None: a holder that writes none (a d7tui from before heartbeats)
    since: float  # time.monotonic() when this heartbeat was first seen
    since_wall: float  # time.time() then, to say it


class ReportLock:
    unended: str | None = None  # why a silent holder could not be ended (a desk's only)

    def __init__(self, path: Path) -> None:
        self.path = path
        self.user: str | None = None  # who this is (the store's actor), written for the others
        self._fd: int | None = None
        self._file: tuple[int, int] | None = None
        self.problem: str | None = None  # why the lock file itself could not be used
        self._beat_at = 0.0  # time.monotonic() of the last heartbeat written
        self._beats = 0  # heartbeats written
        self._seen: _Seen | None = None  # another holder, as last seen (a follower's)
        # Asked from the screen's loop and the store's writer thread at once.
        self._mutex = threading.RLock()

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; True if this object holds it now. Never waits."""
        with self._mutex:
            return self._acquire()

    def _acquire(self) -> bool:
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
        self._fd = fd
        self._beat(fd)
        st = os.fstat(fd)
        self._file = (st.st_dev, st.st_ino)  # which file holds it, to notice it deleted
        return True

    def _beat(self, fd: int) -> None:
        """Who holds the lock, and a heartbeat: written over what was there, then cut to its
        length (not the other way round: a reader sees a whole line or the one before)."""
        self._beat_at = time.monotonic()
        self._beats += 1  # the time alone may read the same twice (a clock set back)
        beat = f"{BEAT}{time.time():.3f} {self._beats}"
        text = f"{os.getpid()}\n{whoami(self.user)}\n{beat}\n".encode()
        with contextlib.suppress(OSError):  # only a hint: a full disk must not cost the lock
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, text)
            os.ftruncate(fd, len(text))

    def renew(self) -> bool:
        """Still held, at the lock file's path as it is now? Then its heartbeat is renewed. A
        lock whose file was deleted (the data directory removed under a running d7tui, or a
        follower that found this process silent: stopped) holds nothing: another d7tui may take
        a new one. So it is taken again at the path; False if it could not be (another took
        it)."""
        with self._mutex:
            fd = self._fd
            if fd is None:
                return False
            try:
                st = os.stat(self.path)
                if (st.st_dev, st.st_ino) == self._file:
                    if time.monotonic() - self._beat_at >= BEAT_EVERY:
                        self._beat(fd)
                    return True
            except OSError:
                pass
            self._fd = None
            taken = self._acquire()
            with contextlib.suppress(OSError):
                os.close(fd)
            return taken

    def release(self) -> None:
        with self._mutex:
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
        with self._mutex:
            if self._fd is not None:
                return whoami(self.user)
            look = self._look()
        return None if look is None else self._named(look[1])

    def _look(self) -> tuple[tuple[int, int], list[str]] | None:
        """The holder's file (device, inode) and its lines, None if nobody holds the lock; its
        heartbeat is noted (`_seen`). StoreError if the file cannot be read."""
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            self._seen = None
            return None
        except OSError as exc:
            raise StoreError(f"cannot use {self.path}: {exc.strerror or exc}") from None
        try:
            try:
                if fcntl is None:  # pragma: no cover - Windows: the holder's byte is locked
                    msvcrt.locking(fd, msvcrt.LK_NBRLCK, 1)
                    msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
                else:
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                self._seen = None
                return None
            except OSError:
                pass
            st = os.fstat(fd)
            text = os.read(fd, 4096).decode("utf-8", errors="replace")
        except OSError as exc:
            raise StoreError(f"cannot use {self.path}: {exc.strerror or exc}") from None
        finally:
            os.close(fd)  # closing drops the shared lock, if it was had
        lines = [line.strip() for line in text.splitlines()] or [""]
        file = (st.st_dev, st.st_ino)
        beat = lines[2] if len(lines) > 2 and lines[2].startswith(BEAT) else None
        seen = self._seen
        if seen is None or (seen.file, seen.beat) != (file, beat):
            self._seen = _Seen(file, beat, time.monotonic(), time.time())
        return file, lines

    @staticmethod
    def _named(written: list[str]) -> str:
        if len(written) > 1 and written[1]:
            return written[1]
        return f"another d7tui (pid {written[0]})" if written[0].isdigit() else "another d7tui"

    def quiet_since(self) -> float | None:
        """Since when (time.time()) the holder seen last has shown no sign of life: its
        heartbeat has not changed since; None if nobody holds the lock, or it writes none."""
        seen = self._seen
        return seen.since_wall if seen is not None and seen.beat is not None else None

    def end_if_silent(self, after: float) -> str | None:
        """End the lead of a holder whose heartbeat has not changed for `after` seconds (this
        process's clock, since it first saw it): it is stopped (`kill -STOP`, ctrl+z) or frozen,
        and keeps its file lock for ever. Its file is deleted (that file, not one another holder
        made meanwhile): the lock at the path is free, for the first monitor that takes it.
        Who it was, or None (alive, nobody holds the lock, a holder that writes no heartbeat:
        an older d7tui, never ended, or the file could not be deleted)."""
        with self._mutex:
            if self._fd is not None:
                return None
            try:
                look = self._look()
            except StoreError:
                return None
            seen = self._seen
            if look is None or seen is None or seen.beat is None:
                return None
            if time.monotonic() - seen.since < after:
                return None
            try:
                st = os.stat(self.path)
                if (st.st_dev, st.st_ino) != seen.file:
                    return None  # another holder's file now: not the silent one
                os.unlink(self.path)
            except OSError:
                return None
            self._seen = None
            return self._named(look[1])

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
