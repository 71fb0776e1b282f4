"""The report lock on PostgreSQL: a session advisory lock held on a connection of its own.

The server drops it when that connection ends in any way (the process killed with -9, the
laptop closed: the server notices the dead connection), so, as with the file lock, it never
goes stale. The holder names itself in its connection's `application_name`, which others read
from `pg_stat_activity` to say who holds it.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

import psycopg

from d7tui.store.errors import StoreError
from d7tui.store.lock import whoami

if TYPE_CHECKING:
    from d7tui.store.pg import PgStore

LEADER_LOCK = 0x64377476  # the one lock: who polls, writes and pulls one-time reports
KEEPALIVE = (
    ("tcp_keepalives_idle", 5),
    ("tcp_keepalives_interval", 2),
    ("tcp_keepalives_count", 3),
)


class AdvisoryLock:
    def __init__(self, store: PgStore, key: int = LEADER_LOCK) -> None:
        self.store = store
        self.key = key
        self._conn: psycopg.Connection[Any] | None = None
        self.problem: str | None = None  # why the lock could not even be tried
        self.unended: str | None = None  # why the holder's lead could not be ended if silent
        # Renewed from the screen's loop and the store's writer thread at once: two taking it
        # again on two connections would each see the other's lock, and one would step down.
        self._mutex = threading.RLock()

    @property
    def held(self) -> bool:
        return self._conn is not None

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; True if this object holds it now. Never waits."""
        with self._mutex:
            return self._acquire()

    def _acquire(self) -> bool:
        if self._conn is not None:
            return True
        try:
            conn = self.store.connect_raw(name=f"d7tui {whoami(self.store.actor)}")
        except StoreError as exc:
            self.problem = str(exc)
            return False
        self.problem = None
        try:
            # A holder that vanishes without closing (a laptop shut, a network gone) is noticed
            # by the server in about 11 s instead of the system's two hours: the lock is freed.
            for setting, value in KEEPALIVE:
                conn.execute(f"SET {setting} = {value}")
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        except psycopg.Error as exc:
            self.problem = str(self.store.error_of(exc))
            conn.close()
            return False
        if not (row and row[0]):
            conn.close()
            return False
        self._conn = conn
        return True

    def renew(self) -> bool:
        """Still held? A lock whose connection broke (the server restarted) holds nothing: it
        is taken again if nobody else took it meanwhile."""
        with self._mutex:
            conn = self._conn
            if conn is None:
                return False
            try:
                conn.execute("SELECT 1")
                return True
            except psycopg.Error:
                self._conn = None
                with contextlib.suppress(psycopg.Error):
                    conn.close()
            return self._acquire()

    def release(self) -> None:
        with self._mutex:
            conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()  # ending the session drops the lock

    def holder(self, *, strict: bool = False) -> str | None:
        """Who holds the lock ("user@host pid N"), None if nobody does (or, not `strict`, if
        the server cannot be asked; `strict`: StoreError then)."""
        try:
            with self.store.connect_raw() as conn:
                row = conn.execute(
                    "SELECT a.application_name FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = %s "
                    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                    (self.key & 0xFFFFFFFF,),
                ).fetchone()
        except (StoreError, psycopg.Error) as exc:
            if strict:
                raise exc if isinstance(exc, StoreError) else self.store.error_of(exc) from None
            return None
        if not row:
            return None
        return str(row[0] or "another d7tui").removeprefix("d7tui ")

    def leader(self) -> str | None:
        """Who leads ("user@host pid N"), None if nobody does; StoreError if the server
        cannot be asked."""
        return self.holder(strict=True)

    def quiet_since(self) -> float | None:
        """The server ends a silent holder's session (`end_if_silent`): not said before."""
        return None

    def end_if_silent(self, after: float) -> str | None:
        """End the session of a holder that has given no sign of life for `after` seconds, and
        say who it was; None when the holder is alive (or none holds the lock, or it cannot be
        ended: `unended` says why then). A leader renews on its lock's connection every second,
        so the server sees it live; a stopped (`kill -STOP`) or frozen process keeps its
        connection open, and its lock, for ever: the server ends it here and the lock is free
        for a follower. A session of another database user is seen and ended only with that
        user's rights or the roles `pg_read_all_stats` and `pg_signal_backend`."""
        who, holder_user, me = "another d7tui", "?", "?"
        try:
            with self.store.connect_raw() as conn:
                row = conn.execute(
                    "SELECT a.pid, a.application_name, a.usename, current_user, "
                    "a.state IS NULL, "
                    "a.state = 'idle' AND a.state_change < now() - make_interval(secs => %s) "
                    "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = %s "
                    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                    (after, self.key & 0xFFFFFFFF),
                ).fetchone()
                if not row or row[0] == conn.info.backend_pid:
                    self.unended = None
                    return None
                pid, name, holder_user, me, hidden, silent = row
                who = str(name or "another d7tui").removeprefix("d7tui ")
                if hidden:  # its state is not shown to this user: it could not be ended
                    self.unended = unendable(who, holder_user, me)
                    return None
                self.unended = None
                if not silent:
                    return None
                ended = conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()
        except psycopg.errors.InsufficientPrivilege:
            self.unended = unendable(who, holder_user, me)
            return None
        except (StoreError, psycopg.Error):  # the server away: not now
            return None
        if not (ended and ended[0]):
            return None
        return who

    def refusal(self) -> str:
        """What a monitor that does not hold the lock tells its user, in one line."""
        if self.problem is not None:
            return f"Infobip reports are not pulled: {self.problem}"
        who = self.holder()
        return (
            f"{who or 'another d7tui'} leads on {self.store.shown}: it pulls the Infobip reports, "
            "this one shows them"
        )


def unendable(who: str, holder: object, me: object) -> str:
    """Why the lead of `who`, a session of database user `holder`, cannot be ended by `me`,
    and what to do, in one line."""
    return (
        f"{who} leads the desk as database user {holder}, whose sessions user {me} may not "
        "watch or end: if it is stopped, nobody polls until it runs again (one database user "
        f"for the whole desk, or GRANT pg_read_all_stats, pg_signal_backend TO {me})"
    )
