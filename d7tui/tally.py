"""The watchlist's totals (the status line's counts, costs, errors and "stuck?"), kept up to date
as entries change instead of counted again over every entry. No Textual.

At 100,000 watched ids a count over every entry took 160-270 ms of the screen's loop (~30 ms at
10,000), once a second while polls came in: keys waited behind it. The first count after every
entry changed at once (a restart's read) is dearer than that one count was, every later one free. Here each entry's share of the
totals is kept; an entry that changed (`Entry.touch`) is only marked, and its share is taken out
and worked out again when the totals are next asked for. Being stuck is a matter of time passing:
the moments at which waiting recipients become stuck are kept in a heap, and asking the totals
counts those the clock has passed.

Working out a share takes 15-25 µs: 1.5-2.3 s for 100,000 entries changed at once (a restart's
read, the first polls flat out), in one turn of the screen's loop. So the screen asks with a
`budget`: that many changed entries are counted now and the rest on the next asks (`pending`);
meanwhile the last count made with nothing pending is what it gets (one moment's count, a little
late, never a mix of shares old and new).
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from d7tui.errors import ERROR_LABEL, ERROR_LABELS, ChannelError, ErrorKind, error_label
from d7tui.models import Phase
from d7tui.pollstate import WatchStatus

if TYPE_CHECKING:
    from d7tui.watchlist import Entry


@dataclass
class Totals:
    requests: int = 0
    shown: int = 0
    phases: Counter[Phase] = field(default_factory=Counter)
    costs: dict[str | None, float] = field(default_factory=dict)  # currency (None: unnamed)
    errors: Counter[str] = field(default_factory=Counter)  # by what a row calls it (ERROR_LABELS)
    done: int = 0
    stuck: int = 0  # recipients waiting for a confirmation longer than their channel's usual
    # Per vendor ("d7", "infobip"): how many requests its host failed, and one of those errors.
    unreachable: dict[str, tuple[int, ChannelError]] = field(default_factory=dict)
    # The newest poll of a request, by whoever made it (this run, a run before it, a desk's
    # leader): None while none was ever polled.
    last_poll: float | None = None


@dataclass(eq=False, slots=True)
class _Share:
    """What one entry adds to the totals."""

    phases: dict[Phase, int]  # the entry's own (`Entry.counts`: replaced, never changed)
    costs: dict[str | None, float]  # the entry's own (`Entry.costs`) too
    done: bool
    error: str | None  # what its row calls its error (`error_label`)
    vendor: str | None  # unreachable: the vendor whose host it could not reach
    stuck: int = 0  # of its waiting recipients, those counted stuck so far
    live: bool = True  # still the entry's share (heap items of an old share are skipped)
    # When each of its waiting recipients becomes stuck, soonest last; the soonest not counted
    # yet is in the tally's heap (one item per entry, not one per recipient: 20,000 of them).
    # None while none is due (most shares: an empty list each was 56 bytes).
    due: list[float] | None = None


def _share(entry: Entry) -> _Share:
    error: str | None = None
    vendor = None
    if entry.status is WatchStatus.AUTH:
        error = ERROR_LABEL[ErrorKind.AUTH]
    elif entry.status is WatchStatus.NOT_FOUND:
        error = ERROR_LABEL[ErrorKind.NOT_FOUND]
    elif entry.error is not None and not entry.not_found:
        error = error_label(entry.error)
        if entry.error.kind is ErrorKind.UNREACHABLE:
            vendor = "infobip" if entry.channel == "infobip" else "d7"
    return _Share(entry.counts, entry.costs, entry.status is WatchStatus.DONE, error, vendor)


class Tally:
    """The totals of a set of entries; `mark` an entry when it changes, `drop` it when it
    leaves, and ask `totals`."""

    def __init__(self, stuck_after: Mapping[str, float]) -> None:
        self.stuck_after = stuck_after
        self._shares: dict[Entry, _Share] = {}
        self._dirty: set[Entry] = set()
        self._phases: dict[Phase, int] = dict.fromkeys(Phase, 0)
        # Per currency: the sum and how many costs are in it (gone at none: no "0.00 EUR" left
        # by a sum that floating point did not bring back to exactly zero).
        self._costs: dict[str | None, tuple[float, int]] = {}
        self._errors: dict[str, int] = dict.fromkeys(ERROR_LABELS, 0)
        self._done = 0
        self._stuck = 0
        self._unreachable: dict[str, dict[Entry, ChannelError]] = {}
        # (when a waiting recipient becomes stuck, tie-breaker, whose share)
        self._due: list[tuple[float, int, _Share]] = []
        self._seq = itertools.count()
        self._now = float("-inf")
        self._last_poll: float | None = None
        self._settled: Totals | None = None  # the last count made with nothing pending

    @property
    def pending(self) -> int:
        """Entries changed and not counted again yet (by a `totals` with a budget)."""
        return len(self._dirty)

    def count(self, budget: int | None = None) -> int:
        """Count again the shares of changed entries, `budget` of them at most (None: all);
        how many are left (`pending`)."""
        dirty, now = self._dirty, self._now
        if budget is None or budget >= len(dirty):
            for entry in dirty:
                self._take_out(entry)
                self._put_in(entry, now)
            dirty.clear()
            return 0
        for _ in range(budget):
            entry = dirty.pop()
            self._take_out(entry)
            self._put_in(entry, now)
        return len(dirty)

    def mark(self, entry: Entry) -> None:
        """The entry is new or changed: its share is worked out when the totals are asked."""
        self._dirty.add(entry)

    def drop(self, entry: Entry) -> None:
        """The entry left the list."""
        self._dirty.discard(entry)
        self._take_out(entry)

    def reset(self, entries: list[Entry]) -> None:
        """Count everything again (the thresholds changed, or the clock went back)."""
        for entry in list(self._shares):
            self._take_out(entry)
        self._due.clear()
        self._now = float("-inf")
        self._dirty.update(entries)

    def totals(self, now: float, requests: int, shown: int, *, budget: int | None = None) -> Totals:
        """The totals now; with a `budget`, only that many changed entries are counted again
        now (ask again while `pending`), and until none is left the last whole count is
        returned (with `requests` and `shown` as given)."""
        if now < self._now:  # the clock went back: who is stuck is counted afresh
            self.reset([*self._shares, *self._dirty])
        self._now = now
        dirty = self._dirty
        self.count(budget)
        due = self._due
        while due and due[0][0] <= now:
            _, _, share = heapq.heappop(due)
            if not share.live:
                continue
            while share.due and share.due[-1] <= now:
                share.due.pop()
                share.stuck += 1
                self._stuck += 1
            if share.due:
                heapq.heappush(due, (share.due[-1], next(self._seq), share))
        if len(due) > 4 * len(self._shares) + 1024:  # mostly items of shares gone: drop them
            self._due = [item for item in due if item[2].live]
            heapq.heapify(self._due)
        if dirty and self._settled is not None:
            return replace(self._settled, requests=requests, shown=shown)
        costs = {currency: total for currency, (total, _) in self._costs.items()}
        unreachable = {
            vendor: (len(errors), next(iter(errors.values())))
            for vendor, errors in self._unreachable.items()
            if errors
        }
        totals = Totals(
            requests=requests,
            shown=shown,
            phases=Counter({phase: n for phase, n in self._phases.items() if n}),
            costs=costs,
            errors=Counter({kind: n for kind, n in self._errors.items() if n}),
            done=self._done,
            stuck=self._stuck,
            unreachable=unreachable,
            last_poll=self._last_poll,
        )
        if not dirty:
            self._settled = totals
        return totals

    def _put_in(self, entry: Entry, now: float) -> None:
        # A share is worked out for every entry after a restart's read (100,000 at once): kept
        # to plain dicts and loops (a Counter's update is ten times slower).
        share = self._shares[entry] = _share(entry)
        phases = self._phases
        for phase, n in share.phases.items():
            phases[phase] += n
        for currency, cost in share.costs.items():
            total, count = self._costs.get(currency, (0.0, 0))
            self._costs[currency] = (total + cost, count + 1)
        if share.error is not None:
            self._errors[share.error] += 1
        if share.vendor is not None and entry.error is not None:
            self._unreachable.setdefault(share.vendor, {})[entry] = entry.error
        self._done += share.done
        if entry.last_poll is not None and (
            self._last_poll is None or entry.last_poll > self._last_poll
        ):
            self._last_poll = entry.last_poll
        channel = entry.state.channel.value if entry.state is not None else None
        limit = self.stuck_after.get(channel, 0.0) if channel is not None else 0.0
        waiting = entry.waiting() if limit > 0 else ()
        if waiting:
            due = sorted((since + limit for since, _ in waiting), reverse=True)
            while due and due[-1] <= now:  # stuck already: counted now, not through the heap
                due.pop()
                share.stuck += 1
            self._stuck += share.stuck
            if due:
                share.due = due
                heapq.heappush(self._due, (due[-1], next(self._seq), share))

    def _take_out(self, entry: Entry) -> None:
        share = self._shares.pop(entry, None)
        if share is None:
            return
        share.live = False
        phases = self._phases
        for phase, n in share.phases.items():
            phases[phase] -= n
        for currency, cost in share.costs.items():
            total, count = self._costs[currency]
            if count <= 1:
                del self._costs[currency]
            else:
                self._costs[currency] = (total - cost, count - 1)
        if share.error is not None:
            self._errors[share.error] -= 1
        if share.vendor is not None:
            self._unreachable.get(share.vendor, {}).pop(entry, None)
        self._done -= share.done
        self._stuck -= share.stuck
