"""The add dialog: one id or a paste of many, a channel (`auto` by default), an optional label.

Every id is validated before anything is requested. As `d7tui add` does, the good ids are added
and the bad ones stay in the box, each problem named, to be put right or dropped; numeric ids
typed for D7 (whose ids are UUIDs) switch the channel to infobip and say so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from d7tui.idinput import check_ids
from d7tui.models import (
    CHANNEL_CHOICES,
    D7_CHANNELS,
    IdKind,
    clean_label,
    split_ids,
    too_long,
)
from d7tui.output import plural
from d7tui.safety import one_line
from d7tui.ui.edge import Guarded, on
from d7tui.ui.messages import AddRequest
from d7tui.ui.typeahead import TypeAhead
from d7tui.ui.widgets.ids_input import GARBLED_PASTE, IdsInput

D7_CHOICES = ("auto", *(c.value for c in D7_CHANNELS))
_CHANNEL_LABELS = {
    "auto": "auto (sms, whatsapp or viber)",
    "sms": "sms",
    "whatsapp": "whatsapp",
    "viber": "viber",
    "infobip": "infobip (sms)",
}


class AddDialog(Guarded, TypeAhead, ModalScreen[None]):
    IN_TURN: ClassVar[dict[str, str]] = {**TypeAhead.IN_TURN, "enter": "submit"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", show=False),
        # Enter adds wherever the focus is, the channel list too (unless it is open: then
        # enter picks the channel). Space or the arrows open it.
        Binding("enter", "submit", "Add", show=False, priority=True),
    ]

    def __init__(
        self,
        initial: str = "",
        *,
        watched: Callable[[str], bool],
        add: Callable[[AddRequest], None],
        garbled: bool = False,
    ) -> None:
        super().__init__()
        self._initial = initial
        self._garbled = garbled  # the paste that opened the dialog held an ESC
        self._watched = watched
        self._add = add
        # The ids left in the box and the channel when a problem was told: it stays shown
        # until the user changes either (not when the dialog changes them itself).
        self._told: tuple[str, str] = ("", "")

    def compose(self) -> ComposeResult:
        with Vertical(id="add-box"):
            yield Label("Watch request ids   (enter adds, esc cancels)", id="add-title")
            yield IdsInput(
                value=self._initial,
                placeholder="request id, or paste many (one per line, or spaces/commas)",
                id="add-ids",
            )
            yield Static(id="add-count")
            with Horizontal(id="add-options"):
                yield Select(
                    [(_CHANNEL_LABELS[c], c) for c in CHANNEL_CHOICES],
                    value="auto",
                    allow_blank=False,
                    id="add-channel",
                )
                yield Select(
                    [("bulk id", IdKind.BULK.value), ("message id", IdKind.MESSAGE.value)],
                    value=IdKind.BULK.value,
                    allow_blank=False,
                    id="add-kind",
                )
                yield Input(placeholder="label (optional)", id="add-label")
            yield Static(id="add-error")
            with Horizontal(id="add-buttons"):
                yield Button("Add", variant="primary", id="add-ok")
                yield Button("Cancel", id="add-cancel")

    def on_mount(self) -> None:
        self.query_one("#add-kind").display = False
        self._count(self._initial)
        self.set_focus(self.query_one("#add-ids"))
        if self._garbled:
            self._tell(GARBLED_PASTE)

    @on(IdsInput.Garbled)
    def _garbled_paste(self) -> None:
        self._tell(GARBLED_PASTE)

    def _tell(self, words: str) -> None:
        """A problem shown until the user changes the ids or the channel."""
        self._told = (
            self.query_one("#add-ids", Input).value,
            str(self.query_one("#add-channel", Select).value),
        )
        self.query_one("#add-error", Static).update(Text(words))

    @on(Input.Changed, "#add-ids")
    def _ids_changed(self, event: Input.Changed) -> None:
        self._count(event.value)
        if event.value != self._told[0]:  # the user is typing: the old problem is gone
            self.query_one("#add-error", Static).update("")

    def _count(self, value: str) -> None:
        n = len(split_ids(value))
        self.query_one("#add-count", Static).update(
            Text(f"{n:,} ids" if n > 1 else "", style="dim")
        )

    @on(Select.Changed, "#add-channel")
    def _channel_changed(self, event: Select.Changed) -> None:
        self.query_one("#add-kind").display = event.value == "infobip"
        if event.value != self._told[1]:  # the user picked another channel
            self.query_one("#add-error", Static).update("")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "submit":
            # An open list takes enter (it picks the channel); a button presses itself.
            if isinstance(self.focused, Button):
                return False
            return not any(select.expanded for select in self.query(Select))
        return True

    @on(Button.Pressed, "#add-ok")
    def action_submit(self) -> None:
        if self.in_turn("enter"):  # after the ids typed before it
            return
        checked = self.validate()
        if checked.request is not None:
            self._add(checked.request)
        if not checked.left:
            self.dismiss(None)
            return
        self.query_one("#add-ids", Input).value = " ".join(checked.left)
        self._tell(checked.message)

    @on(Button.Pressed, "#add-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    def validate(self) -> Checked:
        """What can be added, and what cannot (left in the box, with the reason) — nothing is
        requested for an id that is not valid."""
        raw = split_ids(self.query_one("#add-ids", Input).value)
        channel = str(self.query_one("#add-channel", Select).value)
        if not raw:
            return Checked(None, [], "Enter a request id (or paste several).")
        if channel in D7_CHOICES and all(item.strip().isdigit() for item in raw):
            # D7 ids are UUIDs; numbers are what Infobip hands out.
            self.query_one("#add-channel", Select).value = "infobip"
            kind = "message id" if len(raw) == 1 else "message ids"
            return Checked(
                None,
                raw,
                f"{'This looks like an Infobip id' if len(raw) == 1 else 'These look like Infobip ids'}"
                f": channel set to infobip. Pick bulk id or {kind}, then enter adds.",
            )
        typed_label = self.query_one("#add-label", Input).value
        problem = too_long(typed_label)
        if problem:  # nothing added: the ids and the label stay, to be shortened
            return Checked(None, raw, f"{problem[0].upper()}{problem[1:]}: shorten it to add.")
        kind = IdKind(str(self.query_one("#add-kind", Select).value))  # Infobip's only
        checked = check_ids(raw, channel, kind)
        problems = [one_line(why, 120) for why in checked.problems]
        left = [typed for typed, _why in checked.refused]
        targets = [t for t in checked.targets if not self._watched(t.request_id)]
        already = len(checked.targets) - len(targets)
        repeated = len(raw) - len(checked.targets) - len(checked.refused)
        label = clean_label(typed_label)
        request = AddRequest(tuple(targets), label, already, repeated) if targets else None
        if problems:
            added = f"Added {plural(len(targets), 'id')}" if targets else ""
            skipped = skipped_words(already, repeated)
            done = f"{added}{' (' + skipped + ')' if added and skipped else skipped}"
            more = f" (and {len(problems) - 1:,} more)" if len(problems) > 1 else ""
            return Checked(
                request,
                left,
                f"{done + '; ' if done else ''}{plural(len(problems), 'id')} not valid for "
                f"{channel} left here: {problems[0]}{more}.",
            )
        if not targets:
            words = (
                "Already watched." if already == 1 else f"All {already:,} ids are already watched."
            )
            return Checked(None, raw, words)
        return Checked(request, [], "")


def skipped_words(already: int, repeated: int) -> str:
    """The ids of a paste that were not added and are no problem, said so that none goes
    missing without a word: `4 already watched, 1 repeated`."""
    parts = []
    if already:
        parts.append(f"{already:,} already watched")
    if repeated:
        parts.append(f"{repeated:,} repeated")
    return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Checked:
    request: AddRequest | None  # the ids to add, if any
    left: list[str]  # ids left in the box
    message: str  # why they are left
