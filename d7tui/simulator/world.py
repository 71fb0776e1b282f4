"""The simulated vendor's memory: requests and their messages, a clock that tests can move, the
log of every status change, and Infobip's queue of one-time reports.

Status changes are found lazily from a heap of next-due steps (one step per pop, so the changes
log and the report queue come out in time order across messages), and a poll costs O(log n)
however many messages exist. Every public method takes the lock: tests and the app call in from
other threads than the server's.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence, Set
from dataclasses import dataclass, field

from d7tui.simulator import lifecycles
from d7tui.simulator.lifecycles import Script, Step, StepLike

RETENTION = 48 * 3600.0  # Infobip keeps logs and undelivered reports this long
D7_CHANNELS = ("sms", "whatsapp", "viber")
# Infobip sends a bulk out over time, not in one instant: each message's sentAt is this many
# milliseconds after the previous group's, and several share a millisecond (so a client paging
# logs by a moving `sentUntil` meets ties, as it would at a real account's throughput).
SENT_PER_MS = 4

# A script for every recipient (one list of steps), or one per recipient (a list of lists).
ScriptArg = Sequence[StepLike] | Sequence[Sequence[StepLike]] | None


@dataclass(frozen=True, slots=True)
class Change:
    at: float  # simulated unix time of the step
    channel: str  # "sms" | "whatsapp" | "viber" | "infobip"
    request_id: str  # the bulkId for Infobip
    msg_id: str  # the messageId for Infobip
    recipient: str
    old: str | None  # None for a message's first status
    new: str


@dataclass(eq=False, slots=True)
class Message:
    msg_id: str
    recipient: str
    script: Script
    created: float  # simulated unix time
    channel: str
    owner: str  # request_id, or bulkId for Infobip
    step: int = -1  # index of the step reached so far
    done_at: float | None = None  # Infobip: when the last report-worthy status was reached
    extra: dict[str, object] = field(default_factory=dict)
    position: int = 0  # Infobip: place in sending order (what a logs cursor points at)

    @property
    def sent(self) -> float:
        """Infobip's sentAt (unix time): the bulk leaves over a few milliseconds."""
        return self.created + float(self.extra.get("sent_offset", 0.0))  # type: ignore[arg-type]

    @property
    def status(self) -> Step:
        return self.script[max(self.step, 0)]


@dataclass(slots=True)
class SimRequest:
    request_id: str
    channel: str
    messages: list[Message]
    created: float
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LogQuery:
    """One logs request, as the API reads its query. Lists are ANDed with each other (a bulkId
    and a messageId both given: messages of that bulk with that id), ORed within."""

    bulk_ids: frozenset[str] | None = None
    message_ids: frozenset[str] | None = None
    limit: int = 50
    general_status: str | None = None
    # In whole milliseconds of unix time, as the API's sentAt is written.
    sent_since: int | None = None  # sentAt at or after this
    sent_until: int | None = None  # sentAt strictly before this ("sent before this date")
    cursor: int | None = None  # cursor paging: hand out messages after this sending position


@dataclass(frozen=True, slots=True)
class Report:
    """One Infobip delivery report: the message as it was at one step."""

    at: float
    message: Message
    step: int


def _is_step(value: object) -> bool:
    return isinstance(value, tuple) and len(value) >= 2 and isinstance(value[0], int | float)


class World:
    def __init__(
        self,
        *,
        seed: int = 0,
        speed: float = 1.0,
        sms_failure: str = "un_delivered",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not speed >= 0:
            raise ValueError("speed must be >= 0 (0 freezes time: only advance() moves it)")
        self.lock = threading.RLock()
        self.rng = random.Random(seed)
        self.speed = speed
        self.sms_failure = sms_failure
        self._clock = clock
        self._mono0 = clock()
        self._wall0 = time.time()
        self._offset = 0.0
        self.requests: dict[str, SimRequest] = {}
        self.infobip: dict[str, Message] = {}  # messageId -> message, in sending order
        self.bulks: dict[str, list[str]] = {}
        self.changes: list[Change] = []
        self.reports: list[Report] = []  # one-time reports not yet handed out, oldest first
        # (messageId, status) of every one-time report handed out, in order: what a client
        # must account for (shown or kept), since nobody can ever read them again.
        self.handed_out: list[tuple[str, str]] = []
        self._due: list[tuple[float, int, Message]] = []
        self._seq = itertools.count()

    # -- time ----------------------------------------------------------------------------------

    def now(self) -> float:
        """Simulated unix time: real (or injected) monotonic time x speed, plus `advance`s."""
        return self._wall0 + (self._clock() - self._mono0) * self.speed + self._offset

    def monotonic(self) -> float:
        """The real (or injected) monotonic clock, unscaled: what a vendor's rate limit counts."""
        return self._clock()

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("simulated time only moves forward")
        with self.lock:
            self._offset += seconds
            self.catch_up()

    # -- creating traffic ----------------------------------------------------------------------

    def new_uuid(self, version: int = 4) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=version))

    def _scripts(self, channel: str, given: ScriptArg, count: int) -> list[Script]:
        if not given:
            make = {
                "sms": lambda: lifecycles.sms(self.rng, self.sms_failure),
                "viber": lambda: lifecycles.viber(self.rng),
                "whatsapp": lambda: lifecycles.whatsapp(self.rng),
                "infobip": lambda: lifecycles.infobip(self.rng),
            }[channel]
            return [make() for _ in range(count)]
        if _is_step(given[0]):
            shared = lifecycles.normalise(given)  # type: ignore[arg-type]
            return [shared] * count
        per = [lifecycles.normalise(s) for s in given]  # type: ignore[arg-type]
        return [per[i % len(per)] for i in range(count)]  # fewer scripts than recipients: cycle

    def _start(self, message: Message) -> None:
        """The first step happens at creation; queue the next."""
        self._take_step(message)

    def create_request(
        self,
        channel: str,
        recipients: Sequence[str],
        script: ScriptArg = None,
        extra: Sequence[dict[str, object]] | None = None,
        request_extra: dict[str, object] | None = None,
    ) -> str:
        channel = str(channel)  # a models.Channel works too
        if channel not in D7_CHANNELS:
            raise ValueError(f"not a D7 channel: {channel!r}")
        if not recipients:
            raise ValueError("a request needs at least one recipient")
        with self.lock:
            self.catch_up()
            rid = self.new_uuid(4)
            now = self.now()
            scripts = self._scripts(channel, script, len(recipients))
            messages = [
                Message(
                    msg_id=self.new_uuid(1),  # the pages' msg_ids are time-based (version 1)
                    recipient=r,
                    script=scripts[i],
                    created=now,
                    channel=channel,
                    owner=rid,
                    extra=dict(extra[i]) if extra and i < len(extra) else {},
                )
                for i, r in enumerate(recipients)
            ]
            self.requests[rid] = SimRequest(rid, channel, messages, now, dict(request_extra or {}))
            for m in messages:
                self._start(m)
            return rid

    def create_infobip_bulk(
        self,
        recipients: Sequence[str],
        script: ScriptArg = None,
        bulk_id: str | None = None,
        *,
        sender: str = "InfoSMS",
        text: str = "Hello from d7tui",
        callback_data: Sequence[str | None] | None = None,
        message_ids: Sequence[str | None] | None = None,
        campaign_reference_id: str | None = None,
    ) -> tuple[str, list[str]]:
        """`callback_data`: one per recipient (None leaves the field out, as Infobip omits
        nulls); by default every message gets one. `message_ids`: caller-chosen ids.
        `campaign_reference_id`: v3's campaignReferenceId (left out when None)."""
        if not recipients:
            raise ValueError("a bulk needs at least one recipient")
        with self.lock:
            self.catch_up()
            bulk = bulk_id or str(self.rng.randrange(10**18, 10**19))  # a 19-digit id
            now = self.now()
            scripts = self._scripts("infobip", script, len(recipients))
            ids = []
            for i, to in enumerate(recipients):
                chosen = message_ids[i] if message_ids and i < len(message_ids) else None
                mid = chosen or self.new_uuid(4)
                if mid in self.infobip:
                    raise ValueError(f"messageId {mid!r} already exists")
                if callback_data is None:
                    data: str | None = f"ticket-{i + 1}"
                else:
                    data = callback_data[i] if i < len(callback_data) else None
                extra: dict[str, object] = {
                    "from": sender,
                    "text": text,
                    "callbackData": data,
                    "sent_offset": (i // SENT_PER_MS) / 1000,
                }
                if campaign_reference_id is not None:
                    extra["campaignReferenceId"] = campaign_reference_id
                message = Message(
                    mid,
                    to,
                    scripts[i],
                    now,
                    channel="infobip",
                    owner=bulk,
                    extra=extra,
                    position=len(self.infobip),
                )
                self.infobip[mid] = message
                ids.append(mid)
                self._start(message)
            self.bulks.setdefault(bulk, []).extend(ids)
            return bulk, ids

    # -- moving on -----------------------------------------------------------------------------

    def _take_step(self, m: Message) -> None:
        """Apply the next step of `m` (it is due), log it, and queue the one after."""
        m.step += 1
        step = m.script[m.step]
        old = m.script[m.step - 1].status if m.step > 0 else None
        at = m.created + step.offset
        self.changes.append(Change(at, m.channel, m.owner, m.msg_id, m.recipient, old, step.status))
        if m.channel == "infobip" and step.status in lifecycles.INFOBIP_REPORTED:
            m.done_at = at
            self.reports.append(Report(at, m, m.step))
        if m.step + 1 < len(m.script):
            due = m.created + m.script[m.step + 1].offset
            heapq.heappush(self._due, (due, next(self._seq), m))

    def catch_up(self) -> None:
        with self.lock:
            now = self.now()
            while self._due and self._due[0][0] <= now:
                _, _, message = heapq.heappop(self._due)
                self._take_step(message)

    # -- what the vendor answers with ----------------------------------------------------------

    def find_request(self, request_id: str, channel: str) -> SimRequest | None:
        """The request, if it exists on that channel: another channel's id is unknown here."""
        with self.lock:
            self.catch_up()
            found = self.requests.get(request_id)
            return found if found is not None and found.channel == channel else None

    def take_reports(
        self, bulk_ids: Set[str] | None, message_ids: Set[str] | None, limit: int
    ) -> list[Report]:
        """Infobip's one-time reports: the oldest `limit` matching ones, removed as handed out."""
        with self.lock:
            self.catch_up()
            horizon = self.now() - RETENTION
            taken: list[Report] = []
            kept: list[Report] = []
            for report in self.reports:
                if report.at < horizon:
                    continue  # expired unread
                m = report.message
                match = (bulk_ids is None or m.owner in bulk_ids) and (
                    message_ids is None or m.msg_id in message_ids
                )
                if match and len(taken) < limit:
                    taken.append(report)
                else:
                    kept.append(report)
            self.reports = kept
            self.handed_out.extend(
                (r.message.msg_id, r.message.script[r.step].status) for r in taken
            )
            return taken

    def logs(self, query: LogQuery) -> tuple[list[Message], bool]:
        """Current state of matching messages sent in the last 48 h (re-readable), and whether
        more match than were handed out. Without a cursor: the latest `limit` by sentAt, newest
        first ("if not set, the latest 50 records are returned"); with one: sending order,
        from just after the cursor."""
        with self.lock:
            self.catch_up()
            horizon = self.now() - RETENTION
            candidates: Iterable[Message]
            if query.bulk_ids is not None:
                found = [self.infobip[mid] for b in query.bulk_ids for mid in self.bulks.get(b, [])]
                candidates = sorted(set(found), key=lambda m: m.position)
            elif query.message_ids is not None:
                found = [self.infobip[mid] for mid in query.message_ids if mid in self.infobip]
                candidates = sorted(found, key=lambda m: m.position)
            else:
                candidates = self.infobip.values()
            matched = [m for m in candidates if m.sent >= horizon and _matches(m, query)]
            if query.cursor is not None:
                after = [m for m in matched if m.position > query.cursor]
                return after[: query.limit], len(after) > query.limit
            newest = sorted(matched, key=lambda m: (m.sent, m.position), reverse=True)
            return newest[: query.limit], len(newest) > query.limit

    def snapshot_changes(self) -> list[Change]:
        with self.lock:
            self.catch_up()
            return list(self.changes)


def _matches(m: Message, query: LogQuery) -> bool:
    if query.message_ids is not None and m.msg_id not in query.message_ids:
        return False
    sent_ms = math.floor(m.sent * 1000)
    if query.sent_since is not None and sent_ms < query.sent_since:
        return False
    if query.sent_until is not None and sent_ms >= query.sent_until:
        return False
    if query.general_status is not None:
        group = lifecycles.INFOBIP_STATUS.get(m.status.status, (0, "", 0, ""))[1]
        if group.upper() != query.general_status.upper():
            return False
    return True
