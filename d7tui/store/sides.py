"""SQLite's own files beside the store, its `-shm` and `-wal`, watched while the store is open.

SQLite trusts them never to be touched; a cleanup script, a sync tool or an `rsync --inplace` of
the data directory does touch them:

- the `-shm` (the WAL's index, mapped into the memory of every process using the store) emptied
  in place: the next read or write of every such process dies of SIGBUS inside SQLite, where no
  Python code runs and the terminal is left raw. It is only an index: SQLite rebuilds it from the
  WAL when it finds it zeroed. So before any connection is used its length is put back
  (`posix_fallocate` only ever lengthens: never shorter than another process made it meanwhile).
  What remains is a shrink during the few microseconds a statement is inside SQLite.
- the `-shm` deleted or replaced: this process goes on with the old index while every process
  started later makes a new one, and two writers that cannot see each other write one WAL (an id
  `d7tui add` said it added is overwritten by the monitor's next commit). This process stops
  using the old index and opens the store again (`Sides.look` says it, moved.py does it); and
  a process opening the store waits until no other holds it through an index no longer at the
  path (`wait_for_one_index`), or refuses to write.
- the `-wal` emptied, shortened, overwritten, deleted or replaced: what was committed since the
  last checkpoint is not in the store file; the store is rescued as a lost store file is
  (moved.py), from this process's own view of it while that is whole, else from what it holds.

Who holds what is read from SQLite's own POSIX locks (`/proc/locks`, Linux): every connection to
a database in WAL mode holds a read lock on its SHARED range, and every process mapping a `-shm`
holds a read lock on its "dead man switch" byte.
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from d7tui.store.openfiles import OpenFile, hold, let_go

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no OFD locks (and no -shm can be cut under a map)
    fcntl = None  # type: ignore[assignment]

SHM, WAL = "-shm", "-wal"
_WAL_MAGIC = (0x377F0682, 0x377F0683)
_WAL_HEADER, _FRAME_HEADER = 32, 24
_SHARED_FIRST, _SHARED_SIZE = 0x40000000 + 2, 510  # SQLite's unix VFS: PENDING_BYTE + 2
_DMS = 128  # the -shm's dead man switch byte: (22 + 8) * 4 + 8
OPEN_WAIT = 10.0  # seconds an opening process waits for another to leave a lost -shm


class Trouble(NamedTuple):
    """A side file that was tampered with: which ("-shm"/"-wal"), what happened to it, and
    whether this process's own view of the database is still whole (a deleted WAL it still
    has open is; an emptied one is not)."""

    suffix: str
    what: str  # deleted, replaced, emptied, shortened, overwritten
    whole: bool

    def said(self, db: Path) -> str:
        return f"{db}{self.suffix} was {self.what}"


def _fid(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


class Sides:
    """The `-shm` and `-wal` this process has open through SQLite, as it knows them. Made once
    the store is open (its connections hold them from then on); `close` once they are closed.
    The -shm is read through a descriptor kept open (openfiles.py: never closed under SQLite's
    locks); the -wal, which SQLite never locks, by its path."""

    def __init__(self, db: Path) -> None:
        self.shm = db.with_name(db.name + SHM)
        self.wal = db.with_name(db.name + WAL)
        self._lock = threading.Lock()
        self._shm = hold(self.shm)
        self._shm_size = _fsize(self._shm.fd) if self._shm is not None else 0
        wal = _stat(self.wal)
        self._wal_key = _fid(wal) if wal is not None else None
        self._wal_size = wal.st_size if wal is not None else 0
        self._wal_seen: tuple[int, int] | None = None  # its size and time at the last look
        self.trouble: Trouble | None = None  # once found, until the store is opened again
        self.told: list[str] = []  # what was put right here, for the screen

    def close(self) -> None:
        shm, self._shm = self._shm, None
        let_go(shm)

    def look(self) -> Trouble | None:
        """Before a connection is used (cheap: a few stats): a `-shm` shortened is lengthened
        again at once; then what is wrong that opening the store again must put right."""
        with self._lock:
            shm = self._shm
            if self.trouble is None and shm is not None:
                self.trouble = (
                    self._mend_shm(shm.fd) or self._shm_moved(shm.key) or self._wal_wrong(shm.fd)
                )
            return self.trouble

    def _mend_shm(self, fd: int) -> Trouble | None:
        size = _fsize(fd)
        if size >= self._shm_size:
            self._shm_size = size  # SQLite lengthens it as the WAL grows
            return None
        try:
            _lengthen(fd, self._shm_size)
        except OSError as exc:  # no room: its connections must go before they touch it
            return Trouble(SHM, f"emptied (its length cannot be put back: {exc.strerror})", True)
        self.told.append(
            f"{self.shm} (SQLite's index of the WAL) was emptied while d7tui ran: its length "
            "was put back and SQLite rebuilt it from the WAL; nothing was lost"
        )
        return None

    def _shm_moved(self, key: tuple[int, int]) -> Trouble | None:
        st = _stat(self.shm)
        if st is None:
            return Trouble(SHM, "deleted", True)
        return Trouble(SHM, "replaced", True) if _fid(st) != key else None

    def _wal_wrong(self, shm_fd: int) -> Trouble | None:
        st = _stat(self.wal)
        if self._wal_key is None:
            # None when the store was opened: made since, by this process's first read (or
            # another's): from now on it is the one looked at. Never looked at, it was deleted
            # unseen, and what was committed into it lost.
            if st is not None:
                self._wal_key, self._wal_size = _fid(st), st.st_size
            return None
        if st is None:
            return Trouble(WAL, "deleted", True)  # SQLite still has the old one open, whole
        if _fid(st) != self._wal_key:
            return Trouble(WAL, "replaced", True)
        seen = (st.st_size, st.st_mtime_ns)
        if seen == self._wal_seen:
            return None  # as it was at the last look (most looks: one stat each)
        size = st.st_size
        if size < self._wal_size:
            return Trouble(WAL, "emptied" if size == 0 else "shortened", False)
        if size >= _WAL_HEADER and _magic(self.wal) not in (None, *_WAL_MAGIC):
            return Trouble(WAL, "overwritten", False)
        if size < _indexed_length(shm_fd):
            # Another process appends frames before it lists them: looked at again.
            again = _stat(self.wal)
            size = again.st_size if again is not None else 0
            if size < _indexed_length(shm_fd):
                return Trouble(WAL, "shortened", False)  # by another, before it was seen
        self._wal_size = max(self._wal_size, size)
        self._wal_seen = seen
        return None


def _lengthen(fd: int, size: int) -> None:
    """At least `size` bytes long, never shorter than it is."""
    fallocate = getattr(os, "posix_fallocate", None)
    if fallocate is not None:
        fallocate(fd, 0, size)
    elif os.fstat(fd).st_size < size:  # pragma: no cover - macOS: no posix_fallocate
        os.ftruncate(fd, size)


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _fsize(fd: int) -> int:
    try:
        return os.fstat(fd).st_size
    except OSError:
        return 0


def _magic(wal: Path) -> int | None:
    try:
        with open(wal, "rb") as fh:  # SQLite takes no lock on the WAL itself: safe to close
            head = fh.read(4)
    except OSError:
        return None
    return int.from_bytes(head, "big") if len(head) == 4 else None


def _indexed_length(shm_fd: int) -> int:
    """How long the WAL must be for the frames its index (the `-shm`) lists; 0 if the index
    cannot tell (being rebuilt, or read while it changed). Read with pread, never mapped."""
    try:
        header = os.pread(shm_fd, 96, 0)
    except OSError:
        return 0
    if len(header) < 96 or header[:48] != header[48:] or not header[12]:
        return 0  # two copies that differ: a writer is changing it; isInit 0: being rebuilt
    page, frames = struct.unpack("=HI", header[14:20])  # in the machine's byte order
    page = 65536 if page == 1 else page
    return _WAL_HEADER + frames * (_FRAME_HEADER + page) if frames else 0


# -- other processes ---------------------------------------------------------------------------


def _holders(path: Path, first: int, last: int) -> set[int] | None:
    """The processes holding a POSIX lock on a byte of `path` in [first, last]; None if it
    cannot be told (no /proc/locks: not Linux)."""
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as fh:
            lines = fh.readlines()
    except OSError:
        return None
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return set()
    except OSError:
        return None
    key = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    found: set[int] = set()
    for line in lines:
        parts = line.split()
        if len(parts) < 8 or parts[1] == "->" or parts[5] != key:
            continue  # "->": a lock waited for, not held
        with contextlib.suppress(ValueError):
            pid, start = int(parts[4]), int(parts[6])
            end = last if parts[7] == "EOF" else int(parts[7])
            if pid > 0 and start <= last and end >= first:
                found.add(pid)
    return found


def forked(db: Path) -> list[int]:
    """Other processes that have the database open through an index (`-shm`) that is not the
    one at its path now (deleted or replaced under them): what they write and what a process
    using the file at the path writes overwrite each other."""
    users = _holders(db, _SHARED_FIRST, _SHARED_FIRST + _SHARED_SIZE - 1)
    mapped = _holders(db.with_name(db.name + SHM), _DMS, _DMS)
    if users is None or mapped is None:
        return []
    return sorted(users - mapped - {os.getpid()})


def wal_lost_under_others(db: Path) -> list[int]:
    """Other processes whose index lists more of the WAL than the `-wal` holds now (emptied or
    shortened under them): they read and write pages that are not there."""
    shm = db.with_name(db.name + SHM)
    opened = hold(shm)
    if opened is None:
        return []
    try:
        needed = _indexed_length(opened.fd)
    finally:
        let_go(opened)
    try:
        size = os.stat(db.with_name(db.name + WAL)).st_size
    except OSError:
        size = 0
    if size >= needed:
        return []
    return sorted((_holders(shm, _DMS, _DMS) or set()) - {os.getpid()})


def wal_elsewhere(db: Path) -> list[int]:
    """Other processes using the store that have a `-wal` of it open that is not the file at
    its path (deleted or replaced under them, and not put right yet). SQLite opens the WAL by
    its name: a process opening the store now writes another file than theirs, through the
    same index, and each reads the other's frames from the wrong file (`d7tui add` said it
    added ids no monitor could read, and the monitor could no longer read its own store)."""
    users = _holders(db, _SHARED_FIRST, _SHARED_FIRST + _SHARED_SIZE - 1)
    if not users:
        return []
    here = _stat(db.with_name(db.name + WAL))
    name = f"{os.path.realpath(db)}{WAL}"
    found = []
    for pid in sorted(users - {os.getpid()}):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue  # gone, or another user's: what it holds cannot be told
        for fd in fds:
            link = f"/proc/{pid}/fd/{fd}"
            try:
                if os.readlink(link).removesuffix(" (deleted)") != name:
                    continue
                st = os.stat(link)  # the file it has open, whatever became of its name
            except OSError:
                continue
            if here is None or _fid(st) != _fid(here):
                found.append(pid)
                break
    return found


def problem_at_open(db: Path) -> str | None:
    """Why a process opening the store must not use it now, or None."""
    elsewhere = wal_elsewhere(db)
    if elsewhere:
        return (
            f"{db.name}{WAL} was deleted or replaced under another d7tui ({_pids(elsewhere)}), "
            "which has not written the store back yet: what is written now would be lost"
        )
    lost = wal_lost_under_others(db)
    if lost:
        return (
            f"{db.name}{WAL} was emptied under another d7tui ({_pids(lost)}), which is writing "
            "what it holds to a new store"
        )
    split = forked(db)
    if split:
        return (
            f"{db.name}{SHM} was deleted or replaced under another d7tui ({_pids(split)}), "
            "which has not opened the store again yet: what is written now would be lost"
        )
    return None


def _pids(pids: list[int]) -> str:
    return ("pid " if len(pids) == 1 else "pids ") + ", ".join(map(str, pids))


def wait_for_one_index(db: Path, timeout: float | None = None) -> str | None:
    """Before opening the store to write: wait (up to `timeout`) until every process using it
    does so through the files at its path; None once they do, else why not. The other process
    puts itself right at its next look at the files (a second or so); there is no event to
    wait for across processes, so it is looked at every tenth of a second."""
    deadline = time.monotonic() + (OPEN_WAIT if timeout is None else timeout)
    while True:
        problem = problem_at_open(db)
        if problem is None or time.monotonic() >= deadline:
            return problem
        time.sleep(0.1)


@contextlib.contextmanager
def no_checkpoint(db: Path, own: OpenFile | None = None) -> Iterator[None]:
    """While inside: no connection of this process closing checkpoints the WAL into `db` (nor
    deletes the WAL and index by name). SQLite's last connection to close takes an exclusive
    lock and checkpoints through its index; an index that no longer matches its WAL would write
    wrong pages into the file, and one that misses another process's frames would drop them;
    and then it deletes the `-wal` and `-shm` by their names, which lead to another file's own
    once its file was set aside (another d7tui wrote the store back). A read lock on the
    SHARED range, held through an open file description (OFD locks conflict with SQLite's POSIX
    locks even in the same process), makes that lock fail: SQLite then closes without a
    checkpoint. `own`: the file the connections opened, held open (whatever its name is now),
    else the file at `db`. Without OFD locks (not Linux) nothing is held."""
    setlk: int = getattr(fcntl, "F_OFD_SETLK", 0) if fcntl is not None else 0
    opened = (own if own is not None else hold(db)) if setlk else None
    try:
        if opened is not None:
            with contextlib.suppress(OSError):
                fcntl.fcntl(opened.fd, setlk, _flock(fcntl.F_RDLCK))
        yield
    finally:
        if opened is not None:
            with contextlib.suppress(OSError):
                fcntl.fcntl(opened.fd, setlk, _flock(fcntl.F_UNLCK))
            if opened is not own:
                let_go(opened)


def open_elsewhere(db: Path) -> str | None:
    """What this process has open of the store's `-wal` or `-shm` that is no longer the file at
    its path (deleted or replaced under it): what its connections committed is then in a file
    no other d7tui reads. None if nothing, or if it cannot be told (no /proc/self/fd: not
    Linux). A file renamed away with the database file is found by comparing that one."""
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return None
    real = Path(os.path.realpath(db))  # /proc names files by their real paths
    names = {f"{real}{suffix}": suffix for suffix in (SHM, WAL)}
    here = {suffix: _stat(db.with_name(db.name + suffix)) for suffix in (SHM, WAL)}
    for fd in fds:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
            st = os.fstat(int(fd))
        except (OSError, ValueError):
            continue  # closed meanwhile
        deleted = target.endswith(" (deleted)")
        suffix = names.get(target.removesuffix(" (deleted)"))
        if suffix is None:
            continue
        now = here[suffix]
        if now is None or deleted:
            return f"{db}{suffix} was deleted"
        if _fid(now) != _fid(st):
            return f"{db}{suffix} was replaced"
    return None


def _flock(kind: int) -> bytes:
    # struct flock: l_type, l_whence, l_start, l_len, l_pid (0, as OFD locks want it)
    return struct.pack("hhqqi4x", kind, os.SEEK_SET, _SHARED_FIRST, _SHARED_SIZE, 0)
