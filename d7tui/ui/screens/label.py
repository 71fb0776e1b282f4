"""The `l` dialog: the label and the note of the selected request (what the support desk
writes down about it: "refund, customer called twice"). Enter saves, esc cancels."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from d7tui.models import MAX_TYPED_LABEL, MAX_TYPED_NOTE
from d7tui.ui.edge import Guarded, on
from d7tui.ui.format import short_id


class LabelDialog(Guarded, ModalScreen[tuple[str, str] | None]):
    """Dismissed with (label, note), or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", show=False)]

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
                max_length=MAX_TYPED_LABEL,
                select_on_focus=False,
                id="label-label",
            )
            yield Input(
                value=self._note,
                placeholder="note (optional)",
                max_length=MAX_TYPED_NOTE,
                select_on_focus=False,
                id="label-note",
            )
            with Horizontal(id="label-buttons"):
                yield Button("Save", variant="primary", id="label-ok")
                yield Button("Cancel", id="label-cancel")

    def on_mount(self) -> None:
        self.query_one("#label-label", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#label-ok")
    def _save(self) -> None:
        label = self.query_one("#label-label", Input).value
        note = self.query_one("#label-note", Input).value
        self.dismiss((label, note))

    @on(Button.Pressed, "#label-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
