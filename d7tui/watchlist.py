"""The watchlist model: what the monitor shows, filtered and sorted, with its totals. No Textual.

The table on screen is only a view of `Watchlist.visible()`: filtering and sorting happen here,
so the view can update changed cells in place and keep its cursor on the same request.
"""

from __future__ import annotations

import bisect
import itertools
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Sized
from dataclasses import dataclass, field
from enum import StrEnum

from d7tui.errors import ChannelError, ErrorKind, error_label
from d7tui.models import (
    Phase,
    Recipient,
    RequestStatus,
    Target,
    Transition,
    clean_label,
    clean_note,
)
from d7tui.pollstate import PollUpdate, WatchStatus
from d7tui.shortids import ShortIds
from d7tui.stuck import (
    DEFAULT_STUCK_AFTER,
    Stuck,
    count_stuck,
    find_stuck,
)
from d7tui.stuck import waiting as waiting_recipients
from d7tui.tally import Tally, Totals

MAX_TIMELINE = 1000  # transitions kept per request in memory (the store keeps them all)
# What an entry with nothing of the kind holds, one object for all of them (never changed by
# anyone, as the shared counts of `RequestStatus.phase_counts`): an empty dict or list of its
# own was ~60 bytes an entry, most of 100,000 entries.
_NO_COUNTS: dict[Phase, int] = {}
_NO_COSTS: dict[str | None, float] = {}
_NONE_WAITING: tuple[tuple[float, Recipient], ...] = ()


class SortKey(StrEnum):
    ADDED = "added"
    LAST_CHANGE = "last change"
    STATUS = "status"


# `s` cycles in this order.
SORT_CYCLE = (SortKey.LAST_CHANGE, SortKey.STATUS, SortKey.ADDED)

# How a row reads at a glance: the worst phase among its recipients, or what stops it.
_PHASE_ORDER = (Phase.FAILED, Phase.PENDING, Phase.UNKNOWN, Phase.DELIVERED, Phase.READ)

_PHASE_RANK = {
    Phase.FAILED: 1,
    Phase.PENDING: 2,
    Phase.UNKNOWN: 3,
    Phase.DELIVERED: 4,
    Phase.READ: 5,
}

# The word for a phase when only some recipients are in it: "✗ 1 failed · un_delivered".
_PHASE_WORD = {Phase.FAILED: "failed", Phase.PENDING: "pending", Phase.UNKNOWN: "unknown"}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a request comes to at a glance: the phase that matters most (the worst among its
    recipients), the words for it, and why (the reason the network gave, or the error)."""

    phase: Phase | None
    text: str
    reason: str = ""
    recipient: str | None = None  # the key of the recipient it speaks of


@dataclass(eq=False, slots=True)
class Entry:
    """One watched request as the screen knows it."""

    target: Target
    label: str
    added_at: float
    seq: int
    channel: str
    note: str = ""  # the support desk's free text (`l`), matched by the filter
    # Who did what (a desk shares one database): the store's names, None where unknown.
    added_by: str | None = None
    noted_by: str | None = None  # the label or note, last written ...
    noted_at: float | None = None  # ... then
    archived_by: str | None = None
    status: WatchStatus = WatchStatus.WAITING
    state: RequestStatus | None = None
    error: ChannelError | None = None
    last_poll: float | None = None
    last_change: float | None = None
    next_due: float | None = None
    polls: int = 0
    known_on: str | None = None  # not found on its channel, but this channel knows the id
    loading: bool = False  # remembered, its state still being read from the store
    # A list, not a deque: 100,000 empty deques cost 60 MB (trimmed to MAX_TIMELINE on extend).
    timeline: list[Transition] = field(default_factory=list)
    version: int = 0  # bumped by every update: views redraw a row only when it moved
    _search: str | None = None
    _counts: dict[Phase, int] | None = None
    _costs: dict[str | None, float] | None = None
    _rank: int | None = None
    _outcome: Outcome | None = None
    _waiting: Sequence[tuple[float, Recipient]] | None = None
    _owner: Watchlist | None = None  # the list it is on, told when it changes

    @property
    def request_id(self) -> str:
        return self.target.request_id

    @property
    def counts(self) -> dict[Phase, int]:
        """Recipients by phase (empty before any answer)."""
        if self._counts is None:
            self._counts = self.state.phase_counts() if self.state is not None else _NO_COUNTS
        return self._counts

    @property
    def costs(self) -> dict[str | None, float]:
        """What its recipients cost, by currency (None: unnamed); empty before any cost."""
        if self._costs is None:
            self._costs = self.state.cost_by_currency() if self.state is not None else _NO_COSTS
        return self._costs

    @property
    def phase(self) -> Phase | None:
        """The worst phase among the recipients (None before any answer)."""
        counts = self.counts
        for phase in _PHASE_ORDER:  # a loop, not a generator: asked for 100,000 rows by `s`
            if counts.get(phase):
                return phase
        return None

    @property
    def not_found(self) -> bool:
        return self.error is not None and self.error.kind is ErrorKind.NOT_FOUND

    @property
    def problem(self) -> bool:
        """Failed, not found, or in error: what `f` keeps."""
        return self._in_error or self.phase is Phase.FAILED

    @property
    def _in_error(self) -> bool:
        """Not found, refused, or in error ("not found yet" is not a problem yet)."""
        if self.status in (WatchStatus.NOT_FOUND, WatchStatus.AUTH):
            return True
        return self.error is not None and not self.not_found

    @property
    def latest_status(self) -> str | None:
        """The raw status most recently reported for any recipient."""
        for transition in reversed(self.timeline):
            if transition.new_status:
                return transition.new_status
        if self.state and self.state.recipients:
            return self.state.recipients[-1].status
        return None

    @property
    def outcome(self) -> Outcome:
        """What the request comes to, as the Status and Reason columns say it."""
        if self._outcome is None:
            self._outcome = _outcome(self)
        return self._outcome

    def status_text(self) -> str:
        """What the status column says (without its symbol)."""
        return self.outcome.text

    def waiting(self) -> Sequence[tuple[float, Recipient]]:
        """The recipients waiting for a confirmation, with since when (kept until the entry
        changes: whether they are stuck is asked again every second)."""
        if self._waiting is None:
            found = (
                waiting_recipients(
                    self.state.recipients,
                    {t.recipient_key: t.at for t in self.timeline},  # the latest wins
                    self.added_at,
                )
                if self.state is not None
                else None
            )
            self._waiting = found or _NONE_WAITING
        return self._waiting

    def stuck(self, now: float, after: Mapping[str, float]) -> list[Stuck]:
        """Recipients waiting longer than their channel's threshold, and why."""
        if self.state is None:
            return []
        return find_stuck(self.state.channel.value, self.waiting(), now, after)

    def stuck_count(self, now: float, after: Mapping[str, float]) -> int:
        if self.state is None:
            return 0
        return count_stuck(self.state.channel.value, self.waiting(), now, after)

    def rank(self) -> int:
        """Order of the status sort: what needs a look first (kept until the entry changes:
        sorting 10,000 asks every one of them)."""
        if self._rank is None:
            phase = self.phase
            if phase is not Phase.FAILED and self._in_error:
                self._rank = 0
            else:
                self._rank = 2 if phase is None else _PHASE_RANK[phase]
        return self._rank

    def search_text(self) -> str:
        if self._search is None:
            outcome = self.outcome
            parts = [self.request_id, self.label, self.note, self.channel, outcome.text]
            if outcome.reason:
                parts.append(outcome.reason)
            if self.state is not None:
                for r in self.state.recipients:
                    parts.extend(x for x in (r.recipient, r.status, r.msg_id, r.reason) if x)
            self._search = "\n".join(parts).casefold()
        return self._search

    def apply(self, update: PollUpdate) -> None:
        self.channel = update.channel
        self.status = update.status
        self.state = update.state
        self.error = update.error
        self.last_poll = update.last_poll
        self.last_change = update.last_change
        self.next_due = update.next_due
        self.polls = update.polls
        self.known_on = update.known_on
        self.remember(update.transitions)
        self.touch()

    def remember(self, transitions: Iterable[Transition]) -> None:
        """Transitions seen, at the end of the timeline (the newest MAX_TIMELINE kept)."""
        self.timeline.extend(transitions)
        if len(self.timeline) > MAX_TIMELINE:
            del self.timeline[:-MAX_TIMELINE]

    def relabel(self, label: str, note: str) -> None:
        # What the user did not change stays as it was (cleaning it again would cut a long
        # note once more and rewrite its length).
        if label != self.label:
            self.label = clean_label(label)
        if note != self.note:
            self.note = clean_note(note)
        self.touch()

    def touch(self) -> None:
        """Something shown about this entry changed (an update, or its label)."""
        self.version += 1
        self._search = None
        self._counts = None
        self._costs = None
        self._rank = None
        self._outcome = None
        self._waiting = None
        if self._owner is not None:
            self._owner.touched(self)


def _outcome(entry: Entry) -> Outcome:
    if entry.loading:
        return Outcome(None, "loading…")
    error = entry.error
    if entry.status is WatchStatus.AUTH:
        # No credential at all was asked nothing, so nothing refused it.
        missing = error is not None and error.status is None
        return Outcome(None, "no credential" if missing else "auth refused", str(error or ""))
    if error is not None:
        if error.kind is ErrorKind.NOT_FOUND:
            text = "not found" if entry.status is WatchStatus.NOT_FOUND else "not found yet"
            return Outcome(None, text, error.message)
        return Outcome(None, error_label(error), error.message)
    state = entry.state
    if state is None:
        return Outcome(None, "waiting…")
    if not state.recipients:
        return Outcome(None, "no report yet")
    phase = entry.phase
    members = [r for r in state.recipients if r.phase is phase]
    # Of the recipients in that phase, the one whose status changed last.
    keys = {r.key for r in members}
    latest = next(
        (t.recipient_key for t in reversed(entry.timeline) if t.recipient_key in keys), None
    )
    chosen = next((r for r in members if r.key == latest), members[0])
    text = chosen.status or "no status"
    word = _PHASE_WORD.get(phase)  # type: ignore[arg-type]
    if word is not None and len(members) < len(state.recipients):
        text = f"{len(members)} {word} · {text}"
    if entry.status is WatchStatus.STALE:
        text = f"stale · {text}"
    elif entry.status is WatchStatus.MEMORY:  # the API forgot it (Infobip keeps 48 h)
        text = f"from memory · {text}"
    return Outcome(phase, text, chosen.reason or "", chosen.key)


class Watchlist:
    def __init__(
        self,
        *,
        stuck_after: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._entries: dict[str, Entry] = {}
        self._seq = 0
        self.filter_text = ""
        self.problems_only = False
        # New and changed requests come in at the top, as in htop and k9s.
        self.sort = SortKey.LAST_CHANGE
        self.short_ids = ShortIds()  # every id in the list, told apart
        self._tally = Tally(DEFAULT_STUCK_AFTER if stuck_after is None else stuck_after)
        self.clock = clock
        # The last visible list, what it was made for, and the entries changed since: the next
        # one is made by moving those (sorting 100,000 took ~70 ms, once a second).
        self._view: list[Entry] | None = None
        self._view_key: tuple[object, ...] = ()
        self._view_dirty: set[Entry] = set()
        self._members = 0  # bumped when an entry comes or goes
        self._shown_members = 0  # bumped when which entries are visible may have changed

    @property
    def stuck_after(self) -> Mapping[str, float]:
        """Seconds per channel before a waiting recipient is "stuck?" (config's [stuck_after])."""
        return self._tally.stuck_after

    @stuck_after.setter
    def stuck_after(self, value: Mapping[str, float]) -> None:
        self._tally.stuck_after = value
        self._tally.reset(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, request_id: object) -> bool:
        return request_id in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries.values())

    def get(self, request_id: str) -> Entry | None:
        return self._entries.get(request_id)

    def add(
        self, target: Target, label: str, added_at: float, seq: int | None = None
    ) -> Entry | None:
        """A new entry, last in the added order (`seq`: at a place `reserve` kept)."""
        if target.request_id in self._entries:
            return None
        if seq is None:
            self._seq += 1
            seq = self._seq
        entry = Entry(
            target=target,
            label=clean_label(label) if label else "",
            added_at=added_at,
            seq=seq,
            channel=target.channel,
        )
        self._entries[target.request_id] = entry
        self.short_ids.add(target.request_id)
        self._listed(entry)
        return entry

    def reserve(self, count: int) -> int:
        """Keep `count` places in the added order for entries added later with `add(seq=)`
        (the store's rows, drawn in two steps); the place before the first."""
        first = self._seq
        self._seq += count
        return first

    def reorder(self) -> None:
        """Back in the added order, after entries were added out of it (`add(seq=)`, undo)."""
        seqs = [e.seq for e in self._entries.values()]
        if any(a > b for a, b in itertools.pairwise(seqs)):
            self._entries = dict(sorted(self._entries.items(), key=lambda kv: kv[1].seq))
            self._members += 1

    def _listed(self, entry: Entry) -> None:
        entry._owner = self
        self._members += 1
        self._tally.mark(entry)

    def touched(self, entry: Entry) -> None:
        """The entry changed (`Entry.touch`): its place, its match and its share of the totals
        are looked at again when next asked."""
        self._tally.mark(entry)
        self._view_dirty.add(entry)

    def remove(self, request_id: str) -> Entry | None:
        entry = self._entries.pop(request_id, None)
        if entry is not None:
            self.short_ids.remove(request_id)
            entry._owner = None
            self._members += 1
            self._tally.drop(entry)
        return entry

    def put(self, entry: Entry) -> None:
        """Take in an entry from another list (the archive), last in the added order."""
        self._seq += 1
        entry.seq = self._seq
        self._entries[entry.request_id] = entry
        self.short_ids.add(entry.request_id)
        self._listed(entry)
        entry.touch()

    def restore(self, entry: Entry) -> None:
        """Put back an entry `remove` returned (undo), in its old place in the added order."""
        self._entries[entry.request_id] = entry
        self.short_ids.add(entry.request_id)
        self._listed(entry)
        self.reorder()

    def apply(self, update: PollUpdate) -> Entry | None:
        entry = self._entries.get(update.request_id)
        if entry is not None:
            entry.apply(update)
        return entry

    # -- the view ------------------------------------------------------------------------------

    def cycle_sort(self) -> SortKey:
        index = SORT_CYCLE.index(self.sort) if self.sort in SORT_CYCLE else -1
        self.sort = SORT_CYCLE[(index + 1) % len(SORT_CYCLE)]
        return self.sort

    def matches(self, entry: Entry) -> bool:
        return self._matches(entry, self.filter_text.strip().casefold().split(), self.clock())

    def is_problem(self, entry: Entry, now: float | None = None) -> bool:
        """What `f` keeps: failed, not found, in error, or stuck."""
        if entry.problem:
            return True
        return entry.stuck_count(self.clock() if now is None else now, self.stuck_after) > 0

    def _matches(self, entry: Entry, words: list[str], now: float) -> bool:
        if self.problems_only and not self.is_problem(entry, now):
            return False
        return all(word in entry.search_text() for word in words)

    def visible(self) -> list[Entry]:
        """The entries shown, in the order shown. The very list returned last time when nothing
        in it moved since (callers do not change it)."""
        words = self.filter_text.strip().casefold().split()
        key = (self.sort, tuple(words), self.problems_only, self._members)
        view, dirty = self._view, self._view_dirty
        self._view_dirty = set()
        # The problems view follows the clock (stuck), not only changes: made afresh.
        if view is None or key != self._view_key or self.problems_only:
            shown = self._visible(words)
        elif not dirty or (self.sort is SortKey.ADDED and not words):
            return view  # nothing moved: changes do not move an entry in the added order
        elif len(dirty) > len(self._entries) // 8:
            shown = self._visible(words)
        else:
            shown = self._moved(view, dirty, words)
            if not words:  # the same entries, some in other places
                self._view = shown
                return shown
        self._view, self._view_key = shown, key
        self._shown_members += 1
        return shown

    @property
    def shown_members(self) -> int:
        """A number that changes whenever the entries `visible()` returns may be other ones
        (not only in another order)."""
        return self._shown_members

    def _sort_key(self) -> Callable[[Entry], tuple[float, ...]]:
        if self.sort is SortKey.LAST_CHANGE:
            return lambda e: (-(e.last_change or e.added_at), e.seq)
        if self.sort is SortKey.STATUS:
            return lambda e: (e.rank(), -(e.last_change or e.added_at), e.seq)
        return lambda e: (e.seq,)

    def _visible(self, words: list[str]) -> list[Entry]:
        if words or self.problems_only:
            now = self.clock()
            shown = [e for e in self._entries.values() if self._matches(e, words, now)]
        else:
            shown = list(self._entries.values())
        if self.sort is not SortKey.ADDED:
            shown.sort(key=self._sort_key())
        return shown

    def _moved(self, view: list[Entry], dirty: set[Entry], words: list[str]) -> list[Entry]:
        """`view` after only the `dirty` entries changed: they are taken out and put back where
        they belong now (if they still match), the rest keep their order, as a sort would."""
        key = self._sort_key()
        kept = [e for e in view if e not in dirty]
        now = self.clock()
        back = sorted(
            (e for e in dirty if e._owner is self and self._matches(e, words, now)), key=key
        )
        shown: list[Entry] = []
        start = 0
        for entry in back:
            at = bisect.bisect_left(kept, key(entry), lo=start, key=key)
            shown += kept[start:at]
            shown.append(entry)
            start = at
        shown += kept[start:]
        return shown

    def totals(self, shown: Iterable[Entry] | None = None, *, budget: int | None = None) -> Totals:
        """Counts over every entry (`shown`: the entries the view shows, counted as shown).
        `budget`: see `Tally.totals` (ask again while `counting`)."""
        count = len(self._entries)
        if shown is None:
            shown_count = count
        else:
            shown_count = len(shown) if isinstance(shown, Sized) else len(list(shown))
        return self._tally.totals(self.clock(), count, shown_count, budget=budget)

    @property
    def counting(self) -> int:
        """Entries whose share of the totals is still to be counted (`totals` with a budget)."""
        return self._tally.pending

    def count(self, budget: int) -> int:
        """Count `budget` more of the entries `counting` says (the totals are asked after the
        last); how many are left."""
        return self._tally.count(budget)
