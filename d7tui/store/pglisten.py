"""Follow a shared database: what other monitors (and `d7tui add`) commit, as it is committed.

A thread holds one connection that LISTENs on the channels the store's triggers NOTIFY (see
`pg.py`), gathers what arrives for a moment (a leader's batch of 500 polls is one call, not 500)
and hands it on. When the connection breaks (the server restarted, the network went) it
says so, connects again every second, and once back hands on `everything=True`: what was
committed meanwhile was told to nobody, so the follower reads it all again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psycopg

from d7tui.store.changes import Changes
from d7tui.store.errors import StoreError
from d7tui.store.pg import ASK_ALL, POLL_CHANNEL, STATE_CHANNEL, WATCH_CHANNEL

if TYPE_CHECKING:
    from d7tui.store.pg import PgStore

GATHER = 0.05  # seconds of notifications handed on together
RETRY = 1.0  # seconds between attempts to connect again


__all__ = ["Changes", "Listener"]


class Listener:
    def __init__(
        self,
        store: PgStore,
        on_changes: Callable[[Changes], None],
        on_lost: Callable[[StoreError | None], None] | None = None,
    ) -> None:
        """`on_changes` and `on_lost` (an error when the connection broke, None once it is
        back) are called in the listener's thread."""
        self.store = store
        self.on_changes = on_changes
        self.on_lost = on_lost
        self._stop = threading.Event()
        self._conn: psycopg.Connection[Any] | None = None
        self._thread = threading.Thread(target=self._run, name="d7tui-listen", daemon=True)
        self.ready = threading.Event()  # listening (the first time)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        lost = False
        while not self._stop.is_set():
            try:
                conn = self.store.connect_raw(name="d7tui listener")
            except StoreError as exc:
                if not lost and self.on_lost is not None:
                    self.on_lost(exc)
                lost = True
                self._stop.wait(RETRY)
                continue
            try:
                with conn:
                    conn.execute(f"LISTEN {STATE_CHANNEL}")
                    conn.execute(f"LISTEN {WATCH_CHANNEL}")
                    conn.execute(f"LISTEN {POLL_CHANNEL}")
                    self.ready.set()
                    if lost:
                        lost = False
                        if self.on_lost is not None:
                            self.on_lost(None)
                        self.on_changes(Changes(everything=True))
                    self._listen(conn)
            except psycopg.Error as exc:
                if self._stop.is_set():
                    return
                if not lost and self.on_lost is not None:
                    self.on_lost(self.store.error_of(exc))
                lost = True
                self._stop.wait(RETRY)

    def _listen(self, conn: psycopg.Connection[Any]) -> None:
        while not self._stop.is_set():
            changes = Changes()
            heard = False
            for note in conn.notifies(timeout=0.5, stop_after=1):
                heard = True
                self._take(changes, note)
            if not heard:
                # notifies() returns quietly on a broken connection: make sure it is not.
                conn.execute("SELECT 1")
                continue
            for note in conn.notifies(timeout=GATHER):  # what came with it
                self._take(changes, note)
            if changes:
                self.on_changes(changes)

    def _take(self, changes: Changes, note: psycopg.Notify) -> None:
        if note.pid in self.store.own_sessions:
            return  # this monitor's own write: it knows
        if note.channel == POLL_CHANNEL:
            if note.payload == ASK_ALL:
                changes.asked_all = True
            else:
                changes.asked.add(note.payload)
            return
        into = changes.states if note.channel == STATE_CHANNEL else changes.watches
        into.add(note.payload)
