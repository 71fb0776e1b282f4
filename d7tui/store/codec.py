"""Model objects to and from what the store and the exports hold, without losing anything.

`Recipient.to_json()` is made for people (fields flattened beside the core keys); the dicts here
keep `fields` apart so that every value comes back exactly as it went in.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from d7tui.models import JSONValue, Phase, Recipient, Transition, plain_key

# The columns a recipient occupies in `recipient` rows, in this order, after request_id/position.
RECIPIENT_COLUMNS = (
    "msg_id",
    "recipient",
    "status",
    "phase",
    "final",
    "reason",
    "cost",
    "currency",
    "parts",
    "country",
    "schedule_time",
    "fields",
    "problem",
    # NULL for the key most messages have (`plain_key`: their msg_id): only the keys `keyed`
    # gave take room, and a loaded recipient shares its msg_id's string for its key.
    "recipient_key",
)

TRANSITION_COLUMNS = (
    "at",
    "request_id",
    "recipient_key",
    "recipient",
    "old_status",
    "new_status",
    "old_phase",
    "new_phase",
    "reason",
)


def dumps(value: JSONValue) -> str:
    # ensure_ascii: a stray lone surrogate (cleaned upstream, but this is the last line) still
    # encodes, where a raw one would make SQLite refuse the whole transaction.
    return json.dumps(value, separators=(",", ":"))


# The C scanner under json.loads, called directly: a third of the cost per call, which is most
# of the time of loading 10,000 requests at start. Our own compact JSON never has whitespace
# around it; anything else (or anything invalid) goes through json.loads for its error.
_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # set by __init__, untyped
PHASES: dict[str, Phase] = {p.value: p for p in Phase}  # faster than Phase(value), same result


def loads_fields(text: str | None) -> dict[str, JSONValue]:
    """A stored `fields` object; an empty one is stored as NULL, which costs no parsing."""
    if not text:
        return {}
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        value, end = None, -1
    if end != len(text) or not isinstance(value, dict):
        value = json.loads(text)
    return value


def dumps_fields(fields: Mapping[str, JSONValue]) -> str | None:
    return dumps(dict(fields)) if fields else None


# -- recipients --------------------------------------------------------------------------------


def recipient_row(r: Recipient) -> tuple[Any, ...]:
    """The values of RECIPIENT_COLUMNS for one recipient."""
    return (
        r.msg_id,
        r.recipient,
        r.status,
        r.phase.value,
        int(r.final),
        r.reason,
        r.cost,
        r.currency,
        r.parts,
        r.country,
        r.schedule_time,
        dumps_fields(r.fields),
        r.problem,
        r.recipient_key if r.recipient_key != plain_key(r.msg_id, r.recipient) else None,
    )


def recipient_from_row(row: sqlite3.Row | tuple[Any, ...]) -> Recipient:
    """A recipient from a row whose first columns are RECIPIENT_COLUMNS (more may follow)."""
    # Positional (the columns are in Recipient's field order, which a test checks): this runs
    # 30,000 times when 10,000 ids load at start, and keywords and unpacking cost a third more.
    fields = row[11]
    return Recipient(
        row[0],
        row[1],
        row[2],
        PHASES.get(row[3], Phase.UNKNOWN),
        bool(row[4]),
        row[5],
        row[6],
        row[7],
        row[8],
        row[9],
        row[10],
        loads_fields(fields) if fields else {},
        row[12],
        row[13] or "",  # "": the plain key, made by Recipient itself
    )


def recipient_to_dict(r: Recipient) -> dict[str, JSONValue]:
    """Every attribute under its own name, `fields` kept apart: the lossless form."""
    return {
        "msg_id": r.msg_id,
        "recipient": r.recipient,
        "status": r.status,
        "phase": r.phase.value,
        "final": r.final,
        "reason": r.reason,
        "cost": r.cost,
        "currency": r.currency,
        "parts": r.parts,
        "country": r.country,
        "schedule_time": r.schedule_time,
        "fields": dict(r.fields),
        "problem": r.problem,
        "recipient_key": r.recipient_key,
    }


def recipient_from_dict(data: Mapping[str, Any]) -> Recipient:
    return Recipient(
        msg_id=data.get("msg_id"),
        recipient=data.get("recipient"),
        status=data.get("status"),
        phase=Phase(data.get("phase", Phase.UNKNOWN.value)),
        final=bool(data.get("final", False)),
        reason=data.get("reason"),
        cost=data.get("cost"),
        currency=data.get("currency"),
        parts=data.get("parts"),
        country=data.get("country"),
        schedule_time=data.get("schedule_time"),
        fields=dict(data.get("fields") or {}),
        problem=data.get("problem"),
        recipient_key=data.get("recipient_key") or "",  # older files: the plain key
    )


def report_key(r: Recipient) -> str:
    """What makes a one-time report the same report: its message, status and time.

    A report without a messageId (a broken item) is keyed by its whole content instead, so an
    identical broken item is still stored once.
    """
    if r.msg_id:
        done_at = r.fields.get("doneAt")
        return dumps(["m", r.msg_id, r.status, done_at if isinstance(done_at, str) else None])
    digest = hashlib.sha256(json.dumps(recipient_to_dict(r), sort_keys=True).encode()).hexdigest()
    return f"h:{digest}"


# -- transitions -------------------------------------------------------------------------------


def transition_row(t: Transition) -> tuple[Any, ...]:
    return (
        t.at,
        t.request_id,
        t.recipient_key,
        t.recipient,
        t.old_status,
        t.new_status,
        t.old_phase.value if t.old_phase is not None else None,
        t.new_phase.value,
        t.reason,
    )


def transition_from_row(row: sqlite3.Row | tuple[Any, ...]) -> Transition:
    """A transition from a row whose first columns are TRANSITION_COLUMNS (positional, as
    above: the columns are in Transition's field order)."""
    old_phase = row[6]
    return Transition(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        PHASES.get(old_phase, Phase.UNKNOWN) if old_phase is not None else None,
        PHASES.get(row[7], Phase.UNKNOWN),
        row[8],
    )


def transition_to_dict(t: Transition) -> dict[str, JSONValue]:
    return dict(zip(TRANSITION_COLUMNS, transition_row(t), strict=True))


def transition_from_dict(data: Mapping[str, Any]) -> Transition:
    return transition_from_row(tuple(data.get(c) for c in TRANSITION_COLUMNS))
