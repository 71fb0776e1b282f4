"""At most so many calls in any minute, per host: Infobip's documented throttling of its logs
(120 requests a minute, v1 and v3 together). Asking faster only earns 429s (E429) that every
other consumer of the account shares; waiting for a free slot costs nothing but time."""

from __future__ import annotations

import collections
from urllib.parse import urlsplit

from d7tui.clock import Clock, SystemClock

WINDOW = 60.0


class Pacer:
    def __init__(self, per_minute: int | None = 120, clock: Clock | None = None) -> None:
        self.per_minute = per_minute
        self.clock = clock or SystemClock()
        self._sent: dict[str, collections.deque[float]] = {}
        self.waited = 0  # calls that had to wait for a slot

    async def slot(self, url: str) -> None:
        """Return when a call to `url`'s host may go without passing the limit (and count it)."""
        if self.per_minute is None:
            return
        sent = self._sent.setdefault(urlsplit(url).netloc, collections.deque())
        waited = False
        while True:
            now = self.clock.now()
            while sent and sent[0] <= now - WINDOW:
                sent.popleft()
            if len(sent) < self.per_minute:
                sent.append(now)
                self.waited += waited
                return
            waited = True
            await self.clock.sleep(sent[0] + WINDOW - now)
