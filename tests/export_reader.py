"""Exports read back (the inverse of d7tui/export.py): the round-trip tests' witness that an
export holds exactly what the store held. Not in the package: no command reads an export."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from d7tui.export import TIME_COLUMNS, TIME_FORMAT
from d7tui.models import Channel, IdKind, RequestStatus, Transition
from d7tui.store import StoredState, WatchRecord, codec


@dataclass
class Exported:
    """An export read back: what the store held when it was written."""

    exported_at: float | None = None
    watches: list[WatchRecord] = field(default_factory=list)  # seq: 1, 2, ... in export order
    states: dict[str, StoredState] = field(default_factory=dict)  # raw bodies are not exported
    transitions: list[Transition] = field(default_factory=list)


def read_json(text: str) -> Exported:
    """The inverse of a JSON export."""
    document = json.loads(text)
    exported = Exported(exported_at=document.get("exported_at"))
    recipients: dict[str, list[Any]] = {}
    for item in document.get("recipients", []):
        recipients.setdefault(item["request_id"], []).append(codec.recipient_from_dict(item))
    for seq, item in enumerate(document.get("watchlist", []), 1):
        exported.watches.append(_watch_from(item, seq))
        state = item.get("state")
        if state is not None:
            exported.states[item["request_id"]] = _state_from(
                item["request_id"], state, recipients.get(item["request_id"], [])
            )
    exported.transitions = [codec.transition_from_dict(t) for t in document["transitions"]]
    return exported


def _watch_from(item: dict[str, Any], seq: int) -> WatchRecord:
    return WatchRecord(
        request_id=item["request_id"],
        channel=item["channel"],
        id_kind=IdKind(item["id_kind"]),
        label=item.get("label") or "",
        note=item.get("note") or "",
        added_at=item["added_at"],
        resolved_channel=item.get("resolved_channel"),
        archived_at=item.get("archived_at"),
        removed_at=None,
        seq=seq,
    )


def _state_from(rid: str, state: dict[str, Any], recipients: list[Any]) -> StoredState:
    return StoredState(
        RequestStatus(rid, Channel(state["channel"]), tuple(recipients), state.get("fields") or {}),
        observed_at=state["observed_at"],
        changed_at=state.get("changed_at"),
        final_since=state.get("final_since"),
    )


def read_csv(text: str) -> Exported:
    """The inverse of a CSV export (times to the millisecond; an empty cell reads as None)."""
    exported = Exported()
    recipients: dict[str, list[Any]] = {}
    heads: dict[str, dict[str, Any]] = {}
    for raw in csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))):
        row = {k: _uncell(k, v) for k, v in raw.items()}
        kind = row["record"]
        if kind == "watch":
            exported.watches.append(_watch_from(row, len(exported.watches) + 1))
            if row["observed_at"] is not None:
                heads[row["request_id"]] = row
        elif kind == "recipient":
            recipients.setdefault(row["request_id"], []).append(codec.recipient_from_dict(row))
        elif kind == "transition":
            exported.transitions.append(codec.transition_from_dict(row))
    for rid, row in heads.items():
        state = {**row, "channel": row["state_channel"]}
        exported.states[rid] = _state_from(rid, state, recipients.get(rid, []))
    return exported


def _uncell(column: str, text: str | None) -> Any:
    if text is None or text == "":
        return None
    if text.startswith("'"):
        text = text[1:]
    if column in TIME_COLUMNS:
        return (
            datetime.strptime(text.removesuffix("Z"), TIME_FORMAT).replace(tzinfo=UTC).timestamp()
        )
    if column == "final":
        return text == "true"
    if column in ("position", "parts"):
        return int(text)
    if column == "cost":
        return float(text)
    if column == "fields":
        return json.loads(text)
    return text
