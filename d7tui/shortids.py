"""Short forms of request ids that tell every watched id apart (no Textual).

A UUID reads by its first group (`3f2a9c1e`), any other id by its end, where ids made one after
another differ (`…53335780` for an Infobip message id); a short id reads whole. When two ids
would read alike, both read longer, until they differ. Kept up to date as ids come and go: a
lookup is a few dictionary reads, whatever the number of ids, and only ids that share their
first form are counted at the longer ones (100,000 ids are taken in in a fraction of a second).
"""

from __future__ import annotations

from collections import Counter

ELLIPSIS = "…"
SHORT = 12  # an id this long or shorter reads whole
_UUID_CUTS = (8, 13, 18, 23)  # the first one, two, three, four groups
_TAIL_CUTS = (8, 12, 16, 24)
SHARED_WIDTH = 13  # what the second form of an id is at most


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
        self.longest = 0  # the longest first form seen

    def add(self, request_id: str) -> None:
        first = first_form(request_id)
        self.longest = max(self.longest, len(first))
        shared = self._shared.get(first)
        if shared is not None:
            if request_id not in shared:
                shared.add(request_id)
                self._count(request_id, +1)
            return
        alone = self._alone.get(first)
        if alone is None:
            self._alone[first] = request_id
        elif alone != request_id:
            del self._alone[first]
            self._shared[first] = {alone, request_id}
            self._count(alone, +1)
            self._count(request_id, +1)

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
        if len(shared) == 1:
            (last,) = shared
            self._count(last, -1)
            del self._shared[first]
            self._alone[first] = last

    def _count(self, request_id: str, step: int) -> None:
        for level, form in enumerate(forms(request_id)[1:-1]):
            counts = self._deeper[level]
            counts[form] += step
            if counts[form] <= 0:
                del counts[form]

    def short(self, request_id: str) -> str:
        """The shortest form no other watched id shares."""
        first = first_form(request_id)
        if first not in self._shared:
            return first
        found = forms(request_id)
        for level, form in enumerate(found[1:-1]):
            if self._deeper[level][form] <= 1:
                return form
        return found[-1]

    @property
    def width(self) -> int:
        """Room for every short form (save two ids alike beyond their first two forms)."""
        return max(self.longest, SHARED_WIDTH if self._shared else 0)
