"""Keys typed right after a key that moves the focus go where the user meant them.

Textual hands each key to the widget that has the focus when the app reads the key; a key bound
on a screen moves the focus only once that widget has passed it up, and `Widget.focus()` waits a
turn more. So keys typed in the same burst (a fast typist, a paste of `label<TAB>note`, tmux's
send-keys) went to the old place: a label's letters into the label after tab, `/ab` adding ids
instead of filtering. Three rules fix the class:

- a key that moves the focus is a priority binding: acted on when the app reads it, in order
  with the keys around it (`FOCUS_BINDINGS` for tab in the monitor, `TypeAhead`'s in a dialog;
  the monitor's keys that open a dialog, the filter or the detail are marked so in
  bindings.py);
- the focus is moved with `Screen.set_focus`, at once, never with `Widget.focus()`;
- a dialog passes the letters typed before its first field had the focus on to that field
  (`TypeAhead`).
"""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Input

FOCUS_BINDINGS = [
    Binding("tab", "app.focus_next", "Next field", show=False, priority=True),
    Binding("shift+tab", "app.focus_previous", "Previous field", show=False, priority=True),
]


class TypeAhead(Screen):  # type: ignore[type-arg]
    """A dialog: the keys that reached the screen itself (typed while it was still being built,
    before its first field had the focus) go on, in order, to the field focused then: a
    letter to that field, a tab to the next field. An Input keeps every letter it is given, so
    a letter never comes back up from one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "next_field", "Next field", show=False, priority=True),
        Binding("shift+tab", "previous_field", "Previous field", show=False, priority=True),
    ]

    def action_next_field(self) -> None:
        self._to_field("tab")

    def action_previous_field(self) -> None:
        self._to_field("shift+tab")

    def _to_field(self, key: str) -> None:
        if self.focused is None:  # still being built: in its turn, after the letters before it
            self.post_message(events.Key(key, "\t" if key == "tab" else None))
        elif key == "tab":
            self.focus_next()
        else:
            self.focus_previous()

    def on_key(self, event: events.Key) -> None:
        focused = self.focused
        if event.key in ("tab", "shift+tab") and focused is not None:
            event.stop()
            event.prevent_default()
            self._to_field(event.key)
        elif isinstance(focused, Input) and event.is_printable and event.character:
            event.stop()
            event.prevent_default()
            focused.post_message(events.Key(event.key, event.character))
