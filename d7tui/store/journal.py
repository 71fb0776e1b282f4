"""Writes that could not reach the disk before d7tui ended, as plain lines a later open replays.

Every write the monitor queues that keeps something the user did or an API said (an id added,
a label or note, an id removed, restored or archived, a poll's result, an Infobip reports page)
carries an `Action`: its kind and plain values. When the store closes with such writes still
held (the disk still full ...), they are written as JSON Lines beside the database (rescue.py),
and the next open replays them in the order they were made. What the monitor held when its
file itself was lost (`Snapshot`) goes the same way, as one "held" line.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from d7tui.models import Channel, IdKind, RequestStatus, Transition
from d7tui.store import codec
from d7tui.store.core import Store
from d7tui.store.records import Snapshot, StoredState, WatchRecord
from d7tui.store.reports import ReportParser

Action = tuple[str, dict[str, Any]]

# What the line on the terminal calls each kind (one, many), counted.
_CHANGE = ("watchlist change", "watchlist changes")
_EDIT = ("label or note edit", "label or note edits")
_RESULT = ("poll result", "poll results")
NAMES = {
    "report": ("Infobip reports page", "Infobip reports pages"),
    "save": _RESULT,
    "channel": _RESULT,
    "add": ("id added", "ids added"),
    "label": _EDIT,
    "note": _EDIT,
    "label_note": _EDIT,
    "remove": _CHANGE,
    "restore": _CHANGE,
    "archive": _CHANGE,
    "unarchive": _CHANGE,
    "held": ("copy of all the monitor held", "copies of all the monitor held"),
}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def state_to_dict(state: RequestStatus) -> dict[str, Any]:
    return {
        "request_id": state.request_id,
        "channel": state.channel.value,
        "recipients": [codec.recipient_to_dict(r) for r in state.recipients],
        "fields": dict(state.fields),
        "raw": [_b64(body) for body in state.raw],
    }


def state_from_dict(data: Mapping[str, Any]) -> RequestStatus:
    return RequestStatus(
        request_id=str(data["request_id"]),
        channel=Channel(data["channel"]),
        recipients=tuple(codec.recipient_from_dict(r) for r in data["recipients"]),
        fields=dict(data.get("fields") or {}),
        raw=tuple(base64.b64decode(body) for body in data.get("raw", ())),
    )


def save_action(state: RequestStatus, transitions: Sequence[Transition], at: float) -> Action:
    return "save", {"state": state, "transitions": tuple(transitions), "at": at}


def add_action(
    request_id: str,
    channel: str,
    id_kind: IdKind,
    label: str | None,
    note: str | None,
    added_at: float,
) -> Action:
    values = {
        "request_id": request_id,
        "channel": channel,
        "id_kind": IdKind(id_kind).value,
        "label": label,
        "note": note,
        "added_at": added_at,
    }
    return "add", values


def held_action(snapshot: Snapshot) -> Action:
    return "held", {"snapshot": snapshot}


def to_line(action: Action) -> dict[str, Any]:
    """An action as a JSON-ready dict (the costly part, done only when it is written)."""
    kind, values = action
    line: dict[str, Any] = {"kind": kind}
    if kind == "save":
        line["state"] = state_to_dict(values["state"])
        line["transitions"] = [codec.transition_to_dict(t) for t in values["transitions"]]
        line["at"] = values["at"]
    elif kind == "report":
        line.update(ident=values["ident"], body=_b64(values["body"]))
    elif kind == "held":
        snapshot: Snapshot = values["snapshot"]
        line["watches"] = [_watch_to_dict(w) for w in snapshot.watches]
        line["states"] = {
            rid: {"state": state_to_dict(s.state), "observed_at": s.observed_at}
            for rid, s in snapshot.states.items()
        }
        line["timelines"] = {
            rid: [codec.transition_to_dict(t) for t in items]
            for rid, items in snapshot.timelines.items()
        }
    else:
        line.update(values)
    return line


def _watch_to_dict(w: WatchRecord) -> dict[str, Any]:
    return {
        "request_id": w.request_id,
        "channel": w.channel,
        "id_kind": IdKind(w.id_kind).value,
        "label": w.label,
        "note": w.note,
        "added_at": w.added_at,
        "resolved_channel": w.resolved_channel,
        "archived_at": w.archived_at,
    }


def _snapshot_from(line: Mapping[str, Any]) -> Snapshot:
    watches = [
        WatchRecord(
            request_id=str(w["request_id"]),
            channel=str(w["channel"]),
            id_kind=IdKind(w["id_kind"]),
            label=str(w.get("label") or ""),
            note=str(w.get("note") or ""),
            added_at=float(w["added_at"]),
            resolved_channel=w.get("resolved_channel"),
            archived_at=w.get("archived_at"),
            removed_at=None,
            seq=0,
        )
        for w in line["watches"]
    ]
    states = {
        rid: StoredState(state_from_dict(s["state"]), float(s["observed_at"]), None, None)
        for rid, s in line["states"].items()
    }
    timelines = {
        rid: [codec.transition_from_dict(t) for t in items]
        for rid, items in line["timelines"].items()
    }
    return Snapshot(watches=watches, states=states, timelines=timelines)


def replay(store: Store, line: Mapping[str, Any], parse: ReportParser) -> None:
    """Do again what one line says, on `store` (raises StoreError if the store refuses)."""
    kind = line.get("kind", "report")  # files from before actions were kept held only pages
    rid = str(line.get("request_id"))
    if kind == "report":
        store.ingest_report(str(line["ident"]), base64.b64decode(line["body"]), parse)
    elif kind == "save":
        transitions = [codec.transition_from_dict(t) for t in line["transitions"]]
        store.save_observation(state_from_dict(line["state"]), transitions, at=line["at"])
    elif kind == "add":
        store.add_watch(
            rid,
            line["channel"],
            IdKind(line["id_kind"]),
            label=line.get("label"),
            note=line.get("note"),
            added_at=line.get("added_at"),
        )
    elif kind == "label":
        store.set_label(rid, line["label"])
    elif kind == "note":
        store.set_note(rid, line["note"])
    elif kind == "label_note":  # None: that one was left unchanged
        if line.get("label") is not None:
            store.set_label(rid, line["label"])
        if line.get("note") is not None:
            store.set_note(rid, line["note"])
    elif kind == "channel":
        store.set_channel(rid, line.get("channel"))
    elif kind == "remove":
        store.remove_watch(rid, at=line.get("at"))
    elif kind == "restore":
        store.restore_watch(rid)
    elif kind == "archive":
        store.archive(rid, at=line.get("at"))
    elif kind == "unarchive":
        store.unarchive(rid, at=line.get("at"))
    elif kind == "held":
        store.absorb(_snapshot_from(line))
    else:
        raise ValueError(f"unknown kind {kind!r}")


# What the polls write (the rest is what the user did): written as they come, never said each time.
POLLED = frozenset({"save", "channel", "report"})


def counted(kinds: Iterable[str]) -> str:
    """ "1 id added, 2 label or note edits and 7 poll results": what the kinds add up to."""
    counts: dict[tuple[str, str], int] = {}
    for kind in kinds:
        name = NAMES.get(kind, (kind, kind))
        counts[name] = counts.get(name, 0) + 1
    parts = [f"{n:,} {one if n == 1 else many}" for (one, many), n in counts.items()]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
