"""Time, injectable: the poller and the screen ask a Clock, so tests and screenshots can hold time
still or move it by hand (in step with the simulator's `advance`) instead of sleeping."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable


class Clock:
    """Wall-clock time (unix seconds) and a sleep measured on the same clock."""

    def now(self) -> float:
        raise NotImplementedError

    def sleep(self, seconds: float) -> Awaitable[None]:
        raise NotImplementedError


class SystemClock(Clock):
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> Awaitable[None]:
        return asyncio.sleep(max(0.0, seconds))


class ManualClock(Clock):
    """A clock that moves only when told to. `advance` wakes every sleeper whose time came."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> Awaitable[None]:
        # Not a coroutine: the wake-up time is fixed when sleep() is called, not when the
        # awaiting task first runs (an advance() in between would otherwise be missed).
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if seconds <= 0:
            future.set_result(None)
        else:
            heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), future))
        return future

    def advance(self, seconds: float) -> None:
        self._now += seconds
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)
