"""Polls asked and answered on an event loop of their own, in a thread of their own.

At 10,000 watched ids the monitor asks a few hundred requests a second. On the screen's loop,
each is aiohttp's request machinery, a JSON body read and parsed into models and its status
derived: callbacks that a key waits behind (the profile of `bench/monitor.py --spy` showed a
third of the UI loop there). Here the fetcher runs on a loop in a thread, and the screen's loop
gets one ready-made `RequestStatus` (or `ChannelError`) per poll: the poller's schedule and the
screen stay where they were, only the asking and the parsing move.

The wrapped fetcher is built on its own loop (its HTTP session belongs there); whatever it
calls back (`on_first_reports` ...) must hop back to the screen's loop itself.

Calls and answers cross between the loops in batches: a loop is woken (a byte written to its
self-pipe) only when the first of a batch arrives, and takes all that came by the time it runs.
One wake-up per poll each way cost the screen's loop a write, a read and, each time, a wait to
take the GIL back from the other thread: as much of its time as drawing the screen, at a few
hundred polls a second (py-spy, 10,000 ids).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import threading
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from d7tui.errors import ChannelError
from d7tui.models import RequestStatus, Target

T = TypeVar("T")
READY_WAIT = 10.0  # seconds to wait for the thread to build its fetcher


class ThreadableFetcher(Protocol):
    settings: Any
    engine: Any

    async def fetch(self, target: Target) -> RequestStatus: ...

    async def fetch_many(
        self, targets: Sequence[Target]
    ) -> Mapping[str, RequestStatus | ChannelError]: ...

    def batch_key(self, target: Target) -> str | None: ...

    def reports_in_flight(self) -> int: ...

    async def reports_kept(self) -> None: ...

    async def aclose(self) -> None: ...


@dataclass(eq=False)
class _Call(Generic[T]):
    """One call crossing to the thread and its answer crossing back."""

    work: Coroutine[Any, Any, T]
    future: asyncio.Future[T]  # on the caller's loop
    task: asyncio.Task[T] | None = None  # on the thread's loop
    cancelled: bool = False  # by the caller, before the thread started it


class FetchThread:
    """A fetcher (fetch, fetch_many, batch_key) whose calls run on a loop in a thread; awaited
    from any other loop. Cancelling the awaiting task cancels the call in the thread."""

    def __init__(self, build: Callable[[], ThreadableFetcher], name: str = "d7tui-fetch") -> None:
        self._loop = asyncio.new_event_loop()
        ready: concurrent.futures.Future[ThreadableFetcher] = concurrent.futures.Future()
        self._lock = threading.Lock()
        self._inbox: list[_Call[Any]] = []  # calls the thread has not taken yet
        # Answered calls, by the loop waiting for them, not handed back yet.
        self._outboxes: dict[asyncio.AbstractEventLoop, list[_Call[Any]]] = {}
        # Awaited on the thread's loop before a call starts: a key on its way to the screen
        # does not share the interpreter with the polls' parsing (keys_first.py).
        self.make_way: Callable[[], Awaitable[None]] | None = None
        self._thread = threading.Thread(target=self._run, args=(build, ready), name=name)
        self._thread.daemon = True  # never holds the process open (the app closes it anyway)
        self._thread.start()
        try:
            self.client = ready.result(READY_WAIT)
        except BaseException:
            self._stop()
            raise

    def _run(
        self,
        build: Callable[[], ThreadableFetcher],
        ready: concurrent.futures.Future[ThreadableFetcher],
    ) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        try:
            ready.set_result(build())
        except BaseException as exc:
            ready.set_exception(exc)
        else:
            loop.run_forever()
        try:
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    async def _there(self, work: Coroutine[Any, Any, T]) -> T:
        call: _Call[T] = _Call(work, asyncio.get_running_loop().create_future())
        with self._lock:
            self._inbox.append(call)
            first = len(self._inbox) == 1
        if first:
            try:
                self._loop.call_soon_threadsafe(self._take_calls)
            except RuntimeError:  # the thread's loop is closed: the app is ending
                with self._lock:
                    stranded, self._inbox = self._inbox, []
                for other in stranded:
                    other.work.close()
                    if other is not call:
                        other.future.get_loop().call_soon_threadsafe(_refuse, other)
                raise
        try:
            return await call.future
        except asyncio.CancelledError:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._cancel_there, call)
            raise

    def _take_calls(self) -> None:
        """On the thread's loop: start every call that came."""
        with self._lock:
            calls, self._inbox = self._inbox, []
        for call in calls:
            if call.cancelled:
                call.work.close()
                continue
            work = call.work if self.make_way is None else _after(self.make_way, call.work)
            call.task = self._loop.create_task(work)
            call.task.add_done_callback(functools.partial(self._answered, call))

    def _cancel_there(self, call: _Call[Any]) -> None:
        """On the thread's loop: the caller gave up on the call."""
        if call.task is not None:
            call.task.cancel()
        else:
            call.cancelled = True

    def _answered(self, call: _Call[Any], _: object = None) -> None:
        """On the thread's loop: hand the answer back to the caller's loop."""
        loop = call.future.get_loop()
        with self._lock:
            box = self._outboxes.setdefault(loop, [])
            box.append(call)
            first = len(box) == 1
        if first:
            with contextlib.suppress(RuntimeError):  # the caller's loop is closed
                loop.call_soon_threadsafe(self._hand_back, loop)

    def _hand_back(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the caller's loop: every answer that came, to the calls waiting for it."""
        with self._lock:
            calls = self._outboxes.pop(loop, [])
        for call in calls:
            future, task = call.future, call.task
            if task is None:
                continue
            if future.done():  # the caller gave up meanwhile: its error is nobody's
                if not task.cancelled():
                    task.exception()
                continue
            if task.cancelled():
                future.cancel()
            elif (error := task.exception()) is not None:
                future.set_exception(error)
            else:
                future.set_result(task.result())

    # -- the fetcher ---------------------------------------------------------------------------

    async def fetch(self, target: Target) -> RequestStatus:
        return await self._there(self.client.fetch(target))

    async def fetch_many(
        self, targets: Sequence[Target]
    ) -> Mapping[str, RequestStatus | ChannelError]:
        return await self._there(self.client.fetch_many(list(targets)))

    def batch_key(self, target: Target) -> str | None:
        return self.client.batch_key(target)  # pure: no need to cross

    @property
    def engine(self) -> Any:
        """The wrapped fetcher's engine, to be read (requests in flight), never used from
        another loop: its session belongs to the thread's."""
        return self.client.engine

    @property
    def settings(self) -> Any:
        return self.client.settings

    @settings.setter
    def settings(self, settings: Any) -> None:
        self.client.settings = settings  # one assignment: the next request reads the new one

    # -- the end -------------------------------------------------------------------------------

    def reports_in_flight(self) -> int:
        return self.client.reports_in_flight()

    async def reports_kept(self) -> None:
        await self._there(self.client.reports_kept())

    async def aclose(self) -> None:
        try:
            with contextlib.suppress(RuntimeError):
                await self._there(self.client.aclose())
        finally:
            await asyncio.to_thread(self._stop)

    def _stop(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(READY_WAIT)


async def _after(first: Callable[[], Awaitable[None]], work: Coroutine[Any, Any, T]) -> T:
    """`work`, once `first` is done (`work` closed, never started, if that is cancelled)."""
    try:
        await first()
    except BaseException:
        work.close()
        raise
    return await work


def _refuse(call: _Call[Any]) -> None:
    if not call.future.done():
        call.future.set_exception(RuntimeError("the fetch thread has ended"))
