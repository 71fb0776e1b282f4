"""Why a recipient is where it is, and what to do: a status or error read against the table in
`d7tui.codes`. No Textual, no I/O.

`explain(channel, recipient)` is what the monitor's detail, `d7tui status` and the exports show.
A value the table does not hold is said to be unknown, with the raw value, and whatever its group
(Infobip) or its phase still tells.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from d7tui.codes import (
    D7_STATUSES,
    INFOBIP_ERROR_GROUPS,
    INFOBIP_ERRORS,
    INFOBIP_STATUS_GROUPS,
    INFOBIP_STATUSES,
    Outcome,
    Row,
)
from d7tui.models import INFOBIP, Channel, Phase, Recipient
from d7tui.safety import one_line

__all__ = ["Explanation", "Outcome", "explain", "explain_d7", "explain_infobip"]

_FAILED = (Outcome.TEMPORARY, Outcome.PERMANENT, Outcome.UNKNOWN)
_UNKNOWN_NEXT = {
    "d7": "Look the message up in D7's dashboard, or ask D7 support quoting the msg_id.",
    "infobip": "Look the message up in Infobip's web interface, or ask Infobip support "
    "quoting the messageId.",
}


@dataclass(frozen=True, slots=True)
class Explanation:
    code: str  # what was explained, as the vendor said it
    known: bool  # False: the table has no entry for `code`
    meaning: str
    outcome: Outcome
    next_step: str
    credit: bool = False  # the sending account's money is the cause: see the balance

    @property
    def permanent(self) -> bool | None:
        """True: it stays so by itself (delivered, or a failure resending will not fix);
        False: it may still change, or resending later may work; None: nobody knows."""
        if self.outcome is Outcome.UNKNOWN:
            return None
        return self.outcome in (Outcome.SUCCESS, Outcome.PERMANENT)

    @property
    def failed(self) -> bool:
        return self.outcome in (Outcome.TEMPORARY, Outcome.PERMANENT)

    def line(self) -> str:
        """One line: the outcome, the meaning and the next step."""
        return f"{self.outcome.value}: {self.meaning} Next: {self.next_step}"

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "known": self.known,
            "meaning": self.meaning,
            "outcome": self.outcome.value,
            "permanent": self.permanent,
            "next_step": self.next_step,
            "points_to_balance": self.credit,
        }


def explain(channel: Channel | str, recipient: Recipient) -> Explanation | None:
    """The explanation of a recipient's latest status (None: the API gave no status at all)."""
    if channel == INFOBIP:
        status, error = infobip_objects(recipient)
        return _infobip_cached(_key(status), _key(error), recipient.status, recipient.phase)
    return _d7_cached(str(channel), recipient.status, recipient.phase)


# A watchlist of 10,000 holds a few dozen distinct statuses: each is read against the table once.
_READ_KEYS = ("groupId", "groupName", "id", "name", "permanent")


def _key(obj: Mapping[str, Any]) -> tuple[tuple[str, object], ...]:
    # Only what the reading depends on, and only hashable values (anything else is no id).
    return tuple(
        (k, obj[k]) for k in _READ_KEYS if k in obj and isinstance(obj[k], str | int | bool)
    )


@functools.lru_cache(maxsize=4096)
def _infobip_cached(
    status: tuple[tuple[str, object], ...],
    error: tuple[tuple[str, object], ...],
    name: str | None,
    phase: Phase,
) -> Explanation | None:
    return explain_infobip(dict(status), dict(error), name=name, phase=phase)


@functools.lru_cache(maxsize=4096)
def _d7_cached(channel: str, status: str | None, phase: Phase) -> Explanation | None:
    return explain_d7(channel, status, phase=phase)


def infobip_objects(recipient: Recipient) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """Infobip's `status` and `error` objects as the report gave them (empty when absent)."""
    status = recipient.fields.get("status")
    error = recipient.fields.get("error")
    return (
        status if isinstance(status, Mapping) else {},
        error if isinstance(error, Mapping) else {},
    )


# -- D7 ----------------------------------------------------------------------------------------


def explain_d7(
    channel: Channel | str, status: str | None, *, phase: Phase = Phase.UNKNOWN
) -> Explanation | None:
    if status is None or not status.strip():
        return None
    raw = one_line(status, 80)
    by_channel = D7_STATUSES.get(status.strip().lower())
    if by_channel:
        try:
            asked: Channel | None = Channel(str(channel))
        except ValueError:
            asked = None  # "auto" before a channel answered: any D7 channel's reading will do
        if asked in by_channel:
            return _from_row(raw, by_channel[asked])
        documented, row = next(iter(by_channel.items()))
        if asked is None:
            return _from_row(raw, row)
        return _from_row(
            raw,
            row,
            suffix=f"(D7 documents '{raw}' for {documented.value}, not for {asked.value}.)",
        )
    return Explanation(
        code=raw,
        known=False,
        meaning=f"The status '{raw}' is not one D7 documents"
        + (f" for {channel}" if str(channel) in {c.value for c in Channel} else "")
        + f"; d7tui reads it as {phase.value}.",
        outcome=Outcome.UNKNOWN,
        next_step=_UNKNOWN_NEXT["d7"],
    )


def _from_row(code: str, row: Row, *, suffix: str = "") -> Explanation:
    meaning = f"{row.meaning} {suffix}" if suffix else row.meaning
    return Explanation(code, True, meaning, row.outcome, row.next_step, row.credit)


# -- Infobip -----------------------------------------------------------------------------------

_STATUS_BY_NAME = {name: (sid, group, row) for sid, (name, group, row) in INFOBIP_STATUSES.items()}
_ERROR_BY_NAME = {name: (eid, group, row) for eid, (name, group, row) in INFOBIP_ERRORS.items()}
_STATUS_GROUP_BY_ID = {gid: name for name, (gid, _) in INFOBIP_STATUS_GROUPS.items() if gid}
_ERROR_GROUP_BY_ID = {
    gid: name for name, (gid, _) in INFOBIP_ERROR_GROUPS.items() if gid is not None
}


@dataclass(frozen=True, slots=True)
class _Part:
    """One of Infobip's two objects, read against the table."""

    code: str  # the name (or the id, when no name was given), as the vendor said it
    row: Row | None  # the table's row for it (None: unknown, `group` may still tell)
    group: tuple[str, Row] | None  # its group, when the row is unknown
    raw: str  # how it is quoted when unknown


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _read(
    obj: Mapping[str, Any],
    fallback_name: str | None,
    what: str,
    by_name: dict[str, tuple[int, int, Row]],
    by_id: dict[int, tuple[str, int, Row]],
    groups: dict[str, tuple[int | None, Row]],
    group_by_id: dict[int, str],
) -> _Part | None:
    name = _text(obj.get("name")) or _text(fallback_name)
    ident = _int(obj.get("id"))
    if not name and ident is None and not obj:
        return None
    code = one_line(name, 80) if name else f"{what} {ident}" if ident is not None else what
    found = by_name.get(name.upper()) if name else None
    if found is None and ident is not None and ident in by_id and not name:
        found = (ident, by_id[ident][1], by_id[ident][2])
    if found is not None:
        return _Part(code, found[2], None, code)
    group_name = _text(obj.get("groupName")).upper()
    group_id = _int(obj.get("groupId"))
    if group_name not in groups:
        group_name = group_by_id.get(group_id, "") if group_id is not None else ""
    if not group_name and name:
        prefix = name.upper().split("_", 1)[0]  # REJECTED_SOMETHING_NEW
        group_name = prefix if prefix in groups else ""
    group = (group_name, groups[group_name][1]) if group_name else None
    bits = [f"'{one_line(name, 80)}'"] if name else []
    if ident is not None:
        bits.append(f"id {ident}")
    raw = f"{what} {' '.join(bits) or '(empty)'}"
    return _Part(code, None, group, raw)


def _is_no_error(error: Mapping[str, Any]) -> bool:
    name = _text(error.get("name")).upper()
    ident = _int(error.get("id"))
    return name == "NO_ERROR" or (not name and ident == 0) or (not name and ident is None)


def explain_infobip(
    status: Mapping[str, Any],
    error: Mapping[str, Any],
    *,
    name: str | None = None,
    phase: Phase = Phase.UNKNOWN,
) -> Explanation | None:
    """Infobip's status and error objects read together: the error says why a failed status
    failed, and the report's own `error.permanent` wins over the table for this message."""
    state = _read(
        status,
        name,
        "status",
        _STATUS_BY_NAME,
        INFOBIP_STATUSES,
        INFOBIP_STATUS_GROUPS,
        _STATUS_GROUP_BY_ID,
    )
    cause = (
        None
        if _is_no_error(error)
        else _read(
            error,
            None,
            "error",
            _ERROR_BY_NAME,
            INFOBIP_ERRORS,
            INFOBIP_ERROR_GROUPS,
            _ERROR_GROUP_BY_ID,
        )
    )
    if state is None and cause is None:
        return None
    parts = [p for p in (state, cause) if p is not None]
    code = " / ".join(p.code for p in parts)
    known = all(p.row is not None for p in parts)
    meanings = [_meaning(p) for p in parts]
    # The error names the cause: its next step is the more precise one, and its outcome
    # decides a failure (a status in progress or delivered keeps its own).
    outcome, next_step = _outcome(state, phase), _next(state)
    if cause is not None and (state is None or outcome in _FAILED):
        outcome, next_step = _outcome(cause, phase), _next(cause)
        permanent = error.get("permanent")
        if isinstance(permanent, bool) and outcome in _FAILED:
            outcome = Outcome.PERMANENT if permanent else Outcome.TEMPORARY
    if not known and all(p.row is None and p.group is None for p in parts):
        next_step = _UNKNOWN_NEXT["infobip"]
    credit = any(p.row is not None and p.row.credit for p in parts)
    return Explanation(code, known, " ".join(meanings), outcome, next_step, credit)


def _meaning(part: _Part) -> str:
    if part.row is not None:
        return part.row.meaning
    said = f"{part.raw} is not in d7tui's table"
    if part.group is None:
        return said + "."
    return f"{said}; its group {part.group[0]} means: {part.group[1].meaning}"


def _outcome(part: _Part | None, phase: Phase) -> Outcome:
    if part is not None and part.row is not None:
        return part.row.outcome
    if part is not None and part.group is not None:
        return part.group[1].outcome
    return {
        Phase.PENDING: Outcome.IN_PROGRESS,
        Phase.DELIVERED: Outcome.SUCCESS,
        Phase.READ: Outcome.SUCCESS,
    }.get(phase, Outcome.UNKNOWN)


def _next(part: _Part | None) -> str:
    if part is not None and part.row is not None:
        return part.row.next_step
    if part is not None and part.group is not None:
        return part.group[1].next_step
    return _UNKNOWN_NEXT["infobip"]
