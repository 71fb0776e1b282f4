"""What the monitor does while its store cannot be opened for writing at all (a read-only data
directory, a store from a newer d7tui ...): held, and kept at quit, as a full disk's writes are.

Ids added, removed, brought back or unarchived, labels and notes, and what the polls learnt are
held as the writes a later open replays (store/journal.py). What the user does is written as it
is done to the held file (store/heldlog.py, on a thread of its own: never the screen's loop), so
that a kill -9 loses none of it; at quit the polls' results join it, and one line on the
terminal names it; the next d7tui started on that store takes it in (store/rescue.py). A poll
result is held per request: its newest state with every transition since the start, so that a
day of polling holds what changed, not every answer (a kill -9 loses those: the next polls ask
the APIs again).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from d7tui.models import RequestStatus, Target, Transition
from d7tui.pollstate import PollUpdate
from d7tui.store import ReportParser, Store, StoreError
from d7tui.store.heldlog import HeldLog
from d7tui.store.journal import Action, add_action, counted, replay, save_action, to_line
from d7tui.store.rescue import farewell


class Taken(NamedTuple):
    """What is held: what the user did, in order; per request its newest state with every
    transition since, and when; the channel an `auto` id answered on."""

    actions: list[Action]
    results: dict[str, tuple[RequestStatus, list[Transition], float]]
    channels: dict[str, str]

    def writes(self) -> list[Action]:
        saves = [save_action(*held) for held in self.results.values()]
        channels = [
            ("channel", {"request_id": rid, "channel": channel})
            for rid, channel in self.channels.items()
        ]
        return [*self.actions, *saves, *channels]


class HeldWrites:
    def __init__(
        self, db: Path, why: StoreError, on_change: Callable[[str | None], None] | None = None
    ) -> None:
        """`on_change`: told, on the loop this is made on, why what the user does can be kept
        on no disk (the held file refused it), and None once it can again."""
        self.db = db
        self.why = why
        self.log = HeldLog(db)
        self._on_change = on_change
        self._refused: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        with contextlib.suppress(RuntimeError):
            self._loop = asyncio.get_running_loop()
        self._writer = concurrent.futures.ThreadPoolExecutor(1, "d7tui-held")
        self._actions: list[Action] = []
        # Per request: its newest state, every transition since the start, when it was learnt.
        self._results: dict[str, tuple[RequestStatus, list[Transition], float]] = {}
        self._channels: dict[str, str] = {}  # the channel an `auto` id answered on
        self.reachable_again = False  # the store answers again: what is held goes to it soon

    def add(self, target: Target, label: str, added_at: float) -> None:
        rid = target.request_id
        self._keep(add_action(rid, target.channel, target.id_kind, label or None, None, added_at))

    def remove(self, request_id: str, at: float) -> None:
        self._keep(("remove", {"request_id": request_id, "at": at}))

    def restore(self, request_id: str) -> None:
        self._keep(("restore", {"request_id": request_id}))

    def unarchive(self, request_id: str, at: float) -> None:
        self._keep(("unarchive", {"request_id": request_id, "at": at}))

    def set_label_note(self, request_id: str, label: str | None, note: str | None) -> None:
        """The label and the note given (None: unchanged)."""
        if label is not None or note is not None:
            values = {"request_id": request_id, "label": label, "note": note}
            self._keep(("label_note", values))

    def _keep(self, action: Action) -> None:
        self._actions.append(action)
        self._writer.submit(self._write, action)

    def _write(self, action: Action) -> None:
        # On the held file's thread, in the order they were done.
        self.log.append([action])
        if self.log.refused != self._refused:
            self._refused = self.log.refused
            if self._on_change is not None:
                loop = self._loop
                if loop is not None and not loop.is_closed():
                    with contextlib.suppress(RuntimeError):
                        loop.call_soon_threadsafe(self._on_change, self._refused)
                else:
                    self._on_change(self._refused)

    def written(self) -> Path | None:
        """Blocks until what was done is on disk; the held file (None: no disk took it)."""
        self._writer.submit(lambda: None).result()
        return self.log.path if self.log.complete else None

    def on_update(self, update: PollUpdate, asked: str) -> None:
        """A poll result (what `Memory.on_update` would have saved)."""
        state = update.stored_state  # with its answer's raw bodies
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
        return Taken(self._actions, self._results, self._channels).writes()

    def said(self) -> str:
        """The line for the screen when the user adds or edits something."""
        held = counted(kind for kind, _ in self._actions) if self._actions else "nothing"
        if self._refused is not None:
            return (
                f"Held ONLY IN MEMORY (the store cannot be written, and no disk takes the held "
                f"file either: {self._refused}): {held} so far; a crash loses them, quitting "
                "tries once more."
            )
        if self.reachable_again:
            return f"Held for a moment: {held} so far, written to the store within seconds."
        return (
            f"Held, not saved (the store cannot be written): {held} so far, written as you go "
            "to a file the next d7tui started on this store takes in."
        )

    def take(self) -> Taken:
        """Everything held so far, no longer held (to be handed to a store that can be written
        again: `hand_over`, or `give_back`). On the loop this was made on."""
        taken = Taken(self._actions, self._results, self._channels)
        self._actions, self._results, self._channels = [], {}, {}
        return taken

    def hand_over(self, taken: Taken, store: Store, parse: ReportParser) -> int:
        """Blocks (the disk, the store): what was `taken` written into `store`, in one
        transaction, after the lines of the held file that hold it are on disk; then the held
        file goes (what is held since goes to a new one). How many writes went; StoreError if
        the store refused (the held file is kept: `give_back` what was taken)."""
        return self._writer.submit(self._hand_over, taken, store, parse).result()

    def _hand_over(self, taken: Taken, store: Store, parse: ReportParser) -> int:
        # On the held file's thread, after the lines of what was taken and before any held
        # since: the file holds exactly what was taken.
        writes = taken.writes()
        if not writes:
            return 0
        with store.batch():
            for action in writes:
                replay(store, to_line(action), parse)
        self.log.discard()
        return len(writes)

    def give_back(self, taken: Taken) -> None:
        """What was `taken` and could not be handed over is held again, before what came since
        (a request's transitions in the order they were seen). On the loop."""
        self._actions[:0] = taken.actions
        for rid, (state, transitions, at) in taken.results.items():
            since = self._results.get(rid)
            if since is not None:
                state, transitions, at = since[0], transitions + since[1], since[2]
            self._results[rid] = (state, transitions, at)
        for rid, channel in taken.channels.items():
            self._channels.setdefault(rid, channel)

    def keep(self) -> str | None:
        """At quit: everything held, written to a file the next open takes in (blocks: the
        disk); the line for the terminal, or None if nothing was held."""
        self._writer.shutdown(wait=True)  # what the user did is in the file first
        actions = self._all()
        if not actions:
            return None
        if self.log.complete:  # the polls' results join it: it is the whole file
            self.log.append(actions[len(self._actions) :])
        return farewell(self.db, actions, self.why, self.log)
