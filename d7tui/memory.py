"""The monitor's memory: the link between the app and the SQLite store (issue "support-desk
memory"). It restores the watchlist at start and writes every change and every poll result,
always off the UI loop (through `AsyncStore`). No Textual, no sqlite3 here: widgets ask the app,
the app asks this.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from d7tui.channels.infobip import parse_page
from d7tui.clock import Clock
from d7tui.export import ExportCounts, Format, export_to_file
from d7tui.models import Channel, RequestStatus, StoredAnswer, Target, Transition
from d7tui.pollstate import PollUpdate
from d7tui.store import (
    AsyncStore,
    Pending,
    Snapshot,
    Store,
    StoredState,
    StoreError,
    WatchRecord,
    Which,
    open_store,
    remembered_status,
    remembered_statuses,
)
from d7tui.store.changes import Changes
from d7tui.store.core import FirstRows, WatchSummary
from d7tui.store.rescue import farewell
from d7tui.watchlist import Entry

T = TypeVar("T")

if TYPE_CHECKING:  # psycopg only for those who use a shared database
    from d7tui.store.pglisten import Listener


@dataclass(frozen=True, slots=True)
class Remembered:
    """One watched request as the store knew it at start."""

    record: WatchRecord
    state: RequestStatus | None  # the last saved state, with later Infobip reports applied
    stored: StoredState | None
    timeline: list[Transition]


def _remember(store: Store) -> list[Remembered]:
    return _remembered(store, store.load(Which.KEPT))


def _remember_part(store: Store, after: int, count: int) -> tuple[list[Remembered], int]:
    """The next part of what the store remembers (Store.load_part), and where it ended."""
    snapshot, last = store.load_part(after, count)
    return _remembered(store, snapshot), last


def _remembered(store: Store, snapshot: Snapshot) -> list[Remembered]:
    # On the reader thread: one snapshot, then the Infobip reports pulled after its last poll
    # (by this data directory's report-lock holder), so they show even if never polled again.
    remembered = []
    for record in snapshot.watches:
        stored = snapshot.states.get(record.request_id)
        state = _with_reports_of(store, record, stored)
        timeline = snapshot.timelines.get(record.request_id, [])
        remembered.append(Remembered(record, state, stored, timeline))
    return remembered


def _remember_records(store: Store, records: Sequence[WatchRecord]) -> list[Remembered]:
    """Ids another process added or brought back, with what the store remembers of them (an
    id removed and brought back elsewhere has its history): picked up without it, their first
    poll was news again and wrote every "first seen" a second time."""
    stored = store.load_states_of([r.request_id for r in records])
    remembered = []
    for record in records:
        kept = stored.get(record.request_id)
        state = _with_reports_of(store, record, kept)
        timeline = store.transitions(record.request_id) if kept is not None else []
        remembered.append(Remembered(record, state, kept, timeline))
    return remembered


def _with_reports_of(
    store: Store, record: WatchRecord, kept: StoredState | None
) -> RequestStatus | None:
    state = kept.state if kept is not None else None
    if record.poll_channel == Channel.INFOBIP.value:
        state = remembered_status(store, record.target) or state
    return state


def held_snapshot(
    live: Iterable[Entry], archived: Iterable[Entry], news: Sequence[PollUpdate], now: float
) -> Snapshot:
    """What the monitor holds, as the store keeps it: what is written to a new store when the
    file is lost under the monitor (store/moved.py). The poll results not on screen yet
    (`news`) are in it too: the store was given them already."""
    pending: dict[str, list[PollUpdate]] = {}
    for update in news:
        pending.setdefault(update.request_id, []).append(update)
    watches: list[WatchRecord] = []
    states: dict[str, StoredState] = {}
    timelines: dict[str, list[Transition]] = {}
    for entries, archived_at in ((live, None), (archived, now)):
        for entry in entries:
            rid, target = entry.request_id, entry.target
            state, observed, timeline = entry.state, entry.last_poll, list(entry.timeline)
            for update in pending.get(rid, ()):
                if update.state is not None and update.error is None:
                    state, observed = update.stored_state, update.last_poll or update.at
                    timeline.extend(update.transitions)
            resolved = entry.channel if target.channel == "auto" != entry.channel else None
            watches.append(
                WatchRecord(
                    rid,
                    target.channel,
                    target.id_kind,
                    entry.label,
                    entry.note,
                    entry.added_at,
                    resolved,
                    archived_at,
                    None,
                    entry.seq,
                )
            )
            if state is not None and not state.incremental:
                at = observed if observed is not None else entry.added_at
                states[rid] = StoredState(state, at, entry.last_change, None)
            timelines[rid] = timeline
    return Snapshot(watches=watches, states=states, timelines=timelines)


def read_only(path: Path | str | None) -> list[Remembered]:
    """What a store that cannot be opened for writing (a read-only directory) remembers, read
    as `d7tui export` reads it; empty if it cannot be read either."""
    try:
        with open_store(path, readonly=True) as store:
            return _remember(store)
    except StoreError:
        return []


FIRST_ROWS = 500  # the live requests changed last, read and drawn before the first paint


class ListRead:
    """The watchlist read in two steps, on a thread of its own: the first screenful at once
    (`first`: the live ids changed last, sorted by SQLite, and how many there are); every row
    once the first are painted (`rest`), or at once when the whole list is needed (`wait`).
    Read in one step, the 100,000 rows' objects were made before the first paint, and made
    while the screen's code was imported they slowed that too (one interpreter lock)."""

    def __init__(self, store: Store, count: int = FIRST_ROWS) -> None:
        self._store = store
        self._count = count
        self.first: concurrent.futures.Future[FirstRows] = concurrent.futures.Future()
        # Its rows in a box, emptied by whoever takes them: a future keeps its result for as
        # long as it lives (here the session's), and 100,000 rows are some 50 MB.
        self._rest: concurrent.futures.Future[list[list[WatchSummary]]] = (
            concurrent.futures.Future()
        )
        self._go = threading.Event()
        self._wanted = True
        threading.Thread(target=self._read, name="d7tui-list-read", daemon=True).start()

    def _read(self) -> None:
        store = self._store
        try:
            try:
                self.first.set_result(store.first_summaries(self._count))
            except BaseException as exc:
                self.first.set_exception(exc)
                raise
            self._go.wait()
            if self._wanted:
                self._rest.set_result([store.watch_summaries(Which.KEPT)])
            else:
                self._rest.cancel()
        except BaseException as exc:
            if not self._rest.done():
                self._rest.set_exception(exc)
        finally:
            with contextlib.suppress(Exception):
                store.drop_connection()  # this thread ends: its connection with it

    async def rest(self) -> list[WatchSummary]:
        """Every row of the list (live and archived, in the added order), to the first who
        asks (the others get none); StoreError."""
        self._go.set()
        return _taken(await asyncio.wrap_future(self._rest)) or []

    def wait(self) -> list[WatchSummary]:
        """The same, now: blocks until the read in flight is in (an id added within the
        first second of a restart of 100,000 ids must not be taken for a new one)."""
        self._go.set()
        return _taken(self._rest.result()) or []

    def cancel(self) -> None:
        """Not needed (the first rows were all of it, or the monitor ends)."""
        self._wanted = False
        self._go.set()


def _taken(box: list[T]) -> T | None:
    """What `box` holds, handed over once: the box is left empty."""
    return box.pop() if box else None


class EarlyOpen:
    """The store file opened (checked, migrated) and its first rows read in a thread of its
    own, begun before the screen's code is imported: the monitor's first rows waited for the
    imports (~0.7 s), then the open's check of every page (`PRAGMA quick_check`, ~0.3 s on
    the 140 MB a polled session of 100,000 ids leaves), then the list's read (~0.5 s), one
    after the other. Nothing is written here that the open itself would not write; the
    monitor takes the store and its list (`Memory.open`), or `discard` closes them."""

    def __init__(self, path: Path | None, user: str | None) -> None:
        self.path = path
        self._user = user
        # In a box, emptied when taken (as ListRead's rows): this object lives as long as the
        # monitor, and the list's read with it kept 100,000 rows for the session.
        self._done: concurrent.futures.Future[list[tuple[Store, ListRead]]] = (
            concurrent.futures.Future()
        )
        self._taken = False
        threading.Thread(target=self._open, name="d7tui-early-open", daemon=True).start()

    def _open(self) -> None:
        try:
            store = open_store(self.path, parse_report=parse_page, user=self._user)
            store.drop_connection()  # this thread ends: its connection with it
        except BaseException as exc:
            self._done.set_exception(exc)
        else:
            self._done.set_result([(store, ListRead(store))])

    async def take(self) -> tuple[Store, ListRead]:
        """The store and its list being read; raises what the open raised (StoreError ...)."""
        self._taken = True
        opened = _taken(await asyncio.wrap_future(self._done))
        if opened is None:
            raise StoreError("the store opened early was taken already")
        return opened

    def discard(self) -> None:
        """Not taken (the monitor ended before it opened its store): close what was opened."""
        if self._taken:
            return
        self._taken = True
        with contextlib.suppress(BaseException):
            [(store, listing)] = self._done.result()
            listing.cancel()
            store.close()


class Memory:
    """Wraps an `AsyncStore`; every write is queued (never awaited on the UI loop) except where
    the caller needs the answer (archive, export)."""

    def __init__(self, astore: AsyncStore) -> None:
        self.astore = astore
        self.path = astore.store.path
        self.lock_refusal: str | None = None  # set when another process pulls Infobip reports
        self._closed = False
        self.farewell: list[str] = []  # lines to print once the screen is gone
        self._seen_version: int | None = None  # the store's data_version at the last look
        self._seen_seq = 0  # the newest watch row seen (load, then each look)
        self._listener: Listener | None = None  # a shared database's changes, as committed
        self._seen_generation = astore.store.file_generation  # the file those rows are in
        self._seen_mark: int | None = None  # the newest numbered change seen (changes.py)
        # Ids this monitor is writing to the watchlist itself (label, removal ...): a row read
        # before its write is committed is older than the screen, and waits for the next look.
        self._writing: dict[str, int] = {}
        self._writing_lock = threading.Lock()
        self._deferred: set[str] = set()
        # A file's numbered news for one poller per store (None: not followed, see `news`).
        self._news_marks: tuple[int, int] | None = None
        self._news_version: int | None = None
        self.listing: ListRead | None = None  # the list, read in two steps (first_rows)

    @classmethod
    async def open(
        cls,
        path: Path | str | None,
        *,
        clock: Clock,
        on_error: Callable[[StoreError], None],
        on_trouble: Callable[[StoreError | None], None] | None = None,
        on_notice: Callable[[str], None] | None = None,
        reports: bool = True,
        user: str | None = None,
        early: EarlyOpen | None = None,
        first: int = FIRST_ROWS,
    ) -> Memory:
        """Open the store (creating it); raises StoreError with a one-line reason. See
        `AsyncStore` for the callbacks. `reports`: this monitor reads Infobip's one-time reports,
        so it takes the report lock (logs need none: anyone may read them). `early`: the same
        store opened, and its list being read, in a thread begun before (`EarlyOpen`);
        `first`: the rows read first otherwise (`first_rows`)."""
        if early is not None:
            store, listing = await early.take()
        else:
            store = await asyncio.to_thread(
                partial(open_store, path, parse_report=parse_page, user=user)
            )
            listing = ListRead(store, first)
        memory = cls(
            AsyncStore(
                store,
                parse_report=parse_page,
                on_error=on_error,
                on_trouble=on_trouble,
                on_notice=on_notice,
                clock=clock.now,
            )
        )
        memory.listing = listing
        # The lock makes the leader, whatever the report source: it polls for every monitor
        # on the store (a desk's database, or two terminals on one file) and pulls the reports.
        await asyncio.to_thread(memory.astore.try_acquire_report_lock)
        if not store.shared:
            if store.report_lock.problem is None:
                marks, _ = await memory.astore.read(store.news_after, None)
                memory._news_marks = marks
            elif reports:  # the lock file cannot be used: polls as ever, pulls no report
                memory.lock_refusal = memory.astore.report_lock_refusal()
        memory._while_open(on_error, on_trouble, on_notice)
        return memory

    def _while_open(
        self,
        on_error: Callable[[StoreError], None],
        on_trouble: Callable[[StoreError | None], None] | None,
        on_notice: Callable[[str], None] | None,
    ) -> None:
        """The callbacks reach the screen until `close` begins; what the store says while it
        closes (its file put right at the last moment ...) is said on the terminal after."""
        astore = self.astore

        def error(exc: StoreError) -> None:
            if self._closed:
                self.farewell.append(f"store: {exc}")
            else:
                on_error(exc)

        def trouble(exc: StoreError | None) -> None:
            if not self._closed and on_trouble is not None:
                on_trouble(exc)

        def notice(line: str) -> None:
            if self._closed:
                self.farewell.append(line)
            elif on_notice is not None:
                on_notice(line)

        astore.on_error, astore.on_trouble, astore.on_notice = error, trouble, notice

    # -- one poller per store: a desk's database, or one file -----------------------------------

    @property
    def shared(self) -> bool:
        """The store is a desk's database (PostgreSQL, told as committed: `follow`)."""
        return self.astore.store.shared

    @property
    def one_poller(self) -> bool:
        """One monitor on the store leads (polls), the others follow: always on a desk's
        database; on a file whose lock (beside it) can be used, whose news are read (`news`)."""
        return self.shared or self._news_marks is not None

    async def news(self, *, states: bool = True) -> Changes:
        """On a file: the states written (if `states`: a leader wrote them itself) and the
        polls asked for since the last look (cheap when nothing was committed: one number)."""
        marks = self._news_marks
        if marks is None:
            return Changes()
        version = await self.astore.data_version()  # first: a commit after it is seen next time
        if version == self._news_version:
            return Changes()
        self._news_version = version
        read = partial(self.astore.store.news_after, marks, states=states)
        self._news_marks, changes = await self.astore.read(read)
        return changes

    @property
    def leading(self) -> bool:
        return self.astore.has_report_lock

    async def lead(self) -> bool:
        """Keep the lead, or take it if nobody has it; whether this monitor leads now."""
        lock = self.astore.store.report_lock
        if lock.held:
            return await asyncio.to_thread(lock.renew)
        return await asyncio.to_thread(lock.try_acquire)

    @property
    def lead_problem(self) -> str | None:
        """Why the lead could not even be tried (the database cannot be reached), or None."""
        return self.astore.store.report_lock.problem

    async def leader(self) -> str | None:
        """Who leads ("user@host pid N"), None if nobody does; StoreError if the database
        (or the lock file) cannot be asked."""
        return await asyncio.to_thread(self.astore.store.report_lock.leader)

    def leader_quiet_since(self) -> float | None:
        """Since when (time.time()) the leader seen last has given no sign of life (None: it
        has, or the store does not tell)."""
        return self.astore.store.report_lock.quiet_since()

    async def end_silent_leader(self, after: float) -> str | None:
        """End a leader silent for `after` seconds (stopped, frozen); who it was, or None."""
        return await asyncio.to_thread(self.astore.store.report_lock.end_if_silent, after)

    def leader_unended(self) -> str | None:
        """Why the leader could not be ended, were it silent (a desk's leader logged in as
        another database user), in one line; None if it could."""
        return self.astore.store.report_lock.unended

    async def watch_records(self, ids: set[str]) -> list[WatchRecord]:
        """The store's rows of these ids (those it has)."""
        store = self.astore.store

        def read() -> list[WatchRecord]:
            return [r for r in map(store.watch, sorted(ids)) if r is not None]

        return await self.astore.read(read)

    async def ask_to_poll(self, request_ids: Sequence[str]) -> None:
        """Ask the desk's leader to poll these ids now (none: every id); StoreError if the
        database cannot be reached."""
        await self.astore.read(self.astore.store.ask_to_poll, request_ids)

    def follow(
        self,
        on_changes: Callable[[Changes], None],
        on_lost: Callable[[StoreError | None], None],
    ) -> None:
        """Hear of every change committed to the shared database (see store/pglisten.py); the
        callbacks are called in the listener's thread. (A file's are read: `news`.)"""
        if not self.shared:
            return
        from d7tui.store.pglisten import Listener

        self._listener = Listener(self.astore.store, on_changes, on_lost)  # type: ignore[arg-type]
        self._listener.start()

    def holds(self, held: Callable[[], Snapshot | None]) -> None:
        """What the monitor holds: the store is written again from it if its file is lost
        (emptied in place ...) while the monitor runs. Called on the UI loop."""
        self.astore.held = held

    @property
    def warnings(self) -> list[str]:
        return list(self.astore.store.warnings)

    @property
    def notices(self) -> list[str]:
        """Lines about the store to keep on screen (a damaged file set aside at open)."""
        return list(self.astore.store.notices)

    @property
    def pulls_reports(self) -> bool:
        """Whether this process may pull Infobip's one-time reports now (see report_refusal)."""
        return self.report_refusal() is None

    def report_refusal(self) -> str | None:
        """Why Infobip's one-time reports must not be pulled now; None if they may be."""
        return self.astore.report_refusal()

    async def remember(self, records: Sequence[WatchRecord]) -> list[Remembered]:
        """These ids as the store remembers them (states, timelines), in one read."""
        return await self.astore.read(_remember_records, self.astore.store, records)

    async def remembered(self, target: Target) -> RequestStatus | None:
        """What the store knows of an id (Infobip reports pulled earlier applied), no network."""
        return await self.astore.read(remembered_status, self.astore.store, target)

    async def remembered_many(self, targets: Sequence[Target]) -> dict[str, StoredAnswer | None]:
        """`remembered` of many ids, in one read, dated as stored (a desk's follower)."""
        return await self.astore.read(remembered_statuses, self.astore.store, targets)

    @property
    def room(self) -> Callable[[], Awaitable[None]]:
        """What the poller awaits before each poll: room in the store's queue."""
        return self.astore.room

    async def first_rows(self) -> FirstRows:
        """The list's first screenful (`ListRead`); the rest is `listing.rest()`."""
        assert self.listing is not None
        first = await asyncio.wrap_future(self.listing.first)
        self._seen_mark, self._seen_seq = first.mark, first.last_seq
        return first

    async def load_parts(self, count: int) -> AsyncIterator[list[Remembered]]:
        """What the store remembers of every watched id (states, timelines), `count` ids at a
        time, each part one read: at 100,000 ids one read of all of it was some 300 MB held
        at once (its rows, then the same as `Remembered`), and a long wait for the first."""
        after = 0
        while True:
            part, after = await self.astore.read(_remember_part, self.astore.store, after, count)
            if not part:
                return
            self._seen_seq = max(self._seen_seq, after)
            yield part

    async def live_records(self, known: int) -> list[WatchRecord] | None:
        """Live ids the store has and this monitor may not (`d7tui add` from another shell), or
        None when nothing was committed since the last look. `known`: how many live ids the
        monitor has. Only rows added since the last look are read: rereading 100,000 rows
        every few seconds while polls commit is what a monitor must not do. The whole list is
        read only when the store has more live ids than that explains (an id removed here and
        added again from a shell keeps its row)."""
        store = self.astore.store
        if store.file_generation != self._seen_generation:  # another file: its rows all new
            self._seen_generation = store.file_generation
            self._seen_version, self._seen_seq = None, 0
        version = await self.astore.data_version()  # first: a commit after it is seen next time
        if version == self._seen_version:
            return None
        self._seen_version = version
        count, newest = await self.astore.read(store.live_summary)
        new = await self.astore.read(store.watches_after, self._seen_seq)
        self._seen_seq = max(self._seen_seq, newest)
        if count > known + len(new):
            return await self.astore.watches(Which.LIVE)
        return new

    @property
    def numbers_changes(self) -> bool:
        """The store numbers every change to the watchlist (a SQLite file, changes.py): what
        another process changed is read with `changed_watches`. (A desk's database tells its
        changes as they are committed instead, see `follow`.)"""
        return not self.shared and self.astore.store.keeps_changes

    async def changed_watches(self) -> list[WatchRecord]:
        """The watchlist's rows that another process (`d7tui add`, another monitor) or this one
        added or changed since the last look: labels, notes, removals, the archive. Cheap when
        nothing was committed (one number) and when something was (those rows only); the whole
        list only when this monitor fell too far behind. A row of an id this monitor is still
        writing itself waits for the next look (it is older than the screen)."""
        store = self.astore.store
        if store.file_generation != self._seen_generation:  # another file: its numbers
            self._seen_generation = store.file_generation
            self._seen_version, self._seen_mark = None, None
        version = await self.astore.data_version()  # first: a commit after it is seen next time
        if version == self._seen_version and not self._deferred:
            return []
        self._seen_version = version
        mark, records = await self.astore.read(store.changes_after, self._seen_mark)
        if records is None:
            records = await self.astore.watches(Which.ALL)
        self._seen_mark = mark
        again = self._deferred - {r.request_id for r in records}
        if again:
            records = [*records, *await self.watch_records(again)]
        with self._writing_lock:
            writing = set(self._writing)
        self._deferred = {r.request_id for r in records if r.request_id in writing}
        return [r for r in records if r.request_id not in writing]

    # -- writes (queued; failures reach on_error) -----------------------------------------------

    def _write(
        self, write: Callable[[], Pending[Any]], request_id: str | None = None
    ) -> Pending[Any] | None:
        """Queue a write; `request_id`: a write to that id's watchlist row (see `_writing`)."""
        if self._closed:
            return None
        pending = write()
        if request_id is None:
            return pending
        with self._writing_lock:
            self._writing[request_id] = self._writing.get(request_id, 0) + 1

        def written() -> None:
            with self._writing_lock:
                left = self._writing.pop(request_id, 1) - 1
                if left:
                    self._writing[request_id] = left

        pending.when_done(written)
        return pending

    def add(self, target: Target, label: str, added_at: float) -> None:
        self._write(
            lambda: self.astore.add_watch(
                target.request_id,
                target.channel,
                target.id_kind,
                label=label or None,
                added_at=added_at,
            ),
            target.request_id,
        )

    def remove(self, request_id: str) -> None:
        self._write(lambda: self.astore.remove_watch(request_id), request_id)

    def restore(self, request_id: str) -> None:
        self._write(lambda: self.astore.restore_watch(request_id), request_id)

    def set_label_note(
        self,
        request_id: str,
        label: str | None,
        note: str | None,
        *,
        seen: tuple[str, str] | None = None,
        told: Callable[[list[tuple[str, str]]], None] | None = None,
    ) -> None:
        """Write the label and the note given (None: unchanged), as one write. `seen`: what
        the caller believed stored; `told` is called, on this loop once written, with each
        (what, was) the write replaced that was not that (someone else's edit, K5)."""
        if label is None and note is None:
            return
        replaced: list[tuple[str, str]] = []
        pending = self._write(
            lambda: self.astore.set_label_note(
                request_id, label, note, seen=seen, replaced=replaced
            ),
            request_id,
        )
        if pending is None or told is None or seen is None:
            return
        loop = asyncio.get_running_loop()

        def written() -> None:
            if replaced:  # filled before the write settled, on the writer's thread
                with contextlib.suppress(RuntimeError):  # the loop closed: nothing to tell
                    loop.call_soon_threadsafe(told, list(replaced))

        pending.when_done(written)

    def unarchive(self, request_id: str) -> None:
        self._write(lambda: self.astore.unarchive(request_id), request_id)

    def on_update(self, update: PollUpdate, asked: str) -> None:
        """A poll result: its state and transitions; the channel an `auto` id answered on."""
        if update.state is None or update.error is not None or update.state.remembered:
            return  # nothing new was learnt (or only that the API forgot): the saved state stands
        state = update.stored_state  # with its answer's raw bodies
        self._write(lambda: self.astore.save_observation(state, update.transitions))  # type: ignore[arg-type]
        if update.first and asked == "auto" and update.channel != "auto":
            self._write(lambda: self.astore.set_channel(update.request_id, update.channel))

    async def archive_finished(self, final_for: float) -> list[str]:
        if self._closed:
            return []
        return await self.astore.archive_finished(final_for)

    async def export(
        self, fmt: Format, directory: Path, keep_text: bool = False
    ) -> tuple[Path, ExportCounts]:
        # Awaits the queued writes first: the file holds everything shown so far.
        await self.astore.flush()
        return await self.astore.read(
            lambda: export_to_file(self.astore.store, fmt, directory=directory, keep_text=keep_text)
        )

    def held_where(self) -> str:
        """Where the writes held while the store cannot be written are: "written as it comes
        to FILE …", or "ONLY IN MEMORY …" when no disk takes them either."""
        return self.astore.held_log.said()

    async def close(self) -> None:
        """Flush every queued write, release the report lock, close the file. What could not
        be written (the disk still full, the file lost where it cannot be put back) is kept in
        a file the next start takes in (store/rescue.py), and said in `farewell`."""
        if self._closed:
            return
        self._closed = True
        if self.listing is not None:
            self.listing.cancel()
        if self._listener is not None:
            await asyncio.to_thread(self._listener.stop)
        astore = self.astore
        await astore.aclose()
        if astore.unsaved_actions:
            self.farewell.append(
                await asyncio.to_thread(
                    farewell,
                    self.path,
                    astore.unsaved_actions,
                    astore.last_error,
                    astore.held_log,
                )
            )
