"""Keys typed right after a key that moves the focus go where the user meant them.

Textual hands each key to the widget that has the focus when the app reads the key; a key bound
on a screen moves the focus only once that widget has passed it up, and `Widget.focus()` waits a
turn more. So keys typed in the same burst (a fast typist, a paste of `label<TAB>note`, tmux's
send-keys) went to the old place: a label's letters into the label after tab, `/ab` adding ids
instead of filtering. Three rules fix the class:

- a key that moves the focus is a priority binding: acted on when the app reads it, in order
  with the keys around it (`FOCUS_BINDINGS` for tab; the monitor's keys that open a dialog, the
  filter or the detail are marked so in bindings.py);
- the focus is moved with `Screen.set_focus`, at once, never with `Widget.focus()`;
- a dialog passes the letters typed before its first field had the focus on to that field
  (`TypeAhead`).
"""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input

FOCUS_BINDINGS = [
    Binding("tab", "app.focus_next", "Next field", show=False, priority=True),
    Binding("shift+tab", "app.focus_previous", "Previous field", show=False, priority=True),
]


class TypeAhead(Screen):  # type: ignore[type-arg]
    """A dialog: letters that reached the screen itself (typed while it was still being built,
    before its first field had the focus) go on to the field focused now. An Input keeps
    every letter it is given, so a letter never comes back up from one."""

    def on_key(self, event: events.Key) -> None:
        focused = self.focused
        if isinstance(focused, Input) and event.is_printable and event.character:
            event.stop()
            event.prevent_default()
            focused.post_message(events.Key(event.key, event.character))
