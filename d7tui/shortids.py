"""Short forms of request ids that tell every watched id apart (no Textual).

A UUID reads by its first group (`3f2a9c1e`), any other id by its end, where ids made one after
another differ (`…53335780` for an Infobip message id); a short id reads whole. A short form is a
start or an end of its id, told apart *as a match*: no other watched id, whatever its own form,
starts (ends) with it, because a user finds the customer's id in the list by the end a row shows.
When another id starts (ends) alike, the form reads longer, then by the other end (`…55555555` for
a UUID whose first four groups another id shares), then whole; a long id alike at every cut reads
by the place where it parts from its nearest look-alikes (`…AAAAXBBB…`). Kept up to date as ids
come and go: a lookup is a few dictionary reads, whatever the number of ids, and only ids that
share a first fragment are counted at the longer ones (100,000 ids are taken in in a fraction of
a second).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable

ELLIPSIS = "…"
SHORT = 12  # an id this long or shorter reads whole
FIRST = 8  # the shortest fragment: an id shorter than this is no fragment's match
_UUID_CUTS = (FIRST, 13, 18, 23)  # the first one, two, three, four groups
_CUTS = (FIRST, 12, 16, 24)  # any other start or end (a UUID's end too)
_LENGTHS = sorted({*_UUID_CUTS[1:], *_CUTS[1:]})  # every longer fragment's length
WIDEST = 36  # an id no fragment tells apart reads whole if no longer than this (a UUID)
_AROUND = 6  # characters shown either side of where two long look-alike ids differ


def _is_uuid(value: str) -> bool:
    return len(value) == 36 and value[8] == value[13] == value[18] == value[23] == "-"


def _cuts(request_id: str, at_start: bool) -> list[str]:
    """The id's fragments at one end, shortest first (none for an id that reads whole)."""
    if len(request_id) <= SHORT:
        return []
    if not at_start:
        return [request_id[-n:] for n in _CUTS if n < len(request_id)]
    lengths = _UUID_CUTS if _is_uuid(request_id) else _CUTS
    return [request_id[:n] for n in lengths if n < len(request_id)]


def _shown(fragment: str, request_id: str, at_start: bool) -> str:
    if not at_start:
        return ELLIPSIS + fragment
    return fragment if _is_uuid(request_id) else fragment + ELLIPSIS


def first_form(request_id: str) -> str:
    """The shortest form of an id by its usual end."""
    if len(request_id) <= SHORT:
        return request_id
    if _is_uuid(request_id):
        return request_id[:FIRST]
    return ELLIPSIS + request_id[-FIRST:]


def forms(request_id: str) -> tuple[str, ...]:
    """The short forms of an id by its usual end, shortest first; the whole id is the last."""
    at_start = _is_uuid(request_id)
    cuts = (_shown(cut, request_id, at_start) for cut in _cuts(request_id, at_start))
    return (*cuts, request_id)


class _Group:
    """What the ids sharing a first fragment at one end have there, counted when first asked."""

    def __init__(self, ids: Iterable[str], at_start: bool) -> None:
        self.at_start = at_start
        # Every length, whatever the id's kind: a UUID's start can be another id's start, and an
        # id as long as a fragment is that fragment's match.
        self.counts = Counter(
            request_id[:n] if at_start else request_id[-n:]
            for request_id in ids
            for n in _LENGTHS
            if n <= len(request_id)
        )
        self.order = sorted(map(self._from_here, ids))  # the most alike are next to each other

    def _from_here(self, request_id: str) -> str:
        return request_id if self.at_start else request_id[::-1]

    def nearest(self, request_id: str) -> list[str]:
        at = bisect_left(self.order, self._from_here(request_id))
        return [self._from_here(key) for key in self.order[max(0, at - 1) : at + 2]]


class _End:
    """The watched ids by their first fragment at one end (their starts, or their ends)."""

    def __init__(self, at_start: bool) -> None:
        self.at_start = at_start
        self.alone: dict[str, str] = {}  # first fragment -> the one id that has it
        self.shared: dict[str, set[str]] = {}  # first fragment -> the ids that share it
        # The shared groups counted so far: counting on demand keeps ids alike at the end they
        # are not read by (numbered ids' starts) from costing anything.
        self._groups: dict[str, _Group] = {}

    def first(self, request_id: str) -> str:
        return request_id[:FIRST] if self.at_start else request_id[-FIRST:]

    def add(self, request_id: str) -> tuple[str, ...]:
        """Take the id in; the ids that it made share their first fragment."""
        first = self.first(request_id)
        shared = self.shared.get(first)
        if shared is not None:
            if request_id in shared:
                return ()
            shared.add(request_id)
            self._groups.pop(first, None)
            return (request_id,)
        alone = self.alone.setdefault(first, request_id)
        if alone == request_id:
            return ()
        del self.alone[first]
        self.shared[first] = {alone, request_id}
        return (alone, request_id)

    def remove(self, request_id: str) -> tuple[str, ...]:
        """Let the id go; the ids that no longer share their first fragment."""
        first = self.first(request_id)
        if self.alone.get(first) == request_id:
            del self.alone[first]
            return ()
        shared = self.shared.get(first)
        if shared is None or request_id not in shared:
            return ()
        shared.discard(request_id)
        self._groups.pop(first, None)
        if len(shared) > 1:
            return (request_id,)
        (last,) = shared
        del self.shared[first]
        self.alone[first] = last
        return (request_id, last)

    def _group(self, first: str) -> _Group:
        group = self._groups.get(first)
        if group is None:
            group = self._groups[first] = _Group(self.shared[first], self.at_start)
        return group

    def told_apart(self, request_id: str) -> str | None:
        """The shortest fragment at this end that no other watched id has there, if any."""
        first = self.first(request_id)
        if first not in self.shared:
            return first
        counts = self._group(first).counts
        return next((cut for cut in _cuts(request_id, self.at_start)[1:] if counts[cut] <= 1), None)

    def nearest(self, request_id: str) -> list[str]:
        """The ids most alike at this end."""
        first = self.first(request_id)
        return self._group(first).nearest(request_id) if first in self.shared else []


class ShortIds:
    def __init__(self) -> None:
        self._starts = _End(at_start=True)
        self._ends = _End(at_start=False)
        self._apart: set[str] = set()  # ids sharing their first fragment at their usual end
        self.longest = 0  # the longest first form seen
        self._width: int | None = 0  # the widest form in use; None: to be measured again

    def _usual(self, request_id: str) -> _End:
        return self._starts if _is_uuid(request_id) else self._ends

    def add(self, request_id: str) -> None:
        size = len(request_id)
        if size <= SHORT:
            self.longest = max(self.longest, size)
            if size < FIRST:
                return
        started = self._starts.add(request_id)
        ended = self._ends.add(request_id)
        if size > SHORT:
            self.longest = max(self.longest, len(first_form(request_id)))
        if started or ended:  # most ids are alone at both ends
            self._width = None
            self._apart.update(*_read_by(started, ended))

    def remove(self, request_id: str) -> None:
        if len(request_id) < FIRST:
            return
        started = self._starts.remove(request_id)
        ended = self._ends.remove(request_id)
        if started or ended:
            self._width = None
            self._apart.difference_update(*_read_by(started, ended))

    def short(self, request_id: str) -> str:
        """The shortest form no other watched id matches at the same end."""
        if len(request_id) <= SHORT:
            return request_id
        usual = self._usual(request_id)
        other = self._ends if usual is self._starts else self._starts
        for end in (usual, other):
            fragment = end.told_apart(request_id)
            if fragment is not None:
                return _shown(fragment, request_id, end.at_start)
        if len(request_id) <= WIDEST:
            return request_id
        return _middle(request_id, [*usual.nearest(request_id), *other.nearest(request_id)])

    @property
    def width(self) -> int:
        """Room for every short form in use."""
        if self._width is None:
            self._width = max(map(len, map(self.short, self._apart)), default=0)
        return max(self.longest, self._width)


def _read_by(started: tuple[str, ...], ended: tuple[str, ...]) -> tuple[Iterable[str], ...]:
    """Of the ids whose first fragment at the start (the end) changed, those read by it."""
    return (
        [rid for rid in started if _is_uuid(rid)] if started else (),
        [rid for rid in ended if not _is_uuid(rid)] if ended else (),
    )


def _middle(request_id: str, alike: Iterable[str]) -> str:
    """A long id by a stretch inside it (its every start and end is another id's too) that
    none of its nearest look-alikes has at that place; whole if there is none."""
    others = [other for other in alike if other != request_id]
    size = 2 * _AROUND
    apart = max(
        (
            next(
                (i for i, (a, b) in enumerate(zip(request_id, other, strict=False)) if a != b),
                min(len(request_id), len(other)),
            )
            for other in others
        ),
        default=0,
    )
    inside = range(1, len(request_id) - size)  # a stretch touching neither end
    around = max(inside.start, min(apart - _AROUND, inside.stop - 1))
    for start in sorted(inside, key=lambda s: abs(s - around)):
        stretch = request_id[start : start + size]
        if all(other[start : start + size] != stretch for other in others):
            return ELLIPSIS + stretch + ELLIPSIS
    return request_id
