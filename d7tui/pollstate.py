"""What the poller knows about each watched id, how often it asks, and what it reports.

Plain data, no I/O: `Poller` (d7tui.poller) drives these; the screen and, later, the store read
them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from d7tui.errors import ChannelError
from d7tui.models import Channel, RequestStatus, Target, Transition

# The credential each channel's polls depend on: a refused credential stops every channel using it.
D7_CREDENTIAL = "D7_API_TOKEN"
INFOBIP_CREDENTIAL = "INFOBIP_API_KEY"


def credential_of(channel: str) -> str:
    """The credential a channel's polls depend on (each is its own host)."""
    return INFOBIP_CREDENTIAL if channel == Channel.INFOBIP.value else D7_CREDENTIAL


@dataclass(frozen=True, slots=True)
class RateHold:
    """A host that asked to wait (a 429, or a 503 with Retry-After): nothing is asked of it
    before `until` (the poller's clock)."""

    host: str
    until: float
    status: int = 429


class Fetcher(Protocol):
    async def fetch(self, target: Target) -> RequestStatus: ...


@runtime_checkable
class BatchFetcher(Fetcher, Protocol):
    """A fetcher that answers many targets in few calls: targets with the same `batch_key`
    (not None) are asked together by `fetch_many` (Infobip logs take lists of ids)."""

    def batch_key(self, target: Target) -> str | None: ...

    async def fetch_many(
        self, targets: Sequence[Target]
    ) -> Mapping[str, RequestStatus | ChannelError]: ...


class WatchStatus(StrEnum):
    WAITING = "waiting"  # added, no answer yet
    ACTIVE = "active"  # polled on its schedule
    DONE = "done"  # every recipient final, confirmed by a second poll: not polled any more
    NOT_FOUND = "not found"  # the API did not know it for the whole grace period
    STALE = "stale"  # older than `stale_after`: given up, still shown
    # The API no longer has it (Infobip keeps 48 hours): its last state is shown as remembered,
    # and it is not asked again in vain.
    MEMORY = "from memory"
    AUTH = "auth"  # its credential was refused: held until the user fixes it and resumes


# Not polled until the user asks (r): final, given up, refused, or forgotten by the API.
RESTING = (WatchStatus.DONE, WatchStatus.NOT_FOUND, WatchStatus.STALE, WatchStatus.MEMORY)


class Backlog:
    """How many watched ids are queued (handed to the workers, not settled yet) and how many
    will be asked again (queued, in flight or scheduled): kept as each watch changes (`Watch`
    counts itself in), for the status line's "N queued" and "all final". A pass over every
    watch took 50-60 ms at 100,000 ids, and the status line asks twice a second."""

    __slots__ = ("queued", "stale", "to_poll")

    def __init__(self) -> None:
        self.queued = 0
        self.to_poll = 0
        self.stale = 0  # given up (older than stale_after) and not asked again: not final

    def count(self, watch: Watch, sign: int) -> None:
        """Add (sign 1) or take out (-1) what the watch adds, as it is now."""
        if watch.queued:
            self.queued += sign
            self.to_poll += sign
        elif watch.status not in RESTING:
            self.to_poll += sign
        elif watch.status is WatchStatus.STALE:
            self.stale += sign


@dataclass(frozen=True, slots=True)
class PollConfig:
    """The adaptive schedule, in seconds. Ages count from when the message was sent, if the API
    says so (Infobip's sentAt), else from when the id was added."""

    first_delay: float = 0.0  # the first poll after adding
    fast_interval: float = 2.0  # while younger than fast_period
    fast_period: float = 30.0
    growth: float = 1.5  # then each interval is the previous one times this ...
    max_interval: float = 60.0  # ... up to this
    slow_after: float = 3600.0
    slow_interval: float = 300.0
    slower_after: float = 6 * 3600.0
    slower_interval: float = 900.0
    stale_after: float = 72 * 3600.0  # then given up
    not_found_grace: float = 120.0  # a 404 is retried this long (the message may be in transit)
    # Infobip answers for this long after a message was sent (logs, and reports); past it an
    # id keeps the state last seen. Infobip's batch of due ids also takes those due within
    # `batch_early` of their interval (a share of it), so a poll round is one call.
    infobip_keep: float = 48 * 3600.0
    batch_early: float = 0.5
    error_backoff: float = 5.0  # unreachable/5xx: a channel waits this, doubling ...
    error_backoff_max: float = 300.0  # ... up to this
    workers: int = 16  # polls at once for each credential (D7, Infobip)
    scale: float = 1.0  # every interval is multiplied by this (`+` halves it, `-` doubles it)

    def interval(self, age: float, previous: float = 0.0) -> float | None:
        """The unscaled wait before the next poll, or None once the request is stale."""
        if age >= self.stale_after:
            return None
        if 0 <= age < self.fast_period:
            return self.fast_interval
        if age < self.slow_after:  # (a schedule time still in the future counts as young)
            return min(max(previous, self.fast_interval) * self.growth, self.max_interval)
        if age < self.slower_after:
            return self.slow_interval
        return self.slower_interval


@dataclass(eq=False, slots=True)
class Watch:
    """The poller's record of one watched id. Read it; only the poller changes it."""

    target: Target
    added_at: float
    channel: str  # the channel asked; for `auto`, the one that answered once known
    state: RequestStatus | None = None
    error: ChannelError | None = None
    _status: WatchStatus = WatchStatus.WAITING  # `status`
    sent_at: float | None = None
    last_poll: float | None = None
    last_change: float | None = None
    next_due: float | None = None
    interval: float = 0.0
    polls: int = 0
    final_seen: bool = False
    not_found_since: float | None = None
    probed: bool = False  # not found on its channel: the other D7 channels were asked once
    known_on: str | None = None  # ... and this one knows it
    _queued: bool = False  # `queued`
    again: bool = False  # a refresh came while it was queued: poll again at once
    by_hand: bool = False  # queued by a refresh (`r`): asked even while its channel is held
    asked_at: float | None = None  # when `r`/`R` (or a desk's ask) last asked for it
    observed_at: float | None = None  # when the API last answered with its recipients
    batch_key: str | None = None  # asked together with others of the same key (set on add)
    # The poller's counts this watch is in, while it is watched: told of every change of
    # `status` and `queued`.
    backlog: Backlog | None = None

    @property
    def status(self) -> WatchStatus:
        return self._status

    @status.setter
    def status(self, value: WatchStatus) -> None:
        self._counted("_status", value)

    @property
    def queued(self) -> bool:
        """Waiting for a worker, or in one."""
        return self._queued

    @queued.setter
    def queued(self, value: bool) -> None:
        self._counted("_queued", value)

    def _counted(self, field: str, value: object) -> None:
        """Set a field the backlog counts by, moving this watch between its counts."""
        backlog = self.backlog
        if backlog is not None:
            backlog.count(self, -1)
        setattr(self, field, value)
        if backlog is not None:
            backlog.count(self, 1)

    def count_in(self, backlog: Backlog | None) -> None:
        """Counted in these counts from now on (None: in none any more)."""
        if self.backlog is not None:
            self.backlog.count(self, -1)
        self.backlog = backlog
        if backlog is not None:
            backlog.count(self, 1)

    @property
    def request_id(self) -> str:
        return self.target.request_id

    @property
    def channel_key(self) -> str:
        return self.channel

    @property
    def credential(self) -> str:
        return credential_of(self.channel)

    def fetch_target(self) -> Target:
        if self.channel == self.target.channel:
            return self.target
        return replace(self.target, channel=self.channel)


@dataclass(frozen=True, slots=True)
class PollUpdate:
    """What one poll (or a change of schedule) did to a watched id."""

    request_id: str
    at: float
    channel: str
    status: WatchStatus
    state: RequestStatus | None
    error: ChannelError | None
    transitions: tuple[Transition, ...] = ()
    first: bool = False  # the first answer for this id: its transitions are "first seen"
    last_poll: float | None = None
    last_change: float | None = None
    next_due: float | None = None
    polls: int = 0
    known_on: str | None = None  # not found on its channel, but this channel knows the id
    # The bodies of the answer `state` was observed from, when the state does not hold them
    # (a D7 answer: the monitor holds its states without them, the store keeps them).
    raw: tuple[bytes, ...] = ()

    @property
    def stored_state(self) -> RequestStatus | None:
        """`state` as the store keeps it: with the raw bodies of its answer."""
        if self.state is None or not self.raw:
            return self.state
        return replace(self.state, raw=self.raw)


def held_without_raw(state: RequestStatus) -> bool:
    """Whether the monitor holds this state without its raw bodies, which go to the store with
    the poll's result (`PollUpdate.raw`): nothing in the monitor reads a D7 answer's body again
    (~330 bytes an id, 33 MB at 100,000 ids). Infobip's stay with the state: the merge of the
    next reports (`observe`) keeps them, and the store keeps the merge's."""
    return bool(state.raw) and state.channel is not Channel.INFOBIP


class NewsBatch:
    """Poll results on their way to the screen, as one batch. Results join it until the screen
    takes it: a flood is one pass of the screen (one repaint, one batch of alerts), however many
    came by the time it runs. Until then they are `waiting`, where the monitor's snapshot for a
    store rebuilt under it (`memory.held_snapshot`) sees them."""

    __slots__ = ("_updates", "taken")

    def __init__(self) -> None:
        self._updates: list[PollUpdate] = []
        self.taken = False

    def __len__(self) -> int:
        return len(self._updates)

    def add(self, update: PollUpdate) -> None:
        self._updates.append(update)

    @property
    def waiting(self) -> Sequence[PollUpdate]:
        """The results not taken yet."""
        return () if self.taken else self._updates

    def take(self) -> list[PollUpdate]:
        """The results, once (then none): the batch is closed, the next result opens another."""
        if self.taken:
            return []
        self.taken = True
        return self._updates


def sent_at(state: RequestStatus, now: float) -> float | None:
    """When the earliest message of the request was sent, if the API said (and it is past)."""
    times = []
    for recipient in state.recipients:
        value = recipient.fields.get("sentAt")
        if isinstance(value, str):
            try:
                when = datetime.fromisoformat(value.strip())
            except ValueError:
                continue
            if when.tzinfo is not None:
                stamp = when.timestamp()
                if stamp <= now:
                    times.append(stamp)
    return min(times) if times else None
