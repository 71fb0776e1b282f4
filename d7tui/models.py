"""The normalized data model shared by every channel: plain dataclasses, no Textual, no HTTP.

A *request* (what the user watches: a D7 request id or an Infobip bulk/message id) has *recipients*;
each recipient carries the raw status exactly as the API said it, the phase d7tui derived from it,
and every other field the vendor documents (in ``fields``, under the vendor's own key names).
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from d7tui.safety import safe_text

JSONValue = Any  # a value as json.loads() returns it (after safe_text cleaning)


class Phase(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    UNKNOWN = "unknown"


_PHASES = tuple(Phase)
# Phase counts of requests with a few recipients, one dict for each distinct count, shared by
# every request with that count: an entry and its share of the totals each held one (~220 bytes
# an id at 100,000 ids, almost all of them alike). Never changed by anyone (`phase_counts`).
_SHARED_COUNTS: dict[tuple[int, ...], dict[Phase, int]] = {}
_SHARED_UP_TO = 8  # recipients: bounds the shared counts to a few hundred
# The same for costs by currency (`cost_by_currency`): at 100,000 ids, almost every request
# costs one of a few amounts. Bounded: amounts may be many.
_SHARED_COSTS: dict[tuple[str | None, float], dict[str | None, float]] = {}
_SHARED_COSTS_MAX = 4096


class Channel(StrEnum):
    SMS = "sms"
    WHATSAPP = "whatsapp"
    VIBER = "viber"
    INFOBIP = "infobip"


# What the user may ask for: a concrete channel, or "auto" (ask the three D7 channels at once).
CHANNEL_CHOICES = ("auto", *(c.value for c in Channel))
D7_CHANNELS = (Channel.SMS, Channel.WHATSAPP, Channel.VIBER)
# The plain string, for comparisons made for every id and answer (an enum member's `.value` is
# a descriptor call, over ten times slower than comparing two strings).
INFOBIP = Channel.INFOBIP.value


class IdKind(StrEnum):
    """Which Infobip filter an id is: D7 ids are always request ids."""

    REQUEST = "request_id"
    BULK = "bulkId"
    MESSAGE = "messageId"


class InfobipSource(StrEnum):
    REPORTS = "reports"  # one-time: reading them takes them away from every other consumer
    LOGS = "logs"  # re-readable for 48 h


# ---------------------------------------------------------------------------------------------
# Phase mapping. The raw status is always kept; the phase is only our reading of it.

_D7_STATUS: dict[str, tuple[Phase, bool]] = {
    "scheduled": (Phase.PENDING, False),
    "accepted": (Phase.PENDING, False),
    "queued": (Phase.PENDING, False),
    "processed": (Phase.PENDING, False),
    "processing": (Phase.PENDING, False),
    "sent": (Phase.PENDING, False),
    "delivered": (Phase.DELIVERED, True),
    "read": (Phase.READ, True),
    # The vendor spells SMS failure both ways across its own pages; Viber uses "undelivered".
    "un_delivered": (Phase.FAILED, True),
    "undelivered": (Phase.FAILED, True),
    "not_reachable": (Phase.FAILED, True),
    "spam_content": (Phase.FAILED, True),
    "insufficient_credit": (Phase.FAILED, True),
    "rejected": (Phase.FAILED, True),
    "failed": (Phase.FAILED, True),
    "dropped": (Phase.FAILED, True),
    "expired": (Phase.FAILED, True),
}


def classify_d7(channel: Channel, status: object) -> tuple[Phase, bool]:
    """Phase and finality of a D7 (sms/whatsapp/viber) raw status; unknown values are not errors."""
    if not isinstance(status, str):
        return Phase.UNKNOWN, False
    phase, final = _D7_STATUS.get(status.strip().lower(), (Phase.UNKNOWN, False))
    if channel is Channel.WHATSAPP and phase is Phase.DELIVERED:
        final = False  # a delivered WhatsApp message can still become "read"
    return phase, final


_INFOBIP_GROUP: dict[str, tuple[Phase, bool]] = {
    "PENDING": (Phase.PENDING, False),
    "ACCEPTED": (Phase.PENDING, False),
    "UNDELIVERABLE": (Phase.FAILED, True),
    "EXPIRED": (Phase.FAILED, True),
    "REJECTED": (Phase.FAILED, True),
}
_INFOBIP_GROUP_IDS = {1: "PENDING", 2: "UNDELIVERABLE", 3: "DELIVERED", 4: "EXPIRED", 5: "REJECTED"}


def classify_infobip(
    group_name: object, name: object, group_id: object = None
) -> tuple[Phase, bool]:
    """Infobip's phase comes from the status *name* first: DELIVERED_TO_OPERATOR is in group
    DELIVERED but a handset report may still follow; DELIVERED_TO_HANDSET is final."""
    status_name = name.strip().upper() if isinstance(name, str) else ""
    if status_name == "DELIVERED_TO_HANDSET":
        return Phase.DELIVERED, True
    if status_name == "DELIVERED_TO_OPERATOR":
        return Phase.DELIVERED, False
    group = group_name.strip().upper() if isinstance(group_name, str) else ""
    if not group and isinstance(group_id, int) and not isinstance(group_id, bool):
        group = _INFOBIP_GROUP_IDS.get(group_id, "")
    if not group and status_name:
        group = status_name.split("_", 1)[0]
    if group == "DELIVERED":
        # A DELIVERED-group name we do not know: delivered, but not provably to the handset.
        return Phase.DELIVERED, False
    return _INFOBIP_GROUP.get(group, (Phase.UNKNOWN, False))


# ---------------------------------------------------------------------------------------------


def plain_key(msg_id: str | None, recipient: str | None) -> str:
    """A message's key when its answer gives no other message the same one: its msg_id (D7's
    msg_id, Infobip's messageId), or its number when it has none. What every key was before
    `keyed`, so the keys of stores and exports written then are still the same."""
    return msg_id or recipient or ""


@dataclass(frozen=True, slots=True)
class Recipient:
    """One message of a request, as last reported."""

    msg_id: str | None
    recipient: str | None
    status: str | None  # the raw status as the API spelled it (cleaned of control characters)
    phase: Phase
    final: bool
    reason: str | None = None
    cost: float | None = None
    currency: str | None = None
    parts: int | None = None
    country: str | None = None
    schedule_time: str | None = None
    # Every other field the API gave for this recipient, under the vendor's own key names.
    fields: dict[str, JSONValue] = field(default_factory=dict)
    # A sibling-local parse problem (the recipient is kept, shown as what it is).
    problem: str | None = None
    # Which message of its request this is (the `key`): given empty, its msg_id, or for a
    # message without one its number. `keyed` gives the messages of an answer that repeats one
    # (a server answering one msg_id for two numbers) keys of their own.
    recipient_key: str = ""

    def __post_init__(self) -> None:
        if not self.recipient_key:
            object.__setattr__(self, "recipient_key", plain_key(self.msg_id, self.recipient))

    @property
    def key(self) -> str:
        """Stable identity of this recipient inside its request."""
        return self.recipient_key

    def to_json(self) -> dict[str, JSONValue]:
        """The normalised keys, then `fields`: everything the API said of this recipient, under
        its own key names (Infobip's `status` and `error` objects whole, `smsCount`, D7's
        `sms_cost` ...). Nested rather than flattened: a vendor key such as Infobip's `status`
        object would collide with the normalised `status` string."""
        out: dict[str, JSONValue] = {
            "msg_id": self.msg_id,
            "recipient": self.recipient,
            "status": self.status,
            "phase": self.phase.value,
            "final": self.final,
            "reason": self.reason,
            "cost": self.cost,
            "currency": self.currency,
            "parts": self.parts,
            "country": self.country,
            "schedule_time": self.schedule_time,
            "recipient_key": self.recipient_key,
        }
        if self.problem:
            out["problem"] = self.problem
        out["fields"] = dict(self.fields)
        return out


@dataclass(frozen=True, slots=True)
class RequestStatus:
    """What one status call (or one drain of Infobip reports) said about a watched id."""

    request_id: str
    channel: Channel
    recipients: tuple[Recipient, ...]
    # Top-level fields other than the recipient list (total_recipients, the API's own "channel",
    # request_stage, schedule_time, ...), under the vendor's key names.
    fields: dict[str, JSONValue] = field(default_factory=dict)
    # The response bodies exactly as received (several for a drained Infobip pull), for export.
    raw: tuple[bytes, ...] = ()
    # True for Infobip's one-time reports: `recipients` holds only what is new since the last
    # pull, in the order received (the same message may appear twice), to be merged with what
    # was known before (see `observe`).
    incremental: bool = False
    # Set when this is what the store remembered rather than what the API said now (Infobip's
    # logs forget after 48 hours): the unix time it was last observed from the API.
    remembered: float | None = None

    @property
    def final(self) -> bool:
        return bool(self.recipients) and all(r.final for r in self.recipients)

    def phase_counts(self) -> dict[Phase, int]:
        """Recipients by phase. Shared with other requests of the same counts: read, never
        change it (copy it first)."""
        counts = dict.fromkeys(_PHASES, 0)  # not `Phase`: iterating an enum is slow (100,000 x)
        for r in self.recipients:
            counts[r.phase] += 1
        if len(self.recipients) > _SHARED_UP_TO:
            return counts
        return _SHARED_COUNTS.setdefault(tuple(counts.values()), counts)

    def cost_by_currency(self) -> dict[str | None, float]:
        """What its recipients cost, by currency (None: unnamed); empty before any cost.
        Shared with other requests of the same cost, as `phase_counts`: read, never change."""
        costs: dict[str | None, float] = {}
        for r in self.recipients:
            if r.cost is not None:
                costs[r.currency] = costs.get(r.currency, 0.0) + r.cost
        if len(costs) != 1:
            return costs
        ((currency, amount),) = costs.items()  # (a sum from 0.0: never -0.0, shown apart)
        shared = _SHARED_COSTS.get((currency, amount))
        if shared is not None:
            return shared
        if len(_SHARED_COSTS) < _SHARED_COSTS_MAX:
            _SHARED_COSTS[currency, amount] = costs
        return costs

    def total_cost(self) -> tuple[float, str | None] | None:
        costs = [r for r in self.recipients if r.cost is not None]
        if not costs:
            return None
        currencies = {r.currency for r in costs}
        return sum(r.cost or 0.0 for r in costs), (
            currencies.pop() if len(currencies) == 1 else None
        )

    def to_json(self) -> dict[str, JSONValue]:
        """Our keys (`channel` is the channel d7tui asked; the API's own `channel`, which
        Viber's page gives as "sms", is in `fields`), then the API's top-level fields, then the
        recipients."""
        out: dict[str, JSONValue] = {"request_id": self.request_id, "channel": self.channel.value}
        vendor = dict(self.fields)
        problems = vendor.pop("problems", None)
        if problems:
            out["problems"] = problems
        if self.remembered is not None:
            out["from_memory"] = True
            out["observed_at"] = datetime.fromtimestamp(self.remembered, UTC).isoformat()
        out["fields"] = vendor
        out["recipients"] = [r.to_json() for r in self.recipients]
        return out


@dataclass(frozen=True, slots=True)
class StoredAnswer(RequestStatus):
    """A state as a store holds it, with when the one who polled learnt it: what a desk's
    follower reads of what the leader stored. The follower's transitions and "since" are the
    store's times, not the moment it read them (a follower stopped overnight, or a laptop
    asleep, showed every change of the night as "just now", and two monitors of one desk
    disagreed on when a message failed)."""

    observed_at: float | None = None  # the poll that gave it
    changed_at: float | None = None  # its last transition: the row's "Since"
    # The newest stored transition of each recipient, by key: when, and to which status.
    changes: Mapping[str, tuple[float, str | None]] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        state: RequestStatus,
        observed_at: float | None,
        changed_at: float | None,
        changes: Mapping[str, tuple[float, str | None]],
    ) -> StoredAnswer:
        return cls(
            state.request_id,
            state.channel,
            state.recipients,
            state.fields,
            state.raw,
            state.incremental,
            state.remembered,
            observed_at,
            changed_at,
            changes,
        )

    def dated(self, transitions: Iterable[Transition]) -> list[Transition]:
        """`transitions` (what the reader sees change since it last looked) at the times the
        store has them; one the store has no time for keeps its own (an Infobip report
        applied on top of the stored state)."""
        out = []
        for t in transitions:
            at, status = self.changes.get(t.recipient_key, (None, None))
            out.append(t if at is None or status != t.new_status else replace(t, at=at))
        return out


@dataclass(frozen=True, slots=True)
class Target:
    """A watched id and how to ask for it."""

    request_id: str
    channel: str = "auto"  # one of CHANNEL_CHOICES
    id_kind: IdKind = IdKind.REQUEST

    @property
    def is_infobip(self) -> bool:
        return self.channel == INFOBIP


@dataclass(frozen=True, slots=True)
class Transition:
    """A status change of one recipient, as observed by d7tui."""

    at: float  # unix time the change was observed
    request_id: str
    recipient_key: str
    recipient: str | None
    old_status: str | None
    new_status: str | None
    old_phase: Phase | None
    new_phase: Phase
    reason: str | None = None


def _transition(at: float, request_id: str, prev: Recipient | None, r: Recipient) -> Transition:
    return Transition(
        at=at,
        request_id=request_id,
        recipient_key=r.key,
        recipient=r.recipient,
        old_status=prev.status if prev else None,
        new_status=r.status,
        old_phase=prev.phase if prev else None,
        new_phase=r.phase,
        reason=r.reason,
    )


def keyed(recipients: Sequence[Recipient]) -> tuple[Recipient, ...]:
    """The messages of one full answer, each with a key no other has.

    A server that repeats a msg_id (two numbers, one id), or lists messages without any, would
    otherwise have them stand for one another: the monitor, its store and exports would keep
    one of them, silently. Their keys are made of what tells them apart, msg_id and number
    (`same/+971500000001`), then the order they came in (`#2`) when even that repeats: the same
    answer gives the same keys poll after poll. A message whose msg_id is its own keeps it as
    its key. Not for incremental answers (Infobip's reports), where a repeat is the same
    message's next report."""
    if len(recipients) < 2:  # most answers: one message, nothing to tell apart
        return tuple(recipients)
    counts = Counter(plain_key(r.msg_id, r.recipient) for r in recipients)
    if len(counts) == len(recipients):
        return tuple(recipients)
    taken = {key for key, n in counts.items() if n == 1}
    out: list[Recipient] = []
    for r in recipients:
        base = plain_key(r.msg_id, r.recipient)
        if counts[base] == 1:
            out.append(r)
            continue
        both = "/".join(part for part in (r.msg_id, r.recipient) if part)
        key, n = both, 1 if both else 0
        while not key or key in taken:
            n += 1
            key = f"{both}#{n}"
        taken.add(key)
        out.append(replace(r, recipient_key=key))
    return tuple(out)


# A recipient a full answer no longer lists (Infobip's logs keep 48 hours per message, so a bulk
# sent over hours loses its oldest messages one by one): kept with its last known state, marked,
# and the change told once as a transition to this status of d7tui's own.
NO_LONGER_LISTED = "no longer listed"
UNLISTED = "the API no longer lists this recipient: its last known state, kept by d7tui"


# What one request may hold, listed or not: past this, the oldest recipients no longer listed are
# let go (a server answering fresh message ids on every poll would otherwise grow the request, the
# store and the screen for ever).
MAX_KEPT = 100_000


def swapped(before: RequestStatus | None, update: RequestStatus) -> str | None:
    """Why a full answer is not believed, or None: it drops most recipients it listed before
    and brings as many it never listed. A request's messages are fixed when it is sent; they
    age out of a vendor's logs (dropped, none new) or come in as a bulk is sent (new, none
    dropped), never both at once."""
    if before is None or update.incremental or not update.recipients:
        return None
    # By msg_id (`plain_key`), not by key: messages that a store from before `keyed` kept as
    # one, or that a server lists under one msg_id now and told apart later, are the same
    # messages, not others.
    listed = {r.msg_id or r.recipient or "" for r in before.recipients if r.problem != UNLISTED}
    now = {r.msg_id or r.recipient or "" for r in update.recipients}
    new, gone = len(now - listed), len(listed - now)
    if new and gone and 2 * new >= len(now) and 2 * gone >= len(listed):
        return (
            f"the answer swaps this request's messages for others ({new:,} never seen, "
            f"{gone:,} listed before gone): not believed, what was known is kept"
        )
    return None


def observe(
    before: RequestStatus | None, update: RequestStatus, at: float, *, keep: int = MAX_KEPT
) -> tuple[RequestStatus, list[Transition]]:
    """The new known state of a request and every recipient status change the update shows.

    A full report replaces what was known, but for recipients it no longer lists: those are
    kept as they were last known, marked `UNLISTED` (an answer listing none at all is the
    caller's to judge: see `or_remembered`). An incremental one (Infobip reports) is applied
    report by report, so an intermediate status handed out in the same batch as the final one
    is still a transition of its own.
    """
    known: dict[str, Recipient] = (
        {r.key: r for r in before.recipients} if before is not None else {}
    )
    transitions: list[Transition] = []
    merged: dict[str, Recipient] = dict(known) if update.incremental else {}
    for r in update.recipients:
        prev = merged.get(r.key) if update.incremental else known.get(r.key)
        if update.incremental and prev is not None and prev.final and not r.final:
            continue  # a late intermediate report cannot undo a final one
        if prev is None or prev.status != r.status:
            transitions.append(_transition(at, update.request_id, prev, r))
        elif prev == r:
            # Said again, word for word (most polls): the one already held is kept, so the
            # strings its first-seen transition holds are not held a second time in the new
            # answer's own copies (~200 bytes an id at 100,000 ids).
            r = prev
        merged[r.key] = r
    if not update.incremental and update.recipients:
        for key, prev in known.items():
            if key in merged:
                continue
            if prev.problem != UNLISTED:
                transitions.append(
                    replace(
                        _transition(at, update.request_id, prev, prev),
                        new_status=NO_LONGER_LISTED,
                        reason=UNLISTED,
                    )
                )
            merged[key] = replace(prev, problem=UNLISTED)
    if len(merged) > keep:
        # The oldest no longer listed go first; the ones listed now are never let go.
        over = len(merged) - keep
        for key in [k for k, r in merged.items() if r.problem == UNLISTED][:over]:
            del merged[key]
    fields = {**(before.fields if before and update.incremental else {}), **update.fields}
    raw = (before.raw if before and update.incremental else ()) + update.raw
    state = RequestStatus(
        request_id=update.request_id,
        channel=update.channel,
        recipients=tuple(merged.values()),
        fields=fields,
        raw=raw[-20:],  # enough for an export of what was seen, bounded for a long watch
        incremental=False,
    )
    return state, transitions


# ---------------------------------------------------------------------------------------------
# Labels and notes: what a user wrote about a request, from a keyboard, a paste or a command
# line, always drawn on a terminal. The store and the list keep this much; the dialogs, typed
# into, take less.

MAX_LABEL = 200
MAX_NOTE = 4096


def too_long(label: str | None, note: str | None = None) -> str | None:
    """What is too long to keep whole ("the label is 250 characters; at most 200 are kept"),
    or None. Cut, it would be lost without a word: the command line and the dialogs refuse it
    and keep what was typed."""
    for what, text, limit in (("label", label, MAX_LABEL), ("note", note, MAX_NOTE)):
        size = len(" ".join((text or "").split()))
        if size > limit:
            return f"the {what} is {size:,} characters; at most {limit:,} are kept"
    return None


def clean_label(text: str) -> str:
    # On one line: a line break or a tab pasted into one is a space, not a control picture.
    return safe_text(" ".join(text.split()), MAX_LABEL)


def clean_note(text: str) -> str:
    return safe_text(" ".join(text.split()), MAX_NOTE)


# ---------------------------------------------------------------------------------------------
# Id validation: a bad id is refused before any request is made.

MAX_INFOBIP_ID = 200
_INFOBIP_ID_RE = re.compile(r"^[A-Za-z0-9._:~@+=-]+$")
# A D7 id as validate_id returns it (lowercase, with its hyphens): an id checked once already,
# asked again for every request, is known by this pattern without being parsed as a UUID again
# (twice a request of `d7tui status`, that parse was a visible share of its CPU).
_NORMAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class InvalidId(ValueError):
    """An id that can never be valid for the channel asked; its str() is one line for the user."""


def validate_id(raw: str, channel: str) -> str:
    """The id, normalized, or InvalidId. D7 ids are UUIDs; Infobip ids are free-form but bounded."""
    value = raw.strip()
    if not value:
        raise InvalidId("empty id")
    if channel == INFOBIP:
        if len(value) > MAX_INFOBIP_ID:
            raise InvalidId(
                f"Infobip id longer than {MAX_INFOBIP_ID} characters: {_shown(value)!r}"
            )
        if not _INFOBIP_ID_RE.match(value):
            raise InvalidId(
                f"Infobip id {_shown(value)!r} has characters an id cannot have "
                "(letters, digits and . _ : ~ @ + = - only)"
            )
        return value
    if _NORMAL_UUID.fullmatch(value):
        return value
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise InvalidId(f"not a D7 request id (expected a UUID): {_shown(value)!r}") from None
    if value.lower() != str(parsed) and value.replace("-", "").lower() != parsed.hex:
        raise InvalidId(f"not a D7 request id (expected a UUID): {_shown(value)!r}")
    normal = str(parsed)
    # The id given, when it is already the normal form: every poll validates its id, and a
    # copy of it was kept with each answer (100,000 copies at 100,000 ids).
    return value if value == normal else normal


def _shown(value: str) -> str:
    """An invalid id as an error message quotes it: bounded, every character visible."""
    shown = value if len(value) <= 60 else value[:57] + "..."
    return safe_text(shown)


def split_ids(text: str) -> list[str]:
    """Ids from a paste or standard input: one per line, or separated by white space or commas."""
    return [part for part in re.split(r"[\s,;]+", text) if part]


def own_items(recipients: Iterable[Recipient], ident: str) -> tuple[list[Recipient], int]:
    """The items that are `ident`'s by their own bulkId or messageId, and how many named only
    other ids: a server, a proxy or an old route that ignores the filter answers other bulks'
    messages too, and they are not this id's. An item naming no id at all (a broken one) stays
    with the id it was asked for."""
    mine: list[Recipient] = []
    others = 0
    for r in recipients:
        named = {v for v in (r.msg_id, r.fields.get("bulkId")) if isinstance(v, str)}
        if named and ident not in named:
            others += 1
        else:
            mine.append(r)
    return mine, others
