"""`AsyncStore`: the store as the UI loop uses it, never blocking the loop.

Every write goes to ONE writer thread through a FIFO queue, so writes happen in the order they
were asked; whatever is queued when the writer wakes is committed in one transaction (one
fsync), each write in its own savepoint so that one failing write does not undo the others.
A write returns a `Pending`: await it to know it is on disk, or ignore it (a failure is then
reported through `on_error`). Reads run on one reader thread: with WAL they never wait for the
writer. A read sees every write that was awaited before it, not those still queued.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from d7tui.models import Channel, IdKind, RequestStatus, Transition
from d7tui.store.core import Store
from d7tui.store.errors import StoreError
from d7tui.store.records import Snapshot, StoredReport, StoredState, WatchRecord, Which
from d7tui.store.reports import ReportParser
from d7tui.store.states import DEFAULT_TIMELINE

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_BATCH = 500  # writes per transaction: bounds how long one commit holds the write lock


class Pending(Generic[T]):
    """A queued write: `await` it (on any loop) or `.result()` it (off the loop)."""

    __slots__ = ("_future",)

    def __init__(self, future: concurrent.futures.Future[T]) -> None:
        self._future = future

    def __await__(self) -> Generator[Any, None, T]:
        return asyncio.wrap_future(self._future).__await__()

    def done(self) -> bool:
        return self._future.done()

    def result(self, timeout: float | None = None) -> T:
        return self._future.result(timeout)


@dataclass(eq=False)
class _Op:
    fn: Callable[[], Any]
    future: concurrent.futures.Future[Any]
    what: str
    barrier: bool = False  # commit right after this one, alone at the end of its batch


_STOP = object()


class AsyncStore:
    """Wraps an open `Store`; `close()` (or `aclose()`) flushes every queued write."""

    def __init__(
        self,
        store: Store,
        *,
        parse_report: ReportParser | None = None,
        on_error: Callable[[StoreError], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`parse_report`: parses a committed Infobip body to index its reports (None: bodies
        are kept raw only). `on_error`: called with every write that failed (awaited or not),
        on the event loop that queued writes (on the writer thread if there is none).
        `clock`: the time stamped on writes; give it the poller's clock."""
        self.store = store
        self.parse_report = parse_report
        self.on_error = on_error
        self.clock = clock
        self.last_error: StoreError | None = None
        self._queue: queue.SimpleQueue[_Op | object] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._reader = concurrent.futures.ThreadPoolExecutor(1, "d7tui-store-read")
        self._writer = threading.Thread(target=self._run, name="d7tui-store-write", daemon=True)
        self._writer.start()

    # -- the writer ----------------------------------------------------------------------------

    def _submit(self, what: str, fn: Callable[[], T], *, barrier: bool = False) -> Pending[T]:
        if self._closed:
            raise StoreError(f"{self.store.path}: the store is closed")
        if self._loop is None:
            # Remembered so that on_error runs on the loop (None when called off any loop).
            with contextlib.suppress(RuntimeError):
                self._loop = asyncio.get_running_loop()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._queue.put(_Op(fn, future, what, barrier))
        return Pending(future)

    def _run(self) -> None:
        stop = False
        while not stop:
            item = self._queue.get()
            if item is _STOP:
                break
            assert isinstance(item, _Op)
            batch = [item]
            while len(batch) < MAX_BATCH and not batch[-1].barrier:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                assert isinstance(item, _Op)
                batch.append(item)
            try:
                self._commit(batch)
            except BaseException as exc:  # a bug here must not leave callers waiting forever
                log.exception("store writer")
                for op in batch:
                    if not op.future.done():
                        op.future.set_exception(StoreError(f"{op.what}: {exc}"))

    def _commit(self, batch: list[_Op]) -> None:
        outcomes: list[tuple[_Op, Any, BaseException | None]] = []
        try:
            with self.store.batch():
                for op in batch:
                    try:
                        with self.store.batch():  # a savepoint: a failure undoes this op only
                            outcomes.append((op, op.fn(), None))
                    except Exception as exc:
                        outcomes.append((op, None, exc))
        except Exception as exc:  # BEGIN or COMMIT failed: nothing of the batch is stored
            error = exc if isinstance(exc, StoreError) else StoreError(str(exc))
            outcomes = [(op, None, error) for op in batch]
        for op, value, exc in outcomes:
            if exc is None:
                op.future.set_result(value)
            else:
                op.future.set_exception(exc)
                self._report(op, exc)

    def _report(self, op: _Op, exc: BaseException) -> None:
        error = exc if isinstance(exc, StoreError) else StoreError(f"{op.what}: {exc}")
        if not isinstance(exc, StoreError):
            log.error("store write %s failed", op.what, exc_info=exc)
        self.last_error = error
        if self.on_error is None:
            return
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed meanwhile: nobody to tell
                loop.call_soon_threadsafe(self.on_error, error)
        else:
            self.on_error(error)

    def flush(self) -> Pending[None]:
        """Resolves once every write queued before it is committed."""
        return self._submit("flush", lambda: None, barrier=True)

    # -- writes --------------------------------------------------------------------------------

    def add_watch(
        self,
        request_id: str,
        channel: str = "auto",
        id_kind: IdKind = IdKind.REQUEST,
        *,
        label: str | None = None,
        note: str | None = None,
        added_at: float | None = None,
    ) -> Pending[bool]:
        at = self.clock() if added_at is None else added_at
        return self._submit(
            "add",
            lambda: self.store.add_watch(
                request_id, channel, id_kind, label=label, note=note, added_at=at
            ),
        )

    def remove_watch(self, request_id: str) -> Pending[bool]:
        at = self.clock()
        return self._submit("remove", lambda: self.store.remove_watch(request_id, at=at))

    def restore_watch(self, request_id: str) -> Pending[bool]:
        return self._submit("restore", lambda: self.store.restore_watch(request_id))

    def set_label(self, request_id: str, label: str) -> Pending[bool]:
        return self._submit("label", lambda: self.store.set_label(request_id, label))

    def set_note(self, request_id: str, note: str) -> Pending[bool]:
        return self._submit("note", lambda: self.store.set_note(request_id, note))

    def set_channel(self, request_id: str, channel: Channel | str | None) -> Pending[bool]:
        return self._submit("channel", lambda: self.store.set_channel(request_id, channel))

    def archive(self, request_id: str) -> Pending[bool]:
        at = self.clock()
        return self._submit("archive", lambda: self.store.archive(request_id, at=at))

    def unarchive(self, request_id: str) -> Pending[bool]:
        at = self.clock()
        return self._submit("unarchive", lambda: self.store.unarchive(request_id, at=at))

    def archive_finished(self, final_for: float) -> Pending[list[str]]:
        now = self.clock()
        return self._submit("archive", lambda: self.store.archive_finished(final_for, now=now))

    def save_observation(
        self,
        state: RequestStatus,
        transitions: Sequence[Transition] = (),
        *,
        at: float | None = None,
    ) -> Pending[None]:
        """Queue the state and transitions of one poll (one transaction, see Store)."""
        when = self.clock() if at is None else at
        items = tuple(transitions)
        return self._submit("save", lambda: self.store.save_observation(state, items, at=when))

    async def commit_report(self, ident: str, body: bytes) -> None:
        """The `report_sink` of StatusClient: returns once the raw body is on disk.

        The body is committed alone (its own fsync) before anything parses it; parsing and
        indexing its reports follow on the writer thread, after the caller has moved on.
        Raises StoreError if the body could not be committed: the drain should then stop
        pulling reports it could not keep.
        """
        received = self.clock()
        data = bytes(body)
        saved = self._submit(
            "report body",
            lambda: self.store.save_report_body(ident, data, received),
            barrier=True,
        )
        parse = self.parse_report
        if parse is not None:
            # Queued now, so it runs right after the commit, in the writer's order.
            self._submit("report parse", lambda: self._parse_saved(saved, data, parse))
        await saved

    def _parse_saved(self, saved: Pending[int], data: bytes, parse: ReportParser) -> None:
        try:
            body_id = saved.result(timeout=0)  # settled: its batch committed before this one
        except Exception:
            return  # the body was not committed (already reported): nothing to index
        self.store.parse_body(body_id, data, parse)

    def reindex_unparsed(self) -> Pending[int]:
        """Parse the bodies a previous run committed but never parsed."""
        parse = self.parse_report
        if parse is None:
            raise StoreError("no report parser was given to this store")
        return self._submit("reindex", lambda: self.store.reindex_unparsed(parse))

    # -- reads ---------------------------------------------------------------------------------

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the reader thread (any read of `self.store`, an export ...)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader, lambda: fn(*args))

    async def load(
        self,
        which: Which = Which.KEPT,
        *,
        with_raw: bool = False,
        timeline_limit: int | None = DEFAULT_TIMELINE,
    ) -> Snapshot:
        return await self.read(
            lambda: self.store.load(which, with_raw=with_raw, timeline_limit=timeline_limit)
        )

    async def data_version(self) -> int:
        return await self.read(self.store.data_version)

    async def watches(self, which: Which = Which.LIVE) -> list[WatchRecord]:
        return await self.read(self.store.watches, which)

    async def load_state(self, request_id: str) -> StoredState | None:
        return await self.read(self.store.load_state, request_id)

    async def transitions(self, request_id: str | None = None) -> list[Transition]:
        return await self.read(self.store.transitions, request_id)

    async def reports_for(self, ident: str) -> list[StoredReport]:
        return await self.read(self.store.reports_for, ident)

    # -- the report lock (a non-blocking flock: fine on the loop) ------------------------------

    def try_acquire_report_lock(self) -> bool:
        return self.store.try_acquire_report_lock()

    @property
    def has_report_lock(self) -> bool:
        return self.store.has_report_lock

    def report_lock_refusal(self) -> str:
        return self.store.report_lock_refusal()

    # -- closing -------------------------------------------------------------------------------

    def close(self, *, close_store: bool = True) -> None:
        """Commit everything queued, stop the threads, close the store. Blocks: from the loop
        use `aclose()`."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._writer.join()
        self._reader.shutdown(wait=True)
        if close_store:
            self.store.close()

    async def aclose(self, *, close_store: bool = True) -> None:
        await asyncio.to_thread(self.close, close_store=close_store)

    async def __aenter__(self) -> AsyncStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
