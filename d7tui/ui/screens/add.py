"""The add dialog: one id or a paste of many, a channel (`auto` by default), an optional label.

Every id is validated before anything is requested; a bad one is named in the dialog and nothing
is added.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from d7tui.models import CHANNEL_CHOICES, IdKind, InvalidId, Target, split_ids, validate_id
from d7tui.safety import one_line, safe_text
from d7tui.ui.edge import Guarded, on
from d7tui.ui.messages import AddRequest
from d7tui.ui.widgets.ids_input import IdsInput

MAX_LABEL = 60
_CHANNEL_LABELS = {
    "auto": "auto (sms, whatsapp or viber)",
    "sms": "sms",
    "whatsapp": "whatsapp",
    "viber": "viber",
    "infobip": "infobip (sms)",
}


class AddDialog(Guarded, ModalScreen[AddRequest | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(self, initial: str = "", *, watched: Callable[[str], bool]) -> None:
        super().__init__()
        self._initial = initial
        self._watched = watched

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
                yield Input(placeholder="label (optional)", max_length=MAX_LABEL, id="add-label")
            yield Static(id="add-error")
            with Horizontal(id="add-buttons"):
                yield Button("Add", variant="primary", id="add-ok")
                yield Button("Cancel", id="add-cancel")

    def on_mount(self) -> None:
        self.query_one("#add-kind").display = False
        self._count(self._initial)
        self.query_one("#add-ids").focus()

    @on(Input.Changed, "#add-ids")
    def _ids_changed(self, event: Input.Changed) -> None:
        self._count(event.value)
        self.query_one("#add-error", Static).update("")

    def _count(self, value: str) -> None:
        n = len(split_ids(value))
        self.query_one("#add-count", Static).update(
            Text(f"{n:,} ids" if n > 1 else "", style="dim")
        )

    @on(Select.Changed, "#add-channel")
    def _channel_changed(self, event: Select.Changed) -> None:
        self.query_one("#add-kind").display = event.value == "infobip"
        self.query_one("#add-error", Static).update("")

    @on(Input.Submitted)
    @on(Button.Pressed, "#add-ok")
    def _submit(self) -> None:
        result = self.validate()
        if isinstance(result, str):
            self.query_one("#add-error", Static).update(Text(result))
            return
        self.dismiss(result)

    @on(Button.Pressed, "#add-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    def validate(self) -> AddRequest | str:
        """The request, or what is wrong with the input (one line) — nothing is requested then."""
        raw = split_ids(self.query_one("#add-ids", Input).value)
        channel = str(self.query_one("#add-channel", Select).value)
        kind = (
            IdKind(str(self.query_one("#add-kind", Select).value))
            if channel == "infobip"
            else IdKind.REQUEST
        )
        if not raw:
            return "Enter a request id (or paste several)."
        problems: list[str] = []
        targets: list[Target] = []
        seen: set[str] = set()
        already = 0
        for item in raw:
            try:
                value = validate_id(item, channel)
            except InvalidId as exc:
                problems.append(one_line(str(exc), 120))
                continue
            if value in seen:
                continue
            seen.add(value)
            if self._watched(value):
                already += 1
                continue
            targets.append(Target(value, channel, kind))
        if problems:
            if len(raw) == 1:
                return f"{problems[0]}. Nothing was added."
            more = f" (and {len(problems) - 1:,} more)" if len(problems) > 1 else ""
            return (
                f"{len(problems):,} of {len(raw):,} ids are not valid for {channel}: "
                f"{problems[0]}{more}. Nothing was added."
            )
        if not targets:
            return (
                "Already watched." if already == 1 else f"All {already:,} ids are already watched."
            )
        label = safe_text(" ".join(self.query_one("#add-label", Input).value.split()), MAX_LABEL)
        return AddRequest(tuple(targets), label)
