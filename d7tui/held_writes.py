"""What the monitor does while its store cannot be opened for writing at all (a read-only data
directory, a store from a newer d7tui ...): held, and kept at quit, as a full disk's writes are.

Ids added, removed, brought back or unarchived, labels and notes, and what the polls learnt are
held as the writes a later open replays (store/journal.py); at quit they are written to a file
the next d7tui started on that store takes in (store/rescue.py), and one line on the terminal
says so. A poll result is held per request: its newest state with every transition since the
start, so that a day of polling holds what changed, not every answer.
"""

from __future__ import annotations

from pathlib import Path

from d7tui.models import RequestStatus, Target, Transition
from d7tui.pollstate import PollUpdate
from d7tui.store import StoreError
from d7tui.store.journal import Action, add_action, counted, save_action
from d7tui.store.rescue import farewell


class HeldWrites:
    def __init__(self, db: Path, why: StoreError) -> None:
        self.db = db
        self.why = why
        self._actions: list[Action] = []
        # Per request: its newest state, every transition since the start, when it was learnt.
        self._results: dict[str, tuple[RequestStatus, list[Transition], float]] = {}
        self._channels: dict[str, str] = {}  # the channel an `auto` id answered on

    def add(self, target: Target, label: str, added_at: float) -> None:
        rid = target.request_id
        self._actions.append(
            add_action(rid, target.channel, target.id_kind, label or None, None, added_at)
        )

    def remove(self, request_id: str, at: float) -> None:
        self._actions.append(("remove", {"request_id": request_id, "at": at}))

    def restore(self, request_id: str) -> None:
        self._actions.append(("restore", {"request_id": request_id}))

    def unarchive(self, request_id: str, at: float) -> None:
        self._actions.append(("unarchive", {"request_id": request_id, "at": at}))

    def set_label_note(self, request_id: str, label: str | None, note: str | None) -> None:
        """The label and the note given (None: unchanged)."""
        if label is not None or note is not None:
            values = {"request_id": request_id, "label": label, "note": note}
            self._actions.append(("label_note", values))

    def on_update(self, update: PollUpdate, asked: str) -> None:
        """A poll result (what `Memory.on_update` would have saved)."""
        state = update.state
        if state is None or update.error is not None or state.remembered:
            return
        rid = update.request_id
        held = self._results.get(rid)
        if held is None and not update.transitions:
            return  # nothing changed: the store's state stands, the next poll says the same
        transitions = (held[1] if held is not None else []) + list(update.transitions)
        self._results[rid] = (state, transitions, update.last_poll or update.at)
        if update.first and asked == "auto" and update.channel != "auto":
            self._channels[rid] = update.channel

    def _all(self) -> list[Action]:
        saves = [save_action(*held) for held in self._results.values()]
        channels = [
            ("channel", {"request_id": rid, "channel": channel})
            for rid, channel in self._channels.items()
        ]
        return [*self._actions, *saves, *channels]

    def said(self) -> str:
        """The line for the screen when the user adds or edits something."""
        held = counted(kind for kind, _ in self._actions) if self._actions else "nothing"
        return (
            f"Held, not saved (the store cannot be written): {held} so far, kept when you quit "
            "in a file the next d7tui started on this store takes in."
        )

    def keep(self) -> str | None:
        """At quit: everything held, written to a file the next open takes in (blocks: the
        disk); the line for the terminal, or None if nothing was held."""
        actions = self._all()
        if not actions:
            return None
        return farewell(self.db, actions, self.why)
