"""`AsyncStore`: the store as the UI loop uses it, never blocking the loop.

Every write goes to ONE writer thread through a FIFO queue, so writes happen in the order they
were asked; whatever is queued when the writer wakes (up to MAX_BATCH) is committed in one
transaction (one fsync), the polls' results in one statement per table (see bulk.py). If one
write fails for its own reason, the batch is done again write by write, each in a savepoint, so
that it does not undo the others. A write returns a `Pending`: await it to know it is on disk, or
ignore it (a failure is then reported through `on_error`). Reads run on one reader thread: with
WAL they never wait for the writer. A read sees every write that was awaited before it, not
those still queued.

Bounded: at most `max_queued` writes wait for the disk; `room()` is what a producer (the poller)
awaits before making more, so a disk slower than the polls slows the polls instead of filling
memory, and a kill -9 loses at most what was queued (README: "the poll in flight").

When the store cannot be written for a reason that may pass (disk full, read-only, locked,
damaged, the file deleted: `StoreUnavailable`), nothing is dropped: the batch is held and tried
again every few seconds, `on_trouble` says so (and again with None once writes work), and
`report_refusal()` tells the Infobip drain not to pull one-time reports it could not keep. A
report body held so is told to its caller at once (the drain stops pulling) and still retried.
What is still held when the store closes is counted in `unsaved` (the report bodies themselves
in `unsaved_reports`, for the caller to keep somewhere else). Meanwhile every held write is
also on disk as it is held, in the held file (`held_log`, heldlog.py) the next open takes in: a
kill -9 while the disk is full loses no id added, no label typed, no reports page; a write the
user made while writes are held wakes the writer, so it is in that file at once.

When the file itself is lost under a running process (emptied in place ...: see moved.py), the
store is written again from what the process holds in memory (`held`, asked on the event loop):
the poll results queued before that moment are in it already and are not written twice.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from d7tui.models import Channel, IdKind, RequestStatus, Transition, clean_label, clean_note
from d7tui.store.core import Store
from d7tui.store.errors import StoreCorruptError, StoreError, StoreUnavailable
from d7tui.store.heldlog import HeldLog
from d7tui.store.journal import Action, add_action, held_action, save_action
from d7tui.store.records import Snapshot, StoredReport, StoredState, WatchRecord, Which
from d7tui.store.reports import ReportParser
from d7tui.store.states import DEFAULT_TIMELINE, Observation

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_BATCH = 500  # writes per transaction: bounds how long one commit holds the write lock
MAX_QUEUED = 2 * MAX_BATCH  # writes waiting for the disk before `room()` makes producers wait
RETRY_FIRST, RETRY_MAX = 0.5, 5.0  # seconds between tries of a held batch (doubling)
FILE_CHECK = 1.0  # seconds between two looks at the report lock's file while writing
IDLE_CHECK = 5.0  # seconds between two looks at the files while nothing is written
HELD_WAIT = 10.0  # seconds the writer waits for the event loop to say what it holds
# Failures that may pass: the writes are held and tried again, not dropped.
_HOLD = (StoreUnavailable, StoreCorruptError)


class Pending(Generic[T]):
    """A queued write: `await` it (on any loop) or `.result()` it (off the loop)."""

    __slots__ = ("_future",)

    def __init__(self, future: concurrent.futures.Future[T]) -> None:
        self._future = future

    def __await__(self) -> Generator[Any, None, T]:
        return asyncio.wrap_future(self._future).__await__()

    def done(self) -> bool:
        return self._future.done()

    def when_done(self, fn: Callable[[], object]) -> None:
        """Call `fn()` once it is settled (written, or failed for good); on the writer thread,
        or here if it is already."""
        self._future.add_done_callback(lambda _: fn())

    def result(self, timeout: float | None = None) -> T:
        return self._future.result(timeout)


@dataclass(eq=False)
class _Op:
    what: str
    future: concurrent.futures.Future[Any]
    fn: Callable[[], Any] | None = None  # a write, run inside the batch's transaction
    observation: Observation | None = None  # or a poll's result, saved with its neighbours'
    barrier: bool = False  # commit right after this one, alone at the end of its batch
    after: Callable[[Any], None] | None = None  # on the writer thread, once committed
    report: tuple[str, bytes] | None = None  # a one-time reports body: told at once if held
    seq: int = 0  # the order of queueing
    action: Action | None = None  # what it keeps, in plain values: kept in a file if never written
    reflected: bool = False  # a result held in memory too (a poll's): written with it
    kept_aside: bool = False  # its action is in the held file
    kept: bool = False  # `kept()`: settled once all before it is on disk, in either form
    led: bool = False  # a poll's result queued while this process led (held the report lock)

    @property
    def writes(self) -> bool:
        return self.fn is not None or self.observation is not None


@dataclass
class WriterStats:
    """What the writer did, for the benchmark and the status line."""

    batches: int = 0
    writes: int = 0
    busy_seconds: float = 0.0  # time spent committing
    stale: int = 0  # poll results not written: queued while leading, the lead lost since


_STOP = object()
_LOOK = object()  # look at the files now: something was found beside the store (sides.py)


def _resolve(
    future: concurrent.futures.Future[Any], value: Any = None, *, error: BaseException | None = None
) -> None:
    """Settle a future once: the writer and `_submit` (a report body while writes are held)
    may both try."""
    with contextlib.suppress(concurrent.futures.InvalidStateError):
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)


class AsyncStore:
    """Wraps an open `Store`; `close()` (or `aclose()`) flushes every queued write."""

    def __init__(
        self,
        store: Store,
        *,
        parse_report: ReportParser | None = None,
        on_error: Callable[[StoreError], None] | None = None,
        on_trouble: Callable[[StoreError | None], None] | None = None,
        on_notice: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
        max_queued: int = MAX_QUEUED,
    ) -> None:
        """`parse_report`: parses a committed Infobip body to index its reports (None: bodies
        are kept raw only). `on_error`: called with every write that failed for its own reason
        (awaited or not). `on_trouble`: called when writes start being held (with why) and
        when they work again (None). `on_notice`: a line about something the store put right
        (its file deleted or replaced under it). All three run on the event loop that queued
        writes (on the writer thread if there is none). `clock`: the time stamped on writes;
        give it the poller's clock. `max_queued`: see `room()`."""
        self.store = store
        self.parse_report = parse_report
        self.on_error = on_error
        self.on_trouble = on_trouble
        self.on_notice = on_notice
        self.clock = clock
        self.max_queued = max_queued
        self.last_error: StoreError | None = None
        self.trouble: StoreError | None = None  # set while writes are held
        self._trouble_said: tuple[str, str] | None = None  # what on_trouble was told last
        self.stats = WriterStats()
        self.unsaved = 0  # writes given up when the store closed while they were held
        self.unsaved_reports: list[tuple[str, bytes]] = []  # (ident, body) among them
        # What they kept (journal.py), in order, for the caller to keep in a file; with a copy of
        # all the process held first when the file itself was lost and could not be put back.
        self.unsaved_actions: list[Action] = []
        self._queue: queue.SimpleQueue[_Op | object] = queue.SimpleQueue()
        # The loop its callbacks run on: the one it was opened on (the screen's), even when
        # writes come from another (polls asked in a thread of their own: fetch_thread.py).
        self._loop: asyncio.AbstractEventLoop | None = None
        with contextlib.suppress(RuntimeError):
            self._loop = asyncio.get_running_loop()
        self._closed = False
        self._stopping = threading.Event()
        self._wake = threading.Event()  # ends the wait before the next try of a held batch
        self._count_lock = threading.Lock()
        self._unsettled = 0  # queued or held, not yet committed or failed for good
        self._room_waiters: list[asyncio.Future[None]] = []
        self._checked = float("-inf")  # when the file was last looked at (perf_counter)
        # What the process holds in memory (see moved.py); set by whoever holds it.
        self.held: Callable[[], Snapshot | None] | None = None
        self._seqs = itertools.count(1)
        self._held_upto: int | None = None  # ops queued before a snapshot of what is held
        # The ids of it written to the store (None: all of it; see Store.from_held).
        self._held_ids: frozenset[str] | None = None
        self._held_asked = 0  # how many times it was asked
        self._reader = concurrent.futures.ThreadPoolExecutor(1, "d7tui-store-read")
        # The held writes on disk as they are held (heldlog.py); gone once the store takes them.
        self.held_log = HeldLog(store.path)
        self._look_queued = threading.Event()
        store.on_sides = self._look_soon
        self._writer = threading.Thread(target=self._run, name="d7tui-store-write", daemon=True)
        self._writer.start()

    def _look_soon(self) -> None:
        # From any thread: the reader found the -shm or -wal touched; the writer puts it right.
        if not self._look_queued.is_set():
            self._look_queued.set()
            self._queue.put(_LOOK)

    # -- queueing ------------------------------------------------------------------------------

    def _submit(
        self,
        what: str,
        fn: Callable[[], T] | None = None,
        *,
        observation: Observation | None = None,
        barrier: bool = False,
        after: Callable[[Any], None] | None = None,
        report: tuple[str, bytes] | None = None,
        action: Action | None = None,
        kept: bool = False,
    ) -> Pending[T]:
        if self._closed:
            raise StoreError(f"{self.store.path}: the store is closed")
        if self._loop is None:
            # Remembered so that callbacks run on the loop (None when called off any loop).
            with contextlib.suppress(RuntimeError):
                self._loop = asyncio.get_running_loop()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._count_lock:
            self._unsettled += 1
        reflected = observation is not None
        op = _Op(what, future, fn, observation, barrier, after, report)
        op.seq, op.reflected, op.action, op.kept = next(self._seqs), reflected, action, kept
        op.led = reflected and self.store.report_lock.held
        self._queue.put(op)
        trouble = self.trouble
        if report is not None and trouble is not None:
            _resolve(future, error=trouble)  # held like the rest; the drain hears it now
        if trouble is not None and observation is None:
            self._wake.set()  # what the user did (or a reports page) goes to the held file now
        return Pending(future)

    @property
    def queued(self) -> int:
        """Writes not on disk yet: queued, being committed, or held."""
        return self._unsettled

    async def room(self) -> None:
        """Returns once fewer than `max_queued` writes wait for the disk. A producer awaits it
        before making more (the poller, before each poll): backpressure instead of memory."""
        loop = asyncio.get_running_loop()
        while self._unsettled >= self.max_queued and not self._closed:
            waiter = loop.create_future()
            self._room_waiters.append(waiter)
            if self._unsettled < self.max_queued:  # the writer may have settled meanwhile
                break
            await waiter

    def _settled(self, count: int) -> None:
        with self._count_lock:
            self._unsettled -= count
            free = self._unsettled < self.max_queued
        if free and self._room_waiters:
            self._call(self._wake_room)

    def _wake_room(self) -> None:
        waiters, self._room_waiters = self._room_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _call(self, fn: Callable[..., object], *args: object) -> None:
        """Run `fn(*args)` on the loop that queued writes (here if there is none)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed meanwhile: nobody to tell
                loop.call_soon_threadsafe(fn, *args)
            return
        fn(*args)

    # -- the writer ----------------------------------------------------------------------------

    def _run(self) -> None:
        held: list[_Op] = []
        delay = RETRY_FIRST
        while True:
            batch = held or self._take()
            if batch is None:
                break
            error = self._attempt_safely(batch)
            if error is None:
                if held:
                    self.held_log.discard()  # all it held is committed now
                held, delay = [], RETRY_FIRST
                self._set_trouble(None)
                continue
            # What was queued meanwhile joins it: a report body behind a held batch must hear
            # at once that it cannot be kept, not when the disk has room again.
            held = self._hold(batch + self._queued_now(), error)
            if self._stopping.is_set():
                # Closing: one more try with everything still queued, then give up.
                rest = held + self._drain()
                if self._attempt_safely(rest) is not None:
                    self._give_up(rest, error)
                break
            self._wake.wait(delay)
            self._wake.clear()
            delay = min(delay * 2, RETRY_MAX)
        self._final_check()

    def _attempt_safely(self, batch: list[_Op]) -> StoreError | None:
        try:
            return self._attempt(batch)
        except BaseException as exc:  # a bug here must not leave callers waiting forever
            log.exception("store writer")
            self._give_up(batch, StoreError(f"{batch[0].what}: {exc}"))
            return None

    def _take(self) -> list[_Op] | None:
        """The next batch: what is queued, up to MAX_BATCH or a barrier; None once stopped."""
        while True:
            try:
                item = self._queue.get(timeout=IDLE_CHECK)
            except queue.Empty:
                self._check_file_quietly()  # idle: nothing else would look
                continue
            if item is _LOOK:
                self._look_queued.clear()
                self._check_file_quietly()
                continue
            if item is _STOP:
                return None
            break
        assert isinstance(item, _Op)
        batch = [item]
        while len(batch) < MAX_BATCH and not batch[-1].barrier:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _LOOK:  # the batch looks at the files first
                self._look_queued.clear()
                continue
            if item is _STOP:
                self._queue.put(_STOP)  # nothing is queued after it: seen on the next take
                break
            assert isinstance(item, _Op)
            batch.append(item)
        return batch

    def _queued_now(self) -> list[_Op]:
        """Everything queued at this moment (not waiting for more)."""
        found: list[_Op] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return found
            if item is _LOOK:
                self._look_queued.clear()
                continue
            if item is _STOP:
                self._queue.put(_STOP)
                return found
            assert isinstance(item, _Op)
            found.append(item)

    def _drain(self) -> list[_Op]:
        rest: list[_Op] = []
        while True:
            item = self._queue.get()
            if item is _LOOK:
                self._look_queued.clear()
                continue
            if item is _STOP:
                return rest
            assert isinstance(item, _Op)
            rest.append(item)

    def _attempt(self, batch: list[_Op]) -> StoreError | None:
        """Commit a batch; None when done (each write settled), else the error that held it."""
        values: list[tuple[Any, BaseException | None]]
        if any(op.writes for op in batch):
            started = time.perf_counter()
            try:
                # The database file before every batch (one stat); its lock file less often.
                lock = started - self._checked >= FILE_CHECK
                self._check_file(lock=lock)
                if lock:
                    self._checked = started
                batch = self._without_reflected(batch)
                try:
                    with self.store.batch():
                        self._without_stale(batch)  # under the write lock: see there
                        values = [(value, None) for value in self._apply(batch)]
                except _HOLD:
                    raise
                except Exception:  # one write failed for its own reason: find it, keep the rest
                    values = self._apply_each(batch)
            except _HOLD as exc:
                return exc
            self.stats.batches += 1
            self.stats.busy_seconds += time.perf_counter() - started
        else:
            values = [(None, None)] * len(batch)
        # Counted before they are settled: whoever awaited them reads the count at once.
        self.stats.writes += sum(op.writes for op in batch)
        for op, (value, error) in zip(batch, values, strict=True):
            self._settle(op, value, error)
        self._settled(len(batch))
        return None

    def _without_reflected(self, batch: list[_Op]) -> list[_Op]:
        """After the store was written again from what the process holds: the results that
        were already in it are settled, not written twice (their transitions would be)."""
        upto, ids = self._held_upto, self._held_ids
        if upto is None:
            return batch
        if any(op.seq > upto for op in batch):  # those queued before are all in it, or done
            self._held_upto = self._held_ids = None
        kept = []
        for op in batch:
            # A result of an id the store was not written from memory for (the copy of the
            # file had it) is not in it yet; a report page's parse is of the file's own body.
            written = ids is None or (
                op.observation is not None and op.observation[0].request_id in ids
            )
            if op.reflected and op.seq < upto and written:
                _resolve(op.future)
                continue
            kept.append(op)
        self.stats.writes += len(batch) - len(kept)
        self._settled(len(batch) - len(kept))
        batch[:] = kept
        return batch

    def _without_stale(self, batch: list[_Op]) -> None:
        """A leader's poll results queued before it lost its lead are not written (settled
        unwritten): it was stopped (kill -STOP, a suspended laptop) with them queued, and
        another monitor that ended its lead leads now; that one read the store when it took
        over and polls those ids itself, so written now their transitions would be stored
        twice, and an older state written over its newer one. What the user did (ids added,
        labels, notes, removals) and the reports pulled are written all the same. Looked at
        inside the transaction: the lead is not lost between the look and the commit without
        the new leader's writes waiting behind this one."""
        lock = self.store.report_lock
        # Lost to another holder only: a lock that cannot even be tried (its file unusable, the
        # desk's database away) leaves this monitor leading on (desk.py), its results kept.
        if not any(op.led for op in batch) or lock.renew() or lock.problem is not None:
            return
        kept = [op for op in batch if not op.led]
        stale = len(batch) - len(kept)
        for op in batch:
            if op.led:
                _resolve(op.future)
        self.stats.stale += stale
        self._settled(stale)
        log.warning("%d poll results not written: another monitor leads now", stale)
        batch[:] = kept

    def _apply(self, batch: Sequence[_Op]) -> list[Any]:
        # In order; consecutive poll results together, in one statement per table.
        values: list[Any] = []
        run: list[Observation] = []
        for op in batch:
            if op.observation is not None:
                run.append(op.observation)
                continue
            if run:
                self.store.save_observations(run)
                values.extend([None] * len(run))
                run = []
            values.append(op.fn() if op.fn is not None else None)
        if run:
            self.store.save_observations(run)
            values.extend([None] * len(run))
        return values

    def _apply_each(self, batch: Sequence[_Op]) -> list[tuple[Any, BaseException | None]]:
        values: list[tuple[Any, BaseException | None]] = []
        with self.store.batch():
            for op in batch:
                try:
                    with self.store.batch():  # a savepoint: a failure undoes this write only
                        values.append((self._apply([op])[0], None))
                except _HOLD:
                    raise
                except Exception as exc:
                    values.append((None, exc))
        return values

    def _settle(self, op: _Op, value: Any, exc: BaseException | None) -> None:
        if exc is not None:
            _resolve(op.future, error=exc)
            self._report(op, exc)
            return
        _resolve(op.future, value)
        if op.after is not None:
            try:
                op.after(value)
            except Exception:  # the write is on disk; what follows must not undo that
                log.exception("after %s", op.what)

    def _hold(self, batch: list[_Op], error: StoreError) -> list[_Op]:
        """Keep a batch that could not be written, to try it again (and in the held file);
        what is kept."""
        self._keep_aside(batch)
        self._set_trouble(error)
        kept = []
        for op in batch:
            if op.writes:
                kept.append(op)
                if op.report is not None:
                    _resolve(op.future, error=error)  # the drain stops pulling at once
            elif op.kept and self.held_log.complete:
                _resolve(op.future, self.held_log.path)
            else:
                _resolve(op.future, error=error)  # a flush: nothing to keep
        self._settled(len(batch) - len(kept))
        return kept

    def _keep_aside(self, batch: Sequence[_Op], first: Sequence[Action] = ()) -> None:
        """The actions of `batch` not in the held file yet, appended to it (after `first`)."""
        new = [op for op in batch if op.action is not None and not op.kept_aside]
        if not (new or first):
            return
        try:
            self.held_log.append([*first, *(op.action for op in new if op.action is not None)])
        except Exception:  # a bug here must not stop the writer: they stay held in memory
            log.exception("held file")
            return
        for op in new:
            op.kept_aside = True

    def _give_up(self, batch: list[_Op], error: StoreError) -> None:
        if self._stopping.is_set() and self.store.lost():
            # Its own file is gone and could not be put back: what the process holds is all
            # there is, and the writes already in it are not kept twice.
            snapshot = self._held_now()
            if snapshot is not None:
                self.unsaved_actions.append(held_action(snapshot))
                self._keep_aside((), [held_action(snapshot)])
                batch = self._without_reflected(batch)
        self._keep_aside(batch)
        for op in batch:
            if op.writes:
                self.unsaved += 1
                if op.report is not None:
                    self.unsaved_reports.append(op.report)
                if op.action is not None:
                    self.unsaved_actions.append(op.action)
            _resolve(op.future, error=error)
        self.last_error = error
        self._settled(len(batch))

    def _set_trouble(self, error: StoreError | None) -> None:
        # Said again when where the held writes are changes (a file, or only memory).
        said = None if error is None else (str(error), self.held_log.said())
        if said == self._trouble_said:
            return
        self._trouble_said = said
        self.trouble = error
        if error is not None:
            log.warning("store writes held: %s", error)
        if self.on_trouble is not None:
            self._call(self.on_trouble, error)

    def _report(self, op: _Op, exc: BaseException) -> None:
        error = exc if isinstance(exc, StoreError) else StoreError(f"{op.what}: {exc}")
        if not isinstance(exc, StoreError):
            log.error("store write %s failed", op.what, exc_info=exc)
        self.last_error = error
        if self.on_error is not None:
            self._call(self.on_error, error)

    # -- the file under us ---------------------------------------------------------------------

    def _check_file(self, *, lock: bool = True) -> None:
        """Before writing: is the file at the path still the one open? If it was deleted or
        replaced, put it right first (see moved.py). Raises StoreUnavailable if it cannot be.
        `lock`: the report lock's file too."""
        moved = self.store.moved() is not None
        if not (moved or lock):
            return
        if moved:
            # The reader thread's connection goes first: it must not outlive the old file.
            self._reader.submit(self.store.drop_connection).result()
        asked = self._held_asked
        try:
            said = self.store.check_file(lock=lock, held=self._held_now)
        except BaseException:
            self._held_upto = None  # not written: nothing queued was in a new store
            raise
        if self._held_asked != asked:
            self._held_ids = self.store.from_held
        if said is not None:
            log.warning("%s", said)
            if self.on_notice is not None:
                self._call(self.on_notice, said)

    def _held_now(self) -> Snapshot | None:
        """What the process holds, asked on its event loop (where it is changed), and which
        queued writes it includes (all those queued before the question)."""
        held = self.held
        if held is None:
            return None

        def ask() -> tuple[Snapshot | None, int]:
            return held(), next(self._seqs)

        loop = self._loop
        if loop is None or loop.is_closed():
            snapshot, upto = ask()
        else:
            answer: concurrent.futures.Future[tuple[Snapshot | None, int]] = (
                concurrent.futures.Future()
            )

            def on_loop() -> None:
                try:
                    answer.set_result(ask())
                except BaseException as exc:  # told to the writer, which says it
                    answer.set_exception(exc)

            try:
                loop.call_soon_threadsafe(on_loop)
                snapshot, upto = answer.result(HELD_WAIT)
            except (RuntimeError, concurrent.futures.TimeoutError):
                return None  # the loop is gone or stuck: nothing can be asked of it
        self._held_upto, self._held_ids = upto, None
        self._held_asked += 1
        return snapshot

    def _check_file_quietly(self) -> None:
        try:
            self._check_file()
        except StoreError as exc:
            self._set_trouble(exc)
        else:
            if self.trouble is not None and self._unsettled == 0:
                self._set_trouble(None)

    def _final_check(self) -> None:
        # Closing: a file deleted after the last write would take everything with it.
        if not self._stopping.is_set() or self.store.moved() is None:
            return
        try:
            self._check_file()
        except StoreError as exc:
            self.last_error = exc
            if self.store.lost() and not any(k == "held" for k, _ in self.unsaved_actions):
                snapshot = self._held_now()
                if snapshot is not None:
                    self.unsaved_actions.insert(0, held_action(snapshot))
                    self._keep_aside((), [held_action(snapshot)])
        except RuntimeError:
            pass

    def flush(self) -> Pending[None]:
        """Resolves once every write queued before it is committed (raises if they are held)."""
        return self._submit("flush", barrier=True)

    def kept(self) -> Pending[Path | None]:
        """Resolves once every write queued before it is on disk: committed (None), or held
        and in the held file (its path); raises if they are held and no disk took them."""
        return self._submit("kept", barrier=True, kept=True)

    def retry_now(self) -> None:
        """Try a held batch again at once (the user freed some disk)."""
        self._wake.set()

    def report_refusal(self) -> str | None:
        """Why Infobip's one-time reports must not be pulled now, in one line; None if they may
        be: this process holds the report lock and the store can commit what is pulled."""
        if self._closed:
            return f"{self.store.path}: the store is closed"
        if not self.store.has_report_lock:
            return self.store.report_lock_refusal()
        if self.trouble is not None:
            return f"Infobip reports are not pulled while they cannot be kept: {self.trouble}"
        return None

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
            action=add_action(request_id, channel, id_kind, label, note, at),
        )

    def remove_watch(self, request_id: str) -> Pending[bool]:
        at = self.clock()
        return self._submit(
            "remove",
            lambda: self.store.remove_watch(request_id, at=at),
            action=("remove", {"request_id": request_id, "at": at}),
        )

    def restore_watch(self, request_id: str) -> Pending[bool]:
        return self._submit(
            "restore",
            lambda: self.store.restore_watch(request_id),
            action=("restore", {"request_id": request_id}),
        )

    def set_label(self, request_id: str, label: str) -> Pending[bool]:
        return self._submit(
            "label",
            lambda: self.store.set_label(request_id, label),
            action=("label", {"request_id": request_id, "label": label}),
        )

    def set_note(self, request_id: str, note: str) -> Pending[bool]:
        return self._submit(
            "note",
            lambda: self.store.set_note(request_id, note),
            action=("note", {"request_id": request_id, "note": note}),
        )

    def set_label_note(
        self,
        request_id: str,
        label: str | None,
        note: str | None,
        *,
        seen: tuple[str, str] | None = None,
        replaced: list[tuple[str, str]] | None = None,
    ) -> Pending[bool]:
        """Both at once, as the user typed them (None: unchanged): one write, one edit if it
        must be kept. `seen`: the label and note the writer believed stored; a field written
        over another text than that (someone else's edit, not seen yet) is put in `replaced`
        as (what, was), in the same transaction as the write, before it settles."""

        def write() -> bool:
            changed = False
            with self.store.batch():
                stored = self.store.watch(request_id) if seen is not None else None
                if stored is not None and seen is not None and replaced is not None:
                    for what, given, was, believed, clean in (
                        ("label", label, stored.label or "", seen[0], clean_label),
                        ("note", note, stored.note or "", seen[1], clean_note),
                    ):
                        if given is not None and was and was not in (clean(believed), clean(given)):
                            replaced.append((what, was))
                if label is not None:
                    changed |= self.store.set_label(request_id, label)
                if note is not None:
                    changed |= self.store.set_note(request_id, note)
            return changed

        return self._submit(
            "label",
            write,
            action=("label_note", {"request_id": request_id, "label": label, "note": note}),
        )

    def set_channel(self, request_id: str, channel: Channel | str | None) -> Pending[bool]:
        value = Channel(channel).value if channel is not None else None
        return self._submit(
            "channel",
            lambda: self.store.set_channel(request_id, value),
            action=("channel", {"request_id": request_id, "channel": value}),
        )

    def archive(self, request_id: str) -> Pending[bool]:
        at = self.clock()
        return self._submit(
            "archive",
            lambda: self.store.archive(request_id, at=at),
            action=("archive", {"request_id": request_id, "at": at}),
        )

    def unarchive(self, request_id: str) -> Pending[bool]:
        at = self.clock()
        return self._submit(
            "unarchive",
            lambda: self.store.unarchive(request_id, at=at),
            action=("unarchive", {"request_id": request_id, "at": at}),
        )

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
        observation = (state, tuple(transitions), when)
        return self._submit(
            "save", observation=observation, action=save_action(state, observation[1], when)
        )

    async def commit_report(self, ident: str, body: bytes) -> None:
        """The `report_sink` of StatusClient: returns once the raw body is on disk.

        The body is committed alone (its own fsync) before anything parses it; parsing and
        indexing its reports follow on the writer thread, after the caller has moved on.
        Raises StoreError if the body could not be committed: the drain then stops pulling
        reports it could not keep. The body is not dropped: it is held and committed as soon
        as the store can (see `report_refusal`).
        """
        received = self.clock()
        data = bytes(body)
        await self._submit(
            "report body",
            lambda: self.store.save_report_body(ident, data, received),
            barrier=True,
            after=lambda body_id: self._parse_saved(body_id, data),
            report=(ident, data),
            action=("report", {"ident": ident, "body": data}),
        )

    def _parse_saved(self, body_id: int, data: bytes) -> None:
        # On the writer thread, right after the body's commit. The body is safe whatever
        # happens here; an index the disk refuses waits in the queue like any write (and a
        # body never parsed at all is parsed at the next open, see open_store).
        parse = self.parse_report
        if parse is None:
            return
        try:
            self.store.parse_body(body_id, data, parse)
        except StoreError:
            future: concurrent.futures.Future[Any] = concurrent.futures.Future()
            with self._count_lock:
                self._unsettled += 1
            # Of this file's body: written again from memory, the body has another id.
            self._queue.put(
                _Op(
                    "report parse",
                    future,
                    lambda: self.store.parse_body(body_id, data, parse),
                    seq=next(self._seqs),
                    reflected=True,
                )
            )

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
        use `aclose()`. Writes still held (the disk still full) are tried once more, then
        given up: counted in `unsaved`, report bodies kept in `unsaved_reports`, what they all kept
        in `unsaved_actions` (for rescue.py)."""
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        self._queue.put(_STOP)
        self._wake.set()
        self._writer.join()
        self._reader.shutdown(wait=True)
        if self._room_waiters:
            self._call(self._wake_room)
        if close_store:
            self.store.close()

    async def aclose(self, *, close_store: bool = True) -> None:
        await asyncio.to_thread(self.close, close_store=close_store)

    async def __aenter__(self) -> AsyncStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
