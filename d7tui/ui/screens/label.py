"""The `l` dialog: the label and the note of the selected request (what the support desk
writes down about it: "refund, customer called twice"). Enter saves, esc cancels."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from d7tui.models import too_long
from d7tui.ui.edge import Guarded, on
from d7tui.ui.format import short_id
from d7tui.ui.typeahead import TypeAhead


class LabelDialog(Guarded, TypeAhead, ModalScreen[tuple[str, str] | None]):
    """Dismissed with (label, note), or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", show=False),
    ]

    def __init__(self, request_id: str, label: str, note: str) -> None:
        super().__init__()
        self._request_id = request_id
        self._label = label
        self._note = note

    def compose(self) -> ComposeResult:
        with Vertical(id="label-box"):
            yield Label(
                Content(
                    f"Label and note of {short_id(self._request_id)}   (enter saves, esc cancels)"
                ),
                id="label-title",
            )
            # The cursor goes after the text: the first key adds to the label, not replaces it.
            yield Input(
                value=self._label,
                placeholder="label",
                select_on_focus=False,
                id="label-label",
            )
            yield Input(
                value=self._note,
                placeholder="note (optional)",
                select_on_focus=False,
                id="label-note",
            )
            yield Static(id="label-problem")
            with Horizontal(id="label-buttons"):
                yield Button("Save", variant="primary", id="label-ok")
                yield Button("Cancel", id="label-cancel")

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#label-label", Input))

    @on(Input.Submitted)
    @on(Button.Pressed, "#label-ok")
    def _save(self) -> None:
        label = self.query_one("#label-label", Input).value
        note = self.query_one("#label-note", Input).value
        # A note stored long before (an older d7tui cut it, with a mark) is not the user's to
        # shorten now: only what was typed is checked.
        problem = too_long(label, note if note != self._note else None)
        if problem:  # kept in the fields, to be shortened: never cut or dropped unseen
            self.query_one("#label-problem", Static).update(
                Content(f"{problem[0].upper()}{problem[1:]}: shorten it to save.")
            )
            return
        self.dismiss((label, note))

    @on(Button.Pressed, "#label-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
