"""Which rows flash because poll news just changed them, and inside each request which
recipients: a row flashes for a moment after its news, then ends on the next tick."""

from __future__ import annotations

from collections.abc import Iterable

FLASH_SECONDS = 2.0


class Flashes:
    def __init__(self, seconds: float = FLASH_SECONDS) -> None:
        self.seconds = seconds
        self._until: dict[str, float] = {}  # request id -> monotonic end of its flash
        self._recipients: dict[str, set[str]] = {}

    def start(self, request_id: str, recipient_keys: Iterable[str], now: float) -> None:
        """The request's row flashes from `now` on, with these of its recipients (added to
        those still flashing from earlier news)."""
        self._until[request_id] = now + self.seconds
        self._recipients.setdefault(request_id, set()).update(recipient_keys)

    def end_due(self, now: float) -> None:
        ended = [rid for rid, until in self._until.items() if until <= now]
        for rid in ended:
            del self._until[rid]
            self._recipients.pop(rid, None)

    @property
    def requests(self) -> set[str]:
        return set(self._until)

    def recipients(self, request_id: str | None) -> set[str]:
        return self._recipients.get(request_id, set()) if request_id else set()
