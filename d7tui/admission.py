"""Who may send a request now: a bound on requests in flight, and each host's share of it.

Measured facts behind it: a semaphore no larger than the connection pool is what keeps a burst of
a thousand requests from failing with pool timeouts (client.py); and with one bound shared by
every host, 40 ids on a D7 host that never answered held every slot, so an Infobip bulk on
another host was polled 0 times in 60 s (issue #11). So each host has a share:

- a host that has not answered yet, or whose last try got no answer (a timeout, a refused
  connection), may hold at most half the slots: a dead host never holds them all;
- once d7tui talks to more than one host, a host that answers may hold all but a quarter of them,
  so that a slow one leaves room for the others;
- a host that answers and is the only one asked may use every slot (`d7tui status` of 10,000 D7
  ids keeps its full speed);
- a host that refuses for rate (429, or 503 asking to wait) gets one request at a time until it
  takes one again: after a hold, one request asks whether the host is back, not a burst of
  sixteen that all get refused (a 429 storm was 650 requests in 93 s for 200 ids).

Waiters are served in order, skipping those whose host is at its share, so a request for a
healthy host never queues behind one for a stuck host.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Admission:
    def __init__(self, total: int) -> None:
        self.total = max(1, total)
        self.busy = 0
        self._by_host: dict[str, int] = {}
        self._answering: dict[str, bool] = {}  # host -> its last try got an answer
        self._refusing: set[str] = set()  # hosts whose last answer refused for rate
        self._waiting: deque[tuple[str, asyncio.Future[None]]] = deque()

    def share(self, host: str) -> int:
        """How many requests `host` may have in flight at once, now."""
        if host in self._refusing:
            return 1
        if not self._answering.get(host, False):
            return max(1, self.total // 2)
        if len(self._answering) > 1:
            return max(1, self.total - self.total // 4)
        return self.total

    def in_flight(self, host: str) -> int:
        return self._by_host.get(host, 0)

    def _may(self, host: str) -> bool:
        return self.busy < self.total and self._by_host.get(host, 0) < self.share(host)

    def _take(self, host: str) -> None:
        self.busy += 1
        self._by_host[host] = self._by_host.get(host, 0) + 1

    async def acquire(self, host: str) -> None:
        """Wait for a slot for `host`; every acquire is paired with one `release`."""
        self._answering.setdefault(host, False)
        # After every release _grant leaves no waiter that could go, so a free slot within this
        # host's share belongs to this request: no need to queue behind a stuck host's waiters.
        if self._may(host):
            self._take(host)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (host, future)
        self._waiting.append(entry)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release(host)  # granted as we were cancelled: pass it on
            elif entry in self._waiting:
                self._waiting.remove(entry)
            raise

    def release(self, host: str) -> None:
        self.busy -= 1
        self._by_host[host] -= 1
        self._grant()

    def heard(self, host: str, *, answered: bool) -> None:
        """What the last try to `host` got: an answer (any status), or none."""
        if self._answering.get(host) is not answered:
            self._answering[host] = answered
            if answered:
                self._grant()  # its share grew

    def refusing(self, host: str, refused: bool) -> None:
        """Whether `host`'s last answer refused for rate (one request at a time while it does)."""
        if refused:
            self._refusing.add(host)
        elif host in self._refusing:
            self._refusing.discard(host)
            self._grant()  # its share grew

    def _grant(self) -> None:
        if not self._waiting:
            return
        kept: deque[tuple[str, asyncio.Future[None]]] = deque()
        while self._waiting:
            host, future = entry = self._waiting.popleft()
            if future.done():
                continue
            if self._may(host):
                self._take(host)
                future.set_result(None)
            else:
                kept.append(entry)
        self._waiting = kept
