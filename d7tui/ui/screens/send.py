"""The `S` dialog: one test message, then watched. It costs money, so it is asked twice: the form
is checked (nothing is sent while anything is wrong), then a confirmation names what will be
sent, to whom, and says it costs money; only `y` (or the Send button) sends."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from d7tui.channels.send import Message, SendProblem, check
from d7tui.models import Channel
from d7tui.ui.edge import Guarded, on

_CHANNELS = [
    ("sms (D7)", Channel.SMS.value),
    ("whatsapp (D7)", Channel.WHATSAPP.value),
    ("viber (D7)", Channel.VIBER.value),
    ("sms (Infobip)", Channel.INFOBIP.value),
]


class SendDialog(Guarded, ModalScreen[Message | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", show=False),
        Binding("y", "confirm", "Send", show=False),
        Binding("n", "back", "Back", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.checked: Message | None = None  # set once the form is right: confirming

    def compose(self) -> ComposeResult:
        with Vertical(id="send-box"):
            yield Label(
                "Send a test message, then watch it   (enter checks, esc cancels)",
                id="send-title",
            )
            with Horizontal(classes="send-row"):
                yield Select(_CHANNELS, value="sms", allow_blank=False, id="send-channel")
                yield Input(placeholder="to: +971501234567", id="send-to")
                yield Input(placeholder="from: sender", id="send-from")
            yield Input(placeholder="text", id="send-text")
            with Horizontal(classes="send-row", id="send-template-row"):
                yield Input(placeholder="or a template", id="send-template")
                yield Input(placeholder="language (en)", id="send-language")
                yield Input(placeholder="params: a|b", id="send-params")
            yield Static(id="send-error")
            yield Static(id="send-confirm")
            with Horizontal(id="send-buttons"):
                yield Button("Check", variant="primary", id="send-ok")
                yield Button("Cancel", id="send-cancel")

    def on_mount(self) -> None:
        self.query_one("#send-template-row").display = False
        self.query_one("#send-confirm").display = False
        self.query_one("#send-to").focus()

    @on(Select.Changed, "#send-channel")
    def _channel_changed(self, event: Select.Changed) -> None:
        self.query_one("#send-template-row").display = event.value == Channel.WHATSAPP.value
        self.action_back()
        self._say("")

    def _value(self, name: str) -> str:
        return self.query_one(f"#send-{name}", Input).value.strip()

    def message(self) -> Message:
        """The message as the form says it (unchecked)."""
        channel = Channel(str(self.query_one("#send-channel", Select).value))
        template = self._value("template") if channel is Channel.WHATSAPP else ""
        params = tuple(p.strip() for p in self._value("params").split("|") if p.strip())
        return Message(
            channel,
            self._value("to"),
            self.query_one("#send-text", Input).value or None,  # with a template too: refused
            template or None,
            self._value("language") or "en",
            params if template else (),
            self._value("from") or None,
        )

    @on(Button.Pressed, "#send-ok")
    def _pressed(self) -> None:
        if self.checked is not None:
            self.action_confirm()
        else:
            self._check()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        if self.checked is None:  # enter checks; it never sends
            self._check()

    @on(Input.Changed)
    def _edited(self) -> None:
        self.action_back()  # what was confirmed is no longer what the form says
        self._say("")

    def _check(self) -> None:
        try:
            checked = check(self.message())
        except SendProblem as exc:
            self._say(f"{exc}. Nothing was sent.")
            return
        self.checked = checked
        self._say("")
        confirm = self.query_one("#send-confirm", Static)
        confirm.update(
            Text.assemble(
                ("Send ", "bold"),
                (checked.describe(), "bold"),
                ("? It costs money.\n", "bold"),
                ("y or Send sends it; n or Back goes back to the form; esc cancels.", "dim"),
            )
        )
        confirm.display = True
        self.query_one("#send-ok", Button).label = "Send"
        back = self.query_one("#send-cancel", Button)
        back.label = "Back"  # enter, pressed again, goes back to the form: nothing is lost
        back.focus()  # enter alone must not spend money

    def action_confirm(self) -> None:
        if self.checked is not None:
            self.dismiss(self.checked)

    def action_back(self) -> None:
        if self.checked is None:
            return
        self.checked = None
        self.query_one("#send-confirm").display = False
        self.query_one("#send-ok", Button).label = "Check"
        self.query_one("#send-cancel", Button).label = "Cancel"

    def _say(self, line: str) -> None:
        self.query_one("#send-error", Static).update(Text(line))

    @on(Button.Pressed, "#send-cancel")
    def _cancel_pressed(self) -> None:
        if self.checked is not None:
            self.action_back()
            self.query_one("#send-to").focus()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # y and n are letters a user types into the form: keys only while confirming.
        if action in ("confirm", "back"):
            return self.checked is not None
        return True
