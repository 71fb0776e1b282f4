"""Which of two versions of a route a host answers on, decided answer by answer.

The newer route is asked first. A 404 that is not the API's own documented answer means the route
itself is missing there (an account or a proxy that does not have it yet): the older route is
asked instead, and for a while that host goes straight to it, after which the newer one is tried
again (accounts are migrated, proxies reconfigured). Used for D7 WhatsApp reports (v2, then v1)
and for Infobip's logs and reports (v3, then v1).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

RETRY_NEWER_AFTER = 600.0  # seconds on the older route before the newer one is tried again


class RouteVersions:
    def __init__(
        self,
        retry_after: float = RETRY_NEWER_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.retry_after = retry_after
        self.clock = clock
        self._older_since: dict[tuple[str, str], float] = {}

    @staticmethod
    def _key(base_url: str, family: str) -> tuple[str, str]:
        return urlsplit(base_url).netloc, family

    def use_older(self, base_url: str, family: str) -> bool:
        """Whether to go straight to the older route for this host (the newer one was missing
        there a short while ago)."""
        key = self._key(base_url, family)
        since = self._older_since.get(key)
        if since is None:
            return False
        if self.clock() - since >= self.retry_after:
            del self._older_since[key]
            return False
        return True

    def newer_missing(self, base_url: str, family: str) -> None:
        self._older_since[self._key(base_url, family)] = self.clock()

    def newer_answered(self, base_url: str, family: str) -> None:
        self._older_since.pop(self._key(base_url, family), None)
