"""One poller for a desk: of the monitors on one shared database, the leader asks the vendors
and writes; every other one (a follower) asks the database.

`DeskFetcher` stands where the status client stands in front of the poller, so the poller, its
schedule, the transitions and the screen are the same for both: a follower's "poll" is a read of
what the leader stored, and the poller's own comparison of it with what it had shows the
change. A follower's answers are never written back (the app asks `leading` before saving).
Leadership itself (an advisory lock on the database) is the app's to take; it flips `leading`
to leading only while nothing is in flight (see `D7App`), so an answer read from the database is
never saved as if a vendor had given it. A leader that has not looked at its lead for a while
(it was stopped: ctrl+z, `kill -STOP`, a suspended laptop) looks (`confirm`) before it asks a
vendor anything: another monitor may lead now, and then this one reads the database instead
(two would poll everything twice); vendor answers still in flight then are not saved.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

from d7tui.errors import ChannelError, NotRead
from d7tui.models import Channel, RequestStatus, StoredAnswer, Target
from d7tui.pollstate import Fetcher
from d7tui.store.errors import StoreError

# What the database has of many ids, in one read, dated as stored (Memory.remembered_many).
Remembered = Callable[[Sequence[Target]], Awaitable[dict[str, StoredAnswer | None]]]
FOLLOWING = "desk"  # a follower's batch key: whatever it reads at once is one read
# Seconds without a look at the lead after which a leader looks before it asks a vendor (it
# looks every second while it runs: longer, it was stopped or suspended).
CONFIRM_AFTER = 3.0


class NotYetPolled(NotRead):
    """A follower asked about an id the leader has not answered for yet: nothing to show, and
    nobody failed (the row says "waiting…", as the leader's does; it said "⚠ API error")."""

    def __init__(self, leader: str) -> None:
        super().__init__("desk", f"waiting for the first answer from {leader}")


class DeskFetcher:
    """A Fetcher: the vendors' (`client`) while leading, the database's (`remembered`) while
    following."""

    def __init__(
        self,
        client: Fetcher,
        remembered: Remembered,
        *,
        leading: bool = False,
        confirm: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self.client = client
        self.remembered = remembered
        self.leading = leading
        self.confirm = confirm  # looks at the lead now: whether this one still leads
        self.confirmed = (time.monotonic(), time.time())  # the last look at the lead
        self.leader = "the leading d7tui"  # who leads, as the status line says it
        self.vendor_calls = 0  # polls that went to a vendor (for the benchmark)
        self.database_reads = 0  # reads of what the leader stored, and of how many ids
        self.ids_read = 0

    @property
    def engine(self) -> object:
        return getattr(self.client, "engine", None)

    @property
    def settings(self) -> object:
        return getattr(self.client, "settings", None)

    def batch_key(self, target: Target) -> str | None:
        if not self.leading:
            # Every id the follower is told changed is read in one go: the cost of following
            # is the changes', not a transaction per id.
            return FOLLOWING
        key_of = getattr(self.client, "batch_key", None)
        return None if key_of is None else key_of(target)  # type: ignore[no-any-return]

    def looked(self) -> None:
        """The lead was looked at just now."""
        self.confirmed = (time.monotonic(), time.time())

    def lost_for(self) -> float:
        """Seconds since the last look at the lead, by either clock (the monotonic one stands
        still while the machine sleeps, the wall clock may be set back)."""
        mono, wall = self.confirmed
        return max(time.monotonic() - mono, abs(time.time() - wall))

    async def _leads(self) -> bool:
        if self.leading and self.confirm is not None and self.lost_for() >= CONFIRM_AFTER:
            return await self.confirm()
        return self.leading

    async def fetch_many(
        self, targets: Sequence[Target]
    ) -> Mapping[str, RequestStatus | ChannelError]:
        if not await self._leads():
            return await self._read(targets)
        self.vendor_calls += 1
        return await self.client.fetch_many(targets)  # type: ignore[attr-defined,no-any-return]

    async def fetch(self, target: Target) -> RequestStatus:
        if await self._leads():
            self.vendor_calls += 1
            return await self.client.fetch(target)
        answer = (await self._read([target]))[target.request_id]
        if isinstance(answer, ChannelError):
            raise answer
        return answer

    async def _read(self, targets: Sequence[Target]) -> dict[str, RequestStatus | ChannelError]:
        self.database_reads += 1
        self.ids_read += len(targets)
        try:
            states = await self.remembered(targets)
        except StoreError as exc:  # the database is away: the rows keep what they had
            away = NotRead("desk", str(exc))
            return {t.request_id: away for t in targets}
        return {t.request_id: self._answer(t, states.get(t.request_id)) for t in targets}

    def _answer(self, target: Target, state: StoredAnswer | None) -> RequestStatus | ChannelError:
        if state is not None:
            return state
        if target.channel in {c.value for c in Channel}:
            # Nothing stored yet: an empty increment keeps the row waiting.
            return RequestStatus(target.request_id, Channel(target.channel), (), incremental=True)
        return NotYetPolled(self.leader)
