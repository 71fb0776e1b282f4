"""Short forms of request ids that tell every watched id apart (no Textual).

A UUID reads by its first group (`3f2a9c1e`), any other id by its end, where ids made one after
another differ (`…53335780` for an Infobip message id); a short id reads whole. When two ids
would read alike, both read longer, until they differ; long ids alike at every cut read by the
place where they differ (`…AAAAXBBB…`). Kept up to date as ids come and go: a lookup is a few
dictionary reads, whatever the number of ids, and only ids that share their first form are
counted at the longer ones (100,000 ids are taken in in a fraction of a second).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable

ELLIPSIS = "…"
SHORT = 12  # an id this long or shorter reads whole
_UUID_CUTS = (8, 13, 18, 23)  # the first one, two, three, four groups
_TAIL_CUTS = (8, 12, 16, 24)
WIDEST = 24  # an id read whole when nothing shorter tells it apart, if it is no longer
_AROUND = 6  # characters shown either side of where two long look-alike ids differ


def _is_uuid(value: str) -> bool:
    return len(value) == 36 and value[8] == value[13] == value[18] == value[23] == "-"


def first_form(request_id: str) -> str:
    if len(request_id) <= SHORT:
        return request_id
    if _is_uuid(request_id):
        return request_id[:8]
    return ELLIPSIS + request_id[-8:]


def forms(request_id: str) -> tuple[str, ...]:
    """The short forms of an id, shortest first; the whole id is always the last."""
    if len(request_id) <= SHORT:
        return (request_id,)
    if _is_uuid(request_id):
        cuts = [request_id[:n] for n in _UUID_CUTS]
    else:
        cuts = [ELLIPSIS + request_id[-n:] for n in _TAIL_CUTS if n + 1 < len(request_id)]
    return (*cuts, request_id)


class ShortIds:
    def __init__(self) -> None:
        self._alone: dict[str, str] = {}  # first form -> the one id that has it
        self._shared: dict[str, set[str]] = {}  # first form -> the ids that share it
        # Longer forms, counted only for the ids whose first form is shared.
        self._deeper: list[Counter[str]] = [Counter() for _ in range(len(_UUID_CUTS))]
        # Ids by their last cut, sorted: the nearest look-alike of an id is next to it.
        self._alike: dict[str, list[str]] = {}
        self.longest = 0  # the longest first form seen
        self._width: int | None = 0  # the widest form in use; None: to be measured again

    def add(self, request_id: str) -> None:
        first = first_form(request_id)
        self.longest = max(self.longest, len(first))
        shared = self._shared.get(first)
        if shared is not None:
            if request_id not in shared:
                shared.add(request_id)
                self._count(request_id, +1)
                self._width = None
            return
        alone = self._alone.get(first)
        if alone is None:
            self._alone[first] = request_id
        elif alone != request_id:
            del self._alone[first]
            self._shared[first] = {alone, request_id}
            self._count(alone, +1)
            self._count(request_id, +1)
            self._width = None

    def remove(self, request_id: str) -> None:
        first = first_form(request_id)
        if self._alone.get(first) == request_id:
            del self._alone[first]
            return
        shared = self._shared.get(first)
        if shared is None or request_id not in shared:
            return
        shared.discard(request_id)
        self._count(request_id, -1)
        self._width = None
        if len(shared) == 1:
            (last,) = shared
            self._count(last, -1)
            del self._shared[first]
            self._alone[first] = last

    def _count(self, request_id: str, step: int) -> None:
        cuts = forms(request_id)[1:-1]
        for level, form in enumerate(cuts):
            counts = self._deeper[level]
            counts[form] += step
            if counts[form] <= 0:
                del counts[form]
        last = cuts[-1] if cuts else first_form(request_id)
        alike = self._alike.setdefault(last, [])
        at = bisect_left(alike, request_id)
        present = at < len(alike) and alike[at] == request_id
        if step > 0 and not present:
            alike.insert(at, request_id)
        elif step < 0 and present:
            del alike[at]
            if not alike:
                del self._alike[last]

    def short(self, request_id: str) -> str:
        """The shortest form no other watched id shares."""
        first = first_form(request_id)
        if first not in self._shared:
            return first
        found = forms(request_id)
        for level, form in enumerate(found[1:-1]):
            if self._deeper[level][form] <= 1:
                return form
        if len(request_id) <= WIDEST:
            return request_id
        alike = self._alike.get(found[-2] if len(found) > 1 else first, [])
        at = bisect_left(alike, request_id)
        return _middle(request_id, alike[max(0, at - 1) : at + 2])

    @property
    def width(self) -> int:
        """Room for every short form in use."""
        if self._width is None:
            shared = (rid for group in self._shared.values() for rid in group)
            self._width = max((len(self.short(rid)) for rid in shared), default=0)
        return max(self.longest, self._width)


def _middle(request_id: str, alike: Iterable[str]) -> str:
    """A long id by the place where it parts from the look-alike nearest to it."""
    apart = 0
    for other in alike:
        if other != request_id:
            same = next(
                (i for i, (a, b) in enumerate(zip(request_id, other, strict=False)) if a != b),
                min(len(request_id), len(other)),
            )
            apart = max(apart, same)
    start = max(0, min(apart - _AROUND, len(request_id) - 2 * _AROUND))
    end = start + 2 * _AROUND
    head = ELLIPSIS if start > 0 else ""
    tail = ELLIPSIS if end < len(request_id) else ""
    return head + request_id[start:end] + tail
