"""Keys first: while a key is on its way to the screen, the work that can wait a moment waits.

At 100,000 watched ids the screen's loop is never idle while the first polls come in: slices
of the schedule, answers settled, news applied, and the thread that asks and parses the polls
taking the interpreter's lock in turn. A key pressed then waited behind whatever was queued
before it, and its frame behind more (BENCHMARKS.md §2). Here the terminal's reader closes the
gate the moment a key arrives (in its own thread, before the key even reaches the loop); the
schedule, the answers and the fetch thread stop at their next step; the gate opens again
once the key's frame is written to the terminal, or at the latest `HOLD` seconds after the key,
so that a key held down slows polling, never stops it.

Nothing is lost or reordered: work waits at the gate, then goes on as it was.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

# Seconds a key keeps the gate closed at most: a key is drawn in ~10-30 ms; a key whose frame
# never comes (nothing to draw) lets the work go on after this.
HOLD = 0.08


class KeysFirst:
    """A gate, closed from any thread, waited at from any event loop."""

    def __init__(self, hold: float = HOLD, clock: Callable[[], float] = time.monotonic) -> None:
        self.hold = hold
        self._clock = clock
        self._since: float | None = None  # when the last key came (None: open)
        self._handled = False  # the key is handled: its frame is the next one written
        self._lock = threading.Lock()
        self._waiting: dict[asyncio.AbstractEventLoop, asyncio.Event] = {}

    @property
    def closed(self) -> bool:
        since = self._since
        return since is not None and self._clock() - since < self.hold

    def left(self) -> float:
        """Seconds until the gate opens by itself (0: it is open)."""
        since = self._since
        return 0.0 if since is None else max(0.0, since + self.hold - self._clock())

    def close(self) -> None:
        """A key came (any thread)."""
        self._handled = False
        self._since = self._clock()

    def handled(self) -> None:
        """The key was handled: the next frame written is the one that shows it."""
        self._handled = self._since is not None

    def frame(self) -> None:
        """A frame was written to the terminal: the key's, once it was handled."""
        if self._handled:
            self.open()

    def open(self) -> None:
        """The key is drawn: whatever waits goes on."""
        self._handled = False
        self._since = None
        with self._lock:
            waiting = list(self._waiting.items())
        for loop, event in waiting:
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if loop is running:
                event.set()
            else:
                try:
                    loop.call_soon_threadsafe(event.set)
                except RuntimeError:  # that loop is closed
                    with self._lock:
                        self._waiting.pop(loop, None)

    async def wait(self) -> None:
        """Return at once when open; else when opened, or when the key's hold is over."""
        while self.closed:
            loop = asyncio.get_running_loop()
            with self._lock:
                event = self._waiting.get(loop)
                if event is None:
                    event = self._waiting[loop] = asyncio.Event()
            event.clear()
            left = self.left()
            if left <= 0:  # opened (or over) between the look and the clear
                return
            try:
                await asyncio.wait_for(event.wait(), left)
            except TimeoutError:
                return
