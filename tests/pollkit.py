"""Helpers for the poller and screen tests: waiting on conditions (never bare sleeps), a scripted
fetcher for the corners a server cannot reach, and a poller running on the test's loop."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Protocol

from d7tui.clock import ManualClock
from d7tui.models import Channel, Recipient, RequestStatus, Target, classify_d7
from d7tui.poller import Poller
from d7tui.pollstate import PollConfig, PollUpdate

# How long a wait for a condition may take before the test fails: generous, because it is only
# ever spent when the condition never comes (a failing test), and a loaded 2-core machine running
# the suite in several processes can take seconds for what takes milliseconds when quiet.
WAIT_LIMIT = 30.0


class Pausing(Protocol):
    async def pause(self, delay: float | None = None) -> None: ...


async def until(
    pilot: Pausing | None,
    predicate: Callable[[], bool],
    *,
    timeout: float = WAIT_LIMIT,
    step: float = 0.02,
) -> None:
    """Wait until `predicate()` holds, giving the loop (and the server's thread) a turn between
    checks; fails when it has not held after `timeout` seconds of real time. A time, not a count
    of turns: a turn takes longer on a loaded machine (a screen test's is a frame, a screenshot
    read), so a count that is plenty on a quiet one runs out under load. With a `pilot` (a
    screen test), each turn is the pilot's pause, which also lets the screen catch up. A
    predicate that asserts (`entry` of an id not listed yet) has not held yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
            problem = None
        except AssertionError as exc:  # a look that cannot be made yet (an id not listed yet)
            problem = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout:g} s: {predicate}") from (
                problem
            )
        await (asyncio.sleep(step) if pilot is None else pilot.pause(step))


async def settle(poller: Poller, *, timeout: float = WAIT_LIMIT) -> None:
    """Wait until the poller has nothing due, waiting or in flight."""
    await asyncio.sleep(0)
    await until(None, poller.idle, timeout=timeout)


@dataclass
class ScriptedFetcher:
    """A stand-in fetcher: statuses set by the test, exceptions raised on demand, and a record of
    every call and of how many ran at once."""

    statuses: dict[str, list[str]] = field(default_factory=dict)
    raise_next: dict[str, BaseException] = field(default_factory=dict)
    delay: float = 0.0
    gate: asyncio.Event | None = None
    calls: list[str] = field(default_factory=list)
    running: int = 0
    max_running: int = 0
    running_per_id: dict[str, int] = field(default_factory=dict)
    max_per_id: int = 0

    async def fetch(self, target: Target) -> RequestStatus:
        rid = target.request_id
        self.calls.append(rid)
        self.running += 1
        self.running_per_id[rid] = self.running_per_id.get(rid, 0) + 1
        self.max_running = max(self.max_running, self.running)
        self.max_per_id = max(self.max_per_id, self.running_per_id[rid])
        try:
            if self.gate is not None:
                await self.gate.wait()
            if self.delay:
                await asyncio.sleep(self.delay)
            else:
                await asyncio.sleep(0)
            if rid in self.raise_next:
                raise self.raise_next.pop(rid)
            rows = []
            for i, raw in enumerate(self.statuses.get(rid, ["sent"])):
                phase, final = classify_d7(Channel.SMS, raw)
                rows.append(Recipient(f"m{i}", f"+9715000000{i:02d}", raw, phase, final))
            return RequestStatus(rid, Channel.SMS, tuple(rows))
        finally:
            self.running -= 1
            self.running_per_id[rid] -= 1


@contextlib.asynccontextmanager
async def running_poller(
    client: object, config: PollConfig | None = None, *, clock: ManualClock | None = None
) -> AsyncIterator[tuple[Poller, ManualClock, list[PollUpdate]]]:
    clock = clock or ManualClock(1_700_000_000.0)
    updates: list[PollUpdate] = []
    poller = Poller(client, config or PollConfig(workers=4), clock=clock, on_update=updates.append)  # type: ignore[arg-type]
    task = asyncio.create_task(poller.run())
    try:
        yield poller, clock, updates
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
