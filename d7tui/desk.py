"""One poller for a desk: of the monitors on one shared database, the leader asks the vendors
and writes; every other one (a follower) asks the database.

`DeskFetcher` stands where the status client stands in front of the poller, so the poller, its
schedule, the transitions and the screen are the same for both: a follower's "poll" is a read of
what the leader stored, and the poller's own comparison of it with what it had shows the
change. A follower's answers are never written back (the app asks `leading` before saving).
Leadership itself (an advisory lock on the database) is the app's to take; it flips `leading`
only while nothing is in flight (see `D7App`), so an answer read from the database is never
saved as if a vendor had given it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from d7tui.errors import ApiError, ChannelError, Unreachable
from d7tui.models import Channel, RequestStatus, Target
from d7tui.pollstate import Fetcher
from d7tui.store.errors import StoreError

Remembered = Callable[[Target], Awaitable[RequestStatus | None]]


class NotYetPolled(ApiError):
    """A follower asked about an id the leader has not answered for yet."""

    def __init__(self, leader: str) -> None:
        super().__init__("desk", f"waiting for the first answer from {leader}")


class DeskFetcher:
    """A Fetcher: the vendors' (`client`) while leading, the database's (`remembered`) while
    following."""

    def __init__(self, client: Fetcher, remembered: Remembered, *, leading: bool = False) -> None:
        self.client = client
        self.remembered = remembered
        self.leading = leading
        self.leader = "the leading d7tui"  # who leads, as the status line says it
        self.vendor_calls = 0  # polls that went to a vendor (for the benchmark)

    @property
    def engine(self) -> object:
        return getattr(self.client, "engine", None)

    @property
    def settings(self) -> object:
        return getattr(self.client, "settings", None)

    def batch_key(self, target: Target) -> str | None:
        key_of = getattr(self.client, "batch_key", None)
        if not self.leading or key_of is None:
            return None  # a follower reads the database one id at a time
        return key_of(target)  # type: ignore[no-any-return]

    async def fetch_many(
        self, targets: Sequence[Target]
    ) -> Mapping[str, RequestStatus | ChannelError]:
        self.vendor_calls += 1
        return await self.client.fetch_many(targets)  # type: ignore[attr-defined,no-any-return]

    async def fetch(self, target: Target) -> RequestStatus:
        if self.leading:
            self.vendor_calls += 1
            return await self.client.fetch(target)
        try:
            state = await self.remembered(target)
        except StoreError as exc:  # the database is away: the row keeps what it had
            raise Unreachable("desk", str(exc)) from None
        if state is not None:
            return state
        if target.channel in {c.value for c in Channel}:
            # Nothing stored yet: an empty increment keeps the row waiting.
            return RequestStatus(target.request_id, Channel(target.channel), (), incremental=True)
        raise NotYetPolled(self.leader)
