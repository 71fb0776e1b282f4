"""Who holds SQLite's write lock on the store, and whether that process is stopped.

A process stopped (`kill -STOP`, a debugger, a laptop suspended with the home directory shared)
in the middle of a write keeps SQLite's write lock for as long as it stays stopped: hours. No
other process can write meanwhile, and SQLite says only "database is locked", after its busy
timeout. The lock is a POSIX lock on one byte of the `-shm` (WAL_WRITE_LOCK: the first of its
lock bytes, at 120), which /proc/locks names with its holder's pid (Linux; elsewhere nothing is
known and the words stay SQLite's). A stopped holder is said at once, by pid and command,
with what to do: nothing waits the busy timeout for a process that cannot let go.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from d7tui.store.sides import SHM
from d7tui.store.sides import _holders as holders

WRITE_LOCK = 120  # WALINDEX_LOCK_OFFSET + WAL_WRITE_LOCK, in SQLite's wal.c


class Writer(NamedTuple):
    """Another process holding the write lock."""

    pid: int
    command: str  # its command name ("d7tui", "python3"), "" if unknown
    stopped: bool  # stopped (SIGSTOP, SIGTSTP, a debugger): it lets go only once it runs

    @property
    def named(self) -> str:
        return f"pid {self.pid} ({self.command})" if self.command else f"pid {self.pid}"


def writer(db: Path) -> Writer | None:
    """The other process holding the store's write lock now, None if none does (or it cannot
    be told)."""
    pids = (holders(db.with_name(db.name + SHM), WRITE_LOCK, WRITE_LOCK) or set()) - {os.getpid()}
    if not pids:
        return None
    pid = min(pids)  # one at a time holds it: two are a moment of handing over
    return Writer(pid, _command(pid), _stopped(pid))


def stopped_writer(db: Path) -> Writer | None:
    """The holder of the store's write lock if it is a stopped process, else None."""
    found = writer(db)
    return found if found is not None and found.stopped else None


def said(found: Writer) -> str:
    """Who holds the write lock, and (stopped) what it means and what to do, in one line."""
    if not found.stopped:
        return f"{found.named} holds the database locked"
    return (
        f"{found.named} holds its write lock and is stopped (ctrl+z, kill -STOP, a suspended "
        f"laptop): nothing can be saved until it runs again (kill -CONT {found.pid}, or fg in "
        "its terminal) or is quit"
    )


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def _stopped(pid: int) -> bool:
    # /proc/PID/stat: "pid (comm) S ...": the state follows the last ")" (comm may hold any).
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return False
    rest = stat.rpartition(")")[2].split()
    return bool(rest) and rest[0] in ("T", "t")
