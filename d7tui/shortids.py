"""Short forms of request ids that tell every watched id apart (no Textual).

A UUID reads by its first group (`3f2a9c1e`), any other id by its end, where ids made one after
another differ (`…53335780` for an Infobip message id); a short id reads whole. When two ids
would read alike, both read longer, until they differ. Kept up to date as ids come and go: a
lookup is a few dictionary reads, whatever the number of ids.
"""

from __future__ import annotations

from collections import Counter

ELLIPSIS = "…"
SHORT = 12  # an id this long or shorter reads whole
_UUID_CUTS = (8, 13, 18, 23)  # the first one, two, three, four groups
_TAIL_CUTS = (8, 12, 16, 24)


def _is_uuid(value: str) -> bool:
    return len(value) == 36 and all(value[i] == "-" for i in (8, 13, 18, 23))


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
        self._counts: list[Counter[str]] = [Counter() for _ in range(len(_UUID_CUTS) + 1)]

    def add(self, request_id: str) -> None:
        for level, form in enumerate(forms(request_id)):
            self._counts[level][form] += 1

    def remove(self, request_id: str) -> None:
        for level, form in enumerate(forms(request_id)):
            counts = self._counts[level]
            counts[form] -= 1
            if counts[form] <= 0:
                del counts[form]

    def short(self, request_id: str) -> str:
        """The shortest form no other watched id shares."""
        found = forms(request_id)
        for level, form in enumerate(found[:-1]):
            if self._counts[level][form] <= 1:
                return form
        return found[-1]
