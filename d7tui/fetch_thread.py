"""Polls asked and answered on an event loop of their own, in a thread of their own.

At 10,000 watched ids the monitor asks a few hundred requests a second. On the screen's loop,
each is aiohttp's request machinery, a JSON body read and parsed into models and its status
derived: callbacks that a key waits behind (the profile of `bench/monitor.py --spy` showed a
third of the UI loop there). Here the fetcher runs on a loop in a thread, and the screen's loop
gets one ready-made `RequestStatus` (or `ChannelError`) per poll: the poller's schedule and the
screen stay where they were, only the asking and the parsing move.

The wrapped fetcher is built on its own loop (its HTTP session belongs there); whatever it
calls back (`on_first_reports` ...) must hop back to the screen's loop itself.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, Protocol, TypeVar

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

    async def aclose(self) -> None: ...


class FetchThread:
    """A fetcher (fetch, fetch_many, batch_key) whose calls run on a loop in a thread; awaited
    from any other loop. Cancelling the awaiting task cancels the call in the thread."""

    def __init__(self, build: Callable[[], ThreadableFetcher], name: str = "d7tui-fetch") -> None:
        self._loop = asyncio.new_event_loop()
        ready: concurrent.futures.Future[ThreadableFetcher] = concurrent.futures.Future()
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
        try:
            future = asyncio.run_coroutine_threadsafe(work, self._loop)
        except RuntimeError:  # the thread's loop is closed: the app is ending
            work.close()
            raise
        return await asyncio.wrap_future(future)

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
