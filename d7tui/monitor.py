"""What the monitor does, without a screen: the live list and the archive, the poller's view of
them, and the store behind both.

Adding and removing ids (and undoing it), labels and notes, the archive, ids another shell added
with `d7tui add`, taking over Infobip's reports when the other monitor ends, exports and a reload
of the settings are all here, tested with plain pytest (tests/test_monitor.py). The Textual app
(ui/app.py) owns one `Monitor`, runs its timers and workers, and redraws the screen after it: the
monitor tells what happened through `say` and hands back what changed, and knows nothing about
widgets.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Literal

from d7tui import heap
from d7tui.channels.infobip import parse_page
from d7tui.clock import Clock
from d7tui.config import ConfigError, Settings
from d7tui.held_writes import HeldWrites, Taken
from d7tui.memory import (
    FIRST_ROWS,
    EarlyOpen,
    ListRead,
    Memory,
    Remembered,
    held_snapshot,
    read_only,
)
from d7tui.models import IdKind, Target
from d7tui.output import plural
from d7tui.poller import Poller
from d7tui.pollstate import Fetcher, NewsBatch, PollUpdate, Watch, WatchStatus
from d7tui.safety import error_line, one_line, whole_line
from d7tui.store import StoreError, StoreUnavailable, WatchRecord
from d7tui.store.commands import Replaced, local_place, open_store, os_user
from d7tui.store.core import FirstRows, WatchSummary
from d7tui.store.journal import POLLED, counted
from d7tui.store.states import without_gc
from d7tui.watchlist import Entry, Watchlist

# Remembered requests filled in and handed to the poller in one turn of the loop: a part read
# from the store (2,000) took 40-170 ms of the screen's loop at 100,000 ids.
FILL_SLICE = 250
FILL_PAUSE = 0.002  # seconds between two: a key takes a few turns of the loop to be drawn

Severity = Literal["information", "warning", "error"]
Say = Callable[[str, Severity], None]
_ID_KINDS = {kind.value: kind for kind in IdKind}  # a stored kind, without an Enum call
NO_ROWS = FirstRows([], 0, 0, 0, 0)  # no store: nothing remembered to draw


DESK_BACK = "The desk's database answers again"
DESK_RETRY = 5.0  # seconds between two tries of a desk's database that was away at start


def _hand_to(url: str, user: str | None, held: HeldWrites, taken: Taken) -> list[str]:
    """What was `taken` from `held`, written to the desk's database at `url` (blocks; raises
    StoreError); what opening it said (held writes of other sessions taken in)."""
    with open_store(url, parse_report=parse_page, user=user) as store:
        held.hand_over(taken, store, parse_page)
        return list(store.warnings)


class Monitor:
    def __init__(
        self,
        settings: Settings,
        poller: Poller,
        *,
        clock: Clock,
        archive_after: float,
        say: Say,
        reload: Callable[[], Settings] | None = None,
    ) -> None:
        self.settings = settings
        self.poller = poller
        self.clock = clock
        self.archive_after = archive_after
        self.say = say
        self.reload = reload
        self.live = Watchlist(stuck_after=settings.stuck_after, clock=clock.now)  # polled
        # Final for a while: kept, shown with `A`, not polled.
        self.archived = Watchlist(stuck_after=settings.stuck_after, clock=clock.now)
        self.memory: Memory | None = None
        self.client: Fetcher | None = None  # the status client (its settings follow a reload)
        self.notices: list[str] = []  # lines the banner keeps showing (the store, the lock)
        self.no_memory = "this session has no store"  # why, when it has none
        self._read_only: list[Remembered] = []  # a store that can only be read: shown, not kept
        # The store's list, read in two steps (sketch_first, then read_rest): the rest being
        # read, the rows read and not drawn yet, those drawn first or out of turn (sketch_these;
        # never drawn again: one may have been removed meanwhile), where each list's rows go,
        # and the newest row then.
        self._listing: ListRead | None = None
        self._unsketched: list[WatchSummary] | None = None
        self._sketched_to = 0  # the rows before this one are drawn (sketch_more)
        self._drawn_first: set[str] = set()
        self._places = (0, 0)
        self._last_seq = 0
        self._live_at_start = 0  # live ids in the store's list when it was first read
        self.held: HeldWrites | None = None  # what is done meanwhile: kept in a file at quit
        # Started while its desk's database could not be reached: its URL (what is held is
        # handed to it once it answers: `hand_over_held`), and whether it answers now.
        self.held_for_desk: str | None = None
        self._desk_back = False
        self._handing = False
        self._handover: asyncio.Future[bool] | None = None
        self._not_remembering: str | None = None  # the banner's line while it is away
        self._open_with: Callable[..., Awaitable[Memory]] | None = None  # Memory.open, as at start
        # Removed requests, newest last (and whether they came from the archive): `undo`.
        self._removed: list[tuple[Entry, Watch | None, bool]] = []
        # Poll results on their way to the screen; `on_news` is given each batch as it opens
        # (with its first result), the results that follow join it until it is taken.
        self._batch: NewsBatch | None = None
        self.on_news: Callable[[NewsBatch], None] = lambda batch: None
        # The screen hears of a result first, then the store (the order of the hooks).
        self.poller.hooks.on_update.append(self._poll_update)
        self.poller.hooks.on_update.append(self._save_update)
        # On a desk's shared database (the app's DeskLink): a follower's answers came from the
        # database and are not written back; who did what is kept and shown.
        self.following: Callable[[], bool] = lambda: False
        self.shows_who = False
        self.user = settings.user or os_user()  # kept with what this monitor's user does

    # -- the store ---------------------------------------------------------------------------

    async def open_memory(
        self,
        path: Path | str | None,
        *,
        reports: bool,
        on_error: Callable[[StoreError], None],
        on_trouble: Callable[[StoreError | None], None],
        on_notice: Callable[[str], None],
        early: EarlyOpen | None = None,
        first: int = FIRST_ROWS,
    ) -> FirstRows:
        """Open the store and read the list from it (see `Memory.open` for the callbacks;
        `early`: opened already, in a thread begun before the screen's imports); the list's
        first `first` rows (sketch_first), the rest being read (read_rest);
        what it said is said, and kept in `notices`. A store that cannot be opened is kinder
        than exiting: the monitor works, it only forgets when it ends."""
        # Kept: a desk's database away now is opened the same way once it answers (rejoin_desk).
        self._open_with = partial(
            Memory.open,
            user=self.user,
            clock=self.clock,
            on_error=on_error,
            on_trouble=on_trouble,
            on_notice=on_notice,
            reports=reports,
        )
        try:
            self.memory = await self._open_with(path, early=early, first=first)
            summaries = await self.memory.first_rows()
        except StoreError as exc:
            if self.memory is not None:
                with contextlib.suppress(Exception):
                    await self.memory.close()
            self.memory = None
            self.no_memory = f"this session has no store ({error_line(exc)})"
            desk = isinstance(path, str) and "://" in path
            # What it holds is still shown (read as `d7tui export` reads it), only not kept; a
            # desk's database that cannot be reached is not asked again (a connect timeout).
            if not (desk and isinstance(exc, StoreUnavailable)):
                self._read_only = await asyncio.to_thread(read_only, path)
            shown = f": its {plural(len(self._read_only), 'request')} shown"
            # Held, and kept at quit, for the next open of that store: a file's, or a desk
            # database's that could not be reached (its held writes are kept under a name of
            # its own in the data directory, taken in by the next d7tui that reaches it).
            db = local_place(path)
            if desk:  # the data directory may be new: nothing else of a desk's is in it
                with contextlib.suppress(OSError):
                    db.parent.mkdir(parents=True, exist_ok=True)
            self.held = HeldWrites(db, exc, on_change=self._held_nowhere)
            kept = (
                "; what you add or edit is held and written as you go to a file the next "
                + (
                    "d7tui that reaches the database (this one, once it answers)"
                    if desk
                    else "d7tui"
                )
                + " takes in"
            )
            if desk and isinstance(exc, StoreUnavailable):
                self.held_for_desk = str(path)
            self._not_remembering = (
                f"Not remembering this session: {error_line(exc)}"
                + (shown if self._read_only else "")
                + kept
            )
            self.notices.append(self._not_remembering)
            return NO_ROWS
        self._listing = self.memory.listing
        self._adopt(self.memory)
        return summaries

    def _adopt(self, memory: Memory) -> None:
        """The store opened is this monitor's: what it says is said, and kept in `notices`."""
        memory.holds(
            lambda: held_snapshot(self.live, self.archived, self._waiting(), self.clock.now())
        )
        for warning in memory.warnings:  # whole: held writes taken in name their file
            self.say(whole_line(warning), "warning")
        for notice in memory.notices:
            self.notices.append(one_line(notice))
        if memory.lock_refusal:
            memory.lock_refusal = one_line(memory.lock_refusal)
            self.notices.append(memory.lock_refusal)

    def _held_nowhere(self, why: str | None) -> None:
        """What the user does can be kept on no disk (why), or can again (None): the banner
        says it as long as it lasts."""
        self.notices[:] = [n for n in self.notices if not n.startswith(HELD_NOWHERE)]
        if why is not None:
            line = (
                f"{HELD_NOWHERE}: no disk takes the held file either ({why}): what you add or "
                "edit is lost if d7tui is killed or crashes; quitting tries once more"
            )
            self.notices.append(line)
            self.say(line, "error")

    async def hand_over_held(self) -> bool:
        """Started while its desk's database could not be reached: once it answers, what is
        held is written to it (and from then on, at each call), and said. Whether the banner
        changed."""
        url, held = self.held_for_desk, self.held
        if url is None or held is None or self._handing:
            return False
        self._handing = True
        # A task of its own, shielded: a caller cancelled (the app quitting) does not cut it
        # halfway, with what it took written and held again both; `settle_held` waits for it.
        self._handover = asyncio.ensure_future(self._hand_over(url, held, held.take()))
        return await asyncio.shield(self._handover)

    async def _hand_over(self, url: str, held: HeldWrites, taken: Taken) -> bool:
        try:  # what was taken is held again if it does not reach the database
            writes = taken.writes()
            what = counted(kind for kind, _ in writes) if writes else ""
            warnings = await asyncio.to_thread(_hand_to, url, self.user, held, taken)
        except BaseException as exc:
            held.give_back(taken)
            if not isinstance(exc, StoreError):
                raise
            return self._desk_away()
        finally:
            self._handing = False
        for warning in warnings:  # held writes of other sessions it took in
            self.say(whole_line(warning), "warning")
        if self._desk_back:
            # What the user did, said as it reaches the database; the polls' results, every few
            # seconds, would push the status changes out of the event strip (fresh-eyes F4).
            done = [kind for kind, _ in writes if kind not in POLLED]
            if done:
                self.say(f"Written to the desk's database: {counted(done)}.", "information")
            return False
        self._desk_back = held.reachable_again = True
        self.say(
            "The desk's database answers again"
            + (f": {what} held meanwhile written to it" if writes else "")
            + ". This monitor joins the desk now.",
            "warning",
        )
        self.notices[:] = [n for n in self.notices if n != self._not_remembering]
        self.notices.append(
            f"{DESK_BACK}: this monitor, started without it, joins the desk (what you add or "
            "edit is written to it within seconds)"
        )
        return True

    @property
    def desk_back(self) -> bool:
        """Started without its desk's database, which has answered since (what was held is
        in it): `rejoin_desk` may be tried."""
        return self._desk_back and self.memory is None

    async def rejoin_desk(self) -> bool:
        """Started while its desk's database could not be reached, which answers again and has
        what was held: its store is opened as at a start (the lead taken if nobody has it), what
        was held since the last hand-over is written to it, and from then on everything goes to
        it as on any desk's monitor (the app follows or leads, and picks up the desk's list).
        Whether it rejoined (False: the database went away again; what is held stays held, and
        it is tried again)."""
        url, held = self.held_for_desk, self.held
        if url is None or held is None or not self.desk_back or self._handing:
            return False
        if self._open_with is None:
            return False
        self._handing = True  # no hand-over of held writes meanwhile: this one does it
        try:
            memory = await self._open_with(url)
        except StoreError:
            self._handing = False
            return False
        try:
            if memory.listing is not None:  # the desk's list is picked up (pick_up_added)
                memory.listing.cancel()
                memory.listing = None
            # What was held since, until nothing is: the switch below is in the same turn of
            # the loop as the last look, so nothing done meanwhile is left in `held`.
            while (taken := held.take()).writes():
                try:
                    await asyncio.to_thread(held.hand_over, taken, memory.astore.store, parse_page)
                except BaseException:
                    held.give_back(taken)
                    raise
        except BaseException as exc:
            self._handing = False
            with contextlib.suppress(Exception):
                await memory.close()
            if not isinstance(exc, StoreError):
                raise
            self._desk_away()
            return False
        self.memory, self.held, self.held_for_desk = memory, None, None
        self._handing = self._desk_back = False
        self.notices[:] = [
            n for n in self.notices if not n.startswith(DESK_BACK) and n != self._not_remembering
        ]
        self._not_remembering = None
        self._adopt(memory)
        await asyncio.to_thread(held.keep)  # nothing is left in it: its file goes
        return True

    async def settle_held(self) -> None:
        """At quit, before `keep_held`: a hand-over to the desk's database under way ends first
        (what it took is in the database, or held again)."""
        if self._handover is not None:
            with contextlib.suppress(BaseException):
                await self._handover

    def _desk_away(self) -> bool:
        """The desk's database cannot be reached (again): the banner says what is held."""
        if not self._desk_back or self.held is None or self._not_remembering is None:
            return False
        self._desk_back = self.held.reachable_again = False
        self.notices[:] = [n for n in self.notices if not n.startswith(DESK_BACK)]
        self.notices.append(self._not_remembering)
        return True

    def keep_held(self) -> str | None:
        """At quit, with no store: what was held, kept in a file the next start takes in (blocks:
        the disk); the line for the terminal, or None."""
        return self.held.keep() if self.held is not None else None

    def take_read_only(self) -> list[Remembered]:
        """What a store that could only be read holds (once): to be shown, never kept."""
        taken, self._read_only = self._read_only, []
        return taken

    # -- poll results ------------------------------------------------------------------------

    def _poll_update(self, update: PollUpdate) -> None:
        batch = self._batch
        if batch is not None and not batch.taken:
            batch.add(update)
            return
        batch = self._batch = NewsBatch()
        batch.add(update)
        self.on_news(batch)

    def _save_update(self, update: PollUpdate) -> None:
        if self.following():
            return  # a follower's answers came from the database
        watch = self.poller.get(update.request_id)
        if self.memory is not None and watch is not None:
            self.memory.on_update(update, asked=watch.target.channel)
        elif self.held is not None and watch is not None:
            self.held.on_update(update, asked=watch.target.channel)

    def _waiting(self) -> Sequence[PollUpdate]:
        return self._batch.waiting if self._batch is not None else ()

    @property
    def news_waiting(self) -> bool:
        """Poll results the screen has not taken yet."""
        return bool(self._waiting())

    def take_news(self) -> list[PollUpdate]:
        """The results not taken yet, taken (what the screen does with a batch it is given)."""
        batch, self._batch = self._batch, None
        return batch.take() if batch is not None and not batch.taken else []

    def apply(self, updates: list[PollUpdate]) -> list[tuple[PollUpdate, Entry]]:
        """Poll results onto the live list (polls are of live requests, whichever list is
        shown); each with the entry it changed (a result for an id removed meanwhile has none)."""
        applied = []
        for update in updates:
            entry = self.live.apply(update)
            if entry is not None:
                applied.append((update, entry))
        return applied

    # -- what the store remembers --------------------------------------------------------------

    def sketch_first(self, first: FirstRows) -> bool:
        """The list drawn from what the store remembers, before any state is read: the live
        requests it shows first (the newest changes first: `Store.first_summaries`) now, the
        others once those are on screen (`read_rest`, then `sketch_more`: 100,000 entries take
        a good part of a second to read and make). Every entry keeps its place in the added
        order (its row's). Whether any are left."""
        listing, self._listing = self._listing, None
        if not first.kept:
            if listing is not None:
                listing.cancel()
                self._let_go(listing)
            return False
        self._places = (self.live.reserve(first.last_seq), self.archived.reserve(first.last_seq))
        self._last_seq, self._live_at_start = first.last_seq, first.live
        for summary in first.rows:
            self.sketch(summary)
        if len(first.rows) == first.kept or listing is None:  # all of it
            if listing is not None:
                listing.cancel()
                self._let_go(listing)
            self.live.reorder()
            return False
        self._listing = listing
        self._drawn_first = {s.request_id for s in first.rows}
        return True

    async def read_rest(self) -> None:
        """The rest of the list `sketch_first` began, read (in a thread of its own) once the
        first rows are painted; `sketch_more` draws it."""
        listing = self._listing
        if listing is None:
            return
        try:
            rows = await listing.rest()
        except StoreError as exc:
            self.say(f"Store: {error_line(exc)}", "error")
            rows = []
        self._take_rest(listing, rows)

    def _take_rest(self, listing: ListRead, rows: list[WatchSummary]) -> None:
        if self._listing is listing:  # not taken meanwhile (sketch_these)
            self._listing = None
            self._unsketched, self._sketched_to = rows, 0
            self._let_go(listing)

    def _let_go(self, listing: ListRead) -> None:
        """Done with the list's read: nothing keeps its rows (100,000 of them, some 40 MB,
        were kept for the whole session) once they are drawn."""
        if self.memory is not None and self.memory.listing is listing:
            self.memory.listing = None

    @property
    def reading_list(self) -> bool:
        """The rest of the store's list is still being read (`read_rest` awaits it)."""
        return self._listing is not None

    def sketch_these(self, request_ids: Iterable[str]) -> None:
        """The rows of these ids drawn now, where the store's list has them and they are not
        drawn yet (before anything that must know whether an id is listed: an id added, an id
        another process changed); the other rows are left to `sketch_more`'s parts. Drawing
        every row left here held the screen's loop 0.5-1 s at 100,000 ids. The list is read
        now if it is not in yet: a wait only in the first second or so of a restart of
        100,000 ids, and only where nothing awaited `read_rest` first."""
        listing = self._listing
        if listing is not None:
            try:
                rows = listing.wait()
            except StoreError as exc:
                self.say(f"Store: {error_line(exc)}", "error")
                rows = []
            self._take_rest(listing, rows)
        summaries = self._unsketched
        wanted = set(request_ids).difference(self._drawn_first)
        if summaries is None or not wanted:
            return
        last_seq = self._last_seq
        for summary in itertools.islice(summaries, self._sketched_to, None):
            # Added after the first read: the pick-up brings those, as ids added elsewhere.
            if summary.request_id in wanted and summary.seq <= last_seq:
                self.sketch(summary)
        # Drawn now (and perhaps removed before the parts come to it): passed by, as the first.
        self._drawn_first.update(wanted)

    def sketch_more(self, budget: int | None) -> bool:
        """`budget` more of the rows `read_rest` read (None: all of them); whether any are
        still left. The screen asks a part a turn: 100,000 entries made in one turn held its
        loop 0.5-1 s while the first keys were pressed. Made with the garbage collector paused
        (they are only new objects, and it walked the growing heap again and again for
        nothing: half the time, measured), then kept out of its walks (heap.keep), each part
        as it is made (else the walks of the parts made so far came back between parts)."""
        summaries = self._unsketched
        if summaries is None:
            return False
        start = self._sketched_to
        end = len(summaries) if budget is None else min(len(summaries), start + budget)
        first, last_seq = self._drawn_first, self._last_seq
        with without_gc():
            for summary in itertools.islice(summaries, start, end):
                # Drawn first (and perhaps removed since), or added after the first read:
                # the pick-up brings those, as ids added elsewhere.
                if summary.request_id not in first and summary.seq <= last_seq:
                    self.sketch(summary)
            self._sketched_to = end
            left = end < len(summaries)
            if not left:
                self._unsketched, self._drawn_first = None, set()
                self.live.reorder()
                self.archived.reorder()
            heap.keep(len(summaries))
        return left

    @property
    def live_listed(self) -> int:
        """How many live requests the list has, counting those of the store's list not drawn
        yet (the status line's "reading N remembered")."""
        return max(len(self.live), self._live_at_start) if self.sketching else len(self.live)

    @property
    def sketching(self) -> bool:
        """Part of the remembered list is not drawn yet (`sketch_more`)."""
        return self._unsketched is not None or self._listing is not None

    def sketch(self, summary: WatchSummary) -> None:
        """One remembered request on its list (live or archived), its state still to come, at
        its row's place in the added order (where each list's `reserve` kept them)."""
        archived = summary.archived_at is not None
        target = Target(summary.request_id, summary.channel, _ID_KINDS[summary.id_kind])
        watchlist = self.archived if archived else self.live
        seq = self._places[archived] + summary.seq
        entry = watchlist.add(target, summary.label, summary.added_at, seq)
        if entry is None:
            return  # listed already
        entry.note = summary.note
        entry.loading = True
        if self.shows_who:
            _who(entry, summary)
        entry.channel = summary.answered or summary.poll_channel
        entry.last_poll = summary.observed_at
        entry.last_change = summary.changed_at
        entry.status = WatchStatus.DONE if archived else WatchStatus.WAITING

    def _listed(self, record: WatchRecord) -> Entry | None:
        """A remembered request on its list (live or archived), its state still to come; None
        if it is listed already."""
        watchlist = self.archived if record.archived else self.live
        entry = watchlist.add(record.target, record.label, record.added_at)
        if entry is not None:
            entry.note = record.note
            entry.loading = True
            if self.shows_who:
                _who(entry, record)
        return entry

    async def read_remembered(self, part: int) -> None:
        """Every sketched request gets what the store remembers of it, `part` requests at a
        time (each one read, `Memory.load_parts`; keys are answered between two parts), and
        is watched. A store that cannot be read says so, and what it did not give is watched
        from nothing."""
        filled = 0
        try:
            if self.memory is not None:
                async for remembered in self.memory.load_parts(part):
                    for start in range(0, len(remembered), FILL_SLICE):
                        if start:
                            await asyncio.sleep(FILL_PAUSE)  # a key waiting goes first
                        for item in remembered[start : start + FILL_SLICE]:
                            self.fill(item)
                    filled += len(remembered)
        except StoreError as exc:
            self.say(f"Store: {error_line(exc)}", "error")
        for entry in [*self.live, *self.archived]:
            if entry.loading:  # sketched but not in the full read: a store that changed between
                entry.loading = False
                entry.touch()
                if entry.request_id in self.live:
                    self.start_polling(entry)
        heap.keep(filled)  # what was made to stay: out of the collector's walks

    def fill(self, remembered: Remembered) -> None:
        """A sketched request gets what the store remembers of it, and is watched."""
        record, state, stored = remembered.record, remembered.state, remembered.stored
        rid = record.request_id
        archived = rid in self.archived  # where it is now (it may have moved meanwhile)
        entry = self.archived.get(rid) if archived else self.live.get(rid)
        if entry is None or not entry.loading:
            return  # removed meanwhile: it is what it is now
        entry.loading = False
        entry.channel = state.channel.value if state is not None else record.poll_channel
        entry.state = state
        entry.status = WatchStatus.ACTIVE if state is not None else WatchStatus.WAITING
        if archived:
            entry.status = WatchStatus.DONE
        entry.remember(remembered.timeline)
        if stored is not None:
            entry.last_poll = stored.observed_at
            entry.last_change = stored.changed_at
        entry.touch()
        if not archived:
            self.start_polling(entry)

    def restore_remembered(self, remembered: Remembered) -> None:
        """Put a request the store remembers on the list as it was, without "first seen" news;
        a live one is watched (polled again unless it is final)."""
        if self._listed(remembered.record) is not None:
            self.fill(remembered)

    def start_polling(self, entry: Entry) -> None:
        """Hand a listed request to the poller, from what the list knows of it."""
        watch = self.poller.add(
            entry.target,
            added_at=entry.added_at,
            state=entry.state,
            observed_at=entry.last_poll,
            last_change=entry.last_change,
        )
        if watch is None:
            return
        if entry.state is None:
            watch.channel = entry.channel  # an `auto` id that answered before asks there
        entry.status = watch.status  # remembered final: done, not polled again

    # -- what the user does ----------------------------------------------------------------------

    def add_targets(self, targets: list[Target], *, label: str = "") -> list[str]:
        """Start watching; returns the ids that were not watched already."""
        self.sketch_these([t.request_id for t in targets])  # one not drawn yet is watched already
        now = self.clock.now()
        added = []
        for target in targets:
            rid = target.request_id
            if rid in self.live:
                continue
            if rid in self.archived:  # adding an archived id again brings it back
                self.unarchive(rid)
                added.append(rid)
                continue
            entry = self.live.add(target, label, now)
            if entry is not None and self.shows_who:
                entry.added_by = self.user
            self.poller.add(target, added_at=now)
            if self.memory is not None:
                self.memory.add(target, label, now)
            elif self.held is not None:
                self.held.add(target, label, now)
            added.append(rid)
        if added and self.held is not None:
            self.say(self.held.said(), "warning")
        return added

    def remove_request(self, request_id: str, *, archived: bool) -> Entry | None:
        """Stop watching (history kept) from the live list or the archive; `undo` brings it
        back. The entry removed, or None."""
        entry = (self.archived if archived else self.live).remove(request_id)
        if entry is None:
            return None
        watch = self.poller.remove(request_id)
        if self.memory is not None:
            self.memory.remove(request_id)
        elif self.held is not None:
            self.held.remove(request_id, self.clock.now())
        self._removed.append((entry, watch, archived))
        return entry

    def undo(self) -> tuple[Entry, bool] | None:
        """Bring back the request removed last, where it was; (it, whether to the archive), or
        None when nothing was removed."""
        if not self._removed:
            return None
        entry, watch, archived = self._removed.pop()
        self._restore_request(entry, watch, archived=archived)
        return entry, archived

    def _restore_request(self, entry: Entry, watch: Watch | None, *, archived: bool) -> None:
        if archived:
            self.archived.restore(entry)
        else:
            self.live.restore(entry)
            if watch is not None:
                self.poller.restore(watch)
            else:
                self.start_polling(entry)
        if self.memory is not None:
            self.memory.restore(entry.request_id)
        elif self.held is not None:
            self.held.restore(entry.request_id)

    def set_label_note(
        self,
        request_id: str,
        label: str | None,
        note: str | None,
        *,
        opened: tuple[str, str] | None = None,
        told: Callable[[list[Replaced]], None] | None = None,
    ) -> list[Replaced]:
        """Set the label and the note given (None: left as it is, whoever changed it since).

        `opened`: the label and note the user's dialog showed when it opened. A field the user
        changed that someone else changed meanwhile (another monitor, `d7tui add`, a desk
        colleague) takes the user's text; what it replaced is returned, to be said, as `d7tui
        add` says it: nothing typed before is lost without a word. An edit this monitor has
        not picked up yet is found in the store as it is written: `told` is given it then."""
        entry = self.live.get(request_id) or self.archived.get(request_id)
        if entry is None:
            self._keep_for_the_removed(request_id, label, note)
            return []
        now = (entry.label, entry.note)
        changed = tuple(
            given if given is not None and given != current else None
            for given, current in zip((label, note), now, strict=True)
        )
        replaced = [
            Replaced(request_id, what, current, mine)
            for what, mine, current, seen in zip(
                ("label", "note"), changed, now, opened or now, strict=True
            )
            if mine is not None and current != seen and current
        ]
        entry.relabel(*(c if c is not None else n for c, n in zip(changed, now, strict=True)))
        if self.shows_who:
            entry.noted_by, entry.noted_at = self.user, self.clock.now()
        # Only what changed is written: an untouched note stays whole. What the store holds is
        # asked when it is written: a colleague's edit that the pick-up has not brought yet is
        # said too, once written (`told`).
        mine = dict(zip(("label", "note"), changed, strict=True))

        def stored(found: list[tuple[str, str]]) -> None:
            if told is not None:
                told([Replaced(request_id, what, was, mine[what] or "") for what, was in found])

        self._write_label_note(request_id, *changed, seen=now, told=stored)
        return replaced

    def _write_label_note(
        self,
        request_id: str,
        label: str | None,
        note: str | None,
        *,
        seen: tuple[str, str] | None = None,
        told: Callable[[list[tuple[str, str]]], None] | None = None,
    ) -> None:
        """To the store (None: unchanged), or held while there is none, and said so."""
        if label is None and note is None:
            return
        if self.memory is not None:
            self.memory.set_label_note(request_id, label, note, seen=seen, told=told)
        elif self.held is not None:
            self.held.set_label_note(request_id, label, note)
            self.say(self.held.said(), "warning")

    def _keep_for_the_removed(self, request_id: str, label: str | None, note: str | None) -> None:
        """What the user typed for a request removed meanwhile (another monitor's `d`, while
        the dialog was open) is kept with the removed id, and said: it was dropped without a
        word (L5). Added again, the id comes back with it."""
        if label is None and note is None:
            return
        self._write_label_note(request_id, label, note)
        self.say(
            f"{one_line(request_id, 40)} was removed meanwhile (by another d7tui?): what you "
            "typed is kept with it, and comes back if you add it again (a).",
            "warning",
        )

    # -- the archive -------------------------------------------------------------------------

    def unarchive(self, request_id: str) -> bool:
        """Back to the live list, polled again (a request in the archive as drawn: the one
        selected there, or one `add_targets` drew)."""
        entry = self.archived.remove(request_id)
        if entry is None:
            return False
        entry.status = WatchStatus.ACTIVE if entry.state is not None else WatchStatus.WAITING
        self.live.put(entry)
        self.start_polling(entry)
        if self.memory is not None:
            self.memory.unarchive(request_id)
        elif self.held is not None:
            self.held.unarchive(request_id, self.clock.now())
        return True

    async def archive_finished(self) -> list[str]:
        """Move to the archive every request final for `archive_after`; the ids moved."""
        if self.memory is None:
            return []
        await self.read_rest()  # the list's read awaited here, not blocked on
        try:
            ids = await self.memory.archive_finished(self.archive_after)
        except StoreError as exc:
            self.say(f"Store: {error_line(exc)}", "error")
            return []
        self.sketch_these(ids)  # every id it moved is listed
        moved = []
        for rid in ids:
            entry = self.live.remove(rid)
            if entry is None:
                continue
            self.poller.remove(rid)
            if self.shows_who:
                entry.archived_by = self.user
            self.archived.put(entry)
            moved.append(rid)
        return moved

    # -- other processes ---------------------------------------------------------------------

    async def pick_up_added(self) -> int:
        """Show what another process did to the watchlist: ids `d7tui add` put in the store from
        another shell are watched; where the store numbers its changes (a SQLite file), labels
        and notes set, ids removed, archived or brought back elsewhere are shown as they are
        now (a desk's database tells those as they come, see `follow_watches`). How many ids
        it added or changed on the screen."""
        memory = self.memory
        if memory is None:
            return 0
        await self.read_rest()  # the list's read awaited here, not blocked on
        try:
            if memory.numbers_changes:
                records = await memory.changed_watches()
            else:
                records = await memory.live_records(len(self.live)) or []
        except StoreError:
            return 0  # the writer looks at the file too, puts it right and says what it did
        self.sketch_these([r.request_id for r in records])  # one not drawn yet is not new
        new: list[WatchRecord] = []
        changed: dict[str, int] = {}
        for record in records:
            rid = record.request_id
            if rid in self.live or rid in self.archived:
                kind = self._follow(record) if memory.numbers_changes else None
                if kind is not None:
                    changed[kind] = changed.get(kind, 0) + 1
            elif record.removed_at is None:  # new here, or brought back elsewhere
                new.append(record)
        if new:
            try:
                known = await memory.remember(new)
            except StoreError:  # the store away: watched from nothing, as a new id is
                known = [Remembered(record, None, None, []) for record in new]
            for remembered in known:
                if remembered.record.request_id not in self.live:  # not added meanwhile
                    self.restore_remembered(remembered)
        if self.following():
            # A follower polls nothing on a schedule: it reads what the leader has now (the
            # leader may have polled them before this one heard of them), all in one read.
            self.poller.refresh_many(r.request_id for r in new)
        if new:
            self.say(
                f"Watching {plural(len(new), 'more request')} added elsewhere (d7tui add, or "
                "another monitor on this store).",
                "information",
            )
        if changed:
            said = ", ".join(f"{plural(n, 'request')} {kind}" for kind, n in changed.items())
            self.say(f"Changed from another d7tui: {said}.", "information")
        return len(new) + sum(changed.values())

    async def follow_watches(self, ids: set[str]) -> bool:
        """Another monitor of the desk (or `d7tui add`) relabelled, removed, archived or
        brought back these ids: this one shows the same (new ones are the pick-up's). Whether
        anything changed."""
        if self.memory is None:
            return False
        await self.read_rest()  # the list's read awaited here, not blocked on
        self.sketch_these(ids)  # every id it may change is listed
        changed = False
        for record in await self.memory.watch_records(ids):
            changed |= self._follow(record) is not None
        return changed

    def _follow(self, record: WatchRecord) -> str | None:
        """A listed id as the store has it now (another process changed it); what changed on
        screen ("removed", "archived", "brought back", "with a new label or note"), or None."""
        rid = record.request_id
        entry = self.live.get(rid) or self.archived.get(rid)
        if entry is None:
            return None
        kind = None
        if record.removed_at is not None or (record.archived_at is not None) == (rid in self.live):
            (self.live if rid in self.live else self.archived).remove(rid)
            self.poller.remove(rid)
            if record.removed_at is not None:
                kind = "removed"
            elif record.archived_at is not None:
                self.archived.put(entry)
                kind = "archived"
            else:
                self.live.put(entry)
                self.start_polling(entry)
                kind = "brought back"
        if (entry.label, entry.note) != (record.label, record.note):
            entry.relabel(record.label, record.note)
            kind = kind or "with a new label or note"
        _who(entry, record)
        return kind

    def take_over_reports(self) -> bool:
        """The other monitor has ended: this one pulls the Infobip reports from now on. True
        when it took them over now."""
        memory = self.memory
        if memory is None or memory.lock_refusal is None:
            return False
        if not memory.astore.try_acquire_report_lock():
            return False
        if memory.lock_refusal in self.notices:
            self.notices.remove(memory.lock_refusal)
        memory.lock_refusal = None
        self.say("Now pulling Infobip reports here: the other d7tui ended.", "information")
        return True

    # -- exports and settings ------------------------------------------------------------------

    async def export(self, fmt: str = "json", directory: Path | None = None) -> str:
        """Export the store into a new file in `directory` (None: beside the store); one line
        saying where."""
        if self.memory is None:
            return "Nothing to export: this session is not remembered."
        directory = directory or self.memory.path.parent
        try:
            path, counts = await self.memory.export(
                fmt,  # type: ignore[arg-type]
                directory,
                self.settings.message_text,  # text kept while it was on follows it now
            )
        except StoreError as exc:
            return f"{EXPORT_FAILED}: {error_line(exc)}"
        except OSError as exc:
            return cannot_write(directory, exc)
        # The path first: the event strip shows it whole, the counts after it may be cut.
        return (
            f"Exported to {path}: {plural(counts.watches, 'request')}, "
            f"{plural(counts.recipients, 'recipient')}, {plural(counts.transitions, 'transition')}"
        )

    async def export_failures(self, entries: list[Entry], directory: Path | None) -> str:
        """The failed and stuck recipients of `entries` (the problems view) as a CSV worklist
        in `directory`; one line saying where."""
        from d7tui.worklist import follow_ups, write_to_file

        if directory is None:
            return "Nothing to export to: this session has no data directory."
        rows = follow_ups(entries, self.clock.now(), self.live.stuck_after)
        if not rows:
            return "No failures to export: the problems view is empty."
        try:
            path, _ = await asyncio.to_thread(write_to_file, rows, "csv", directory)
        except OSError as exc:
            return cannot_write(directory, exc)
        failed = sum(row.problem == "failed" for row in rows)
        stuck = sum(row.problem == "stuck?" for row in rows)
        said = [f"{failed:,} failed"] if failed else []
        said += [f"{stuck:,} stuck?"] if stuck else []
        if len(rows) - failed - stuck:
            said.append(f"{plural(len(rows) - failed - stuck, 'request')} in error")
        return f"Worklist of {', '.join(said)} (number, reason, what to do): {path}"

    def reload_settings(self) -> str | None:
        """Read the settings again (the user fixed a credential); a problem, or None."""
        if self.reload is None:
            return None
        try:
            settings = self.reload()
        except ConfigError as exc:
            return error_line(exc)
        self.settings = settings
        if self.client is not None and hasattr(self.client, "settings"):
            self.client.settings = settings
        return None


def _who(entry: Entry, record: WatchRecord | WatchSummary) -> None:
    entry.added_by, entry.archived_by = record.added_by, record.archived_by
    entry.noted_by, entry.noted_at = record.noted_by, record.noted_at


EXPORT_FAILED = "Export failed"
HELD_NOWHERE = "ONLY IN MEMORY"  # how the banner's line begins while held writes reach no disk


def cannot_write(directory: Path, exc: OSError) -> str:
    """An export that could not be written, in words a user can act on (not Python's
    `[Errno 30] … '.d7tui-export-ytr1op5u'`)."""
    why = (exc.strerror or "error").lower()
    return (
        f"{EXPORT_FAILED}: cannot write in {directory}: {why}; nothing was written (start d7tui "
        "in a directory you can write, or run d7tui export -o FILE)"
    )
