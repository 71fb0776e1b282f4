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
- a dialog passes the letters typed before its first field had the focus on to that field,
  and acts on its own priority keys (tab, enter) only once the keys before them were
  (`TypeAhead`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Input

FOCUS_BINDINGS = [
    Binding("tab", "app.focus_next", "Next field", show=False, priority=True),
    Binding("shift+tab", "app.focus_previous", "Previous field", show=False, priority=True),
]


class TypeAhead(ModalScreen):  # type: ignore[type-arg]
    """A dialog whose keys keep their order. Modal (Textual takes a class's default CSS through
    its first base only: a `Screen` here made every dialog opaque, blanking the monitor behind
    it), so the list, the event strip and the status line stay seen, dimmed, behind it. The letters that reached the screen itself (typed
    while it was still being built, before its first field had the focus) go into the field
    focused then. Its priority keys (tab, and what a subclass adds to `IN_TURN`, such as enter)
    are acted on only once the keys typed before them were (`in_turn`), so enter never adds
    ids still on their way to the field."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "next_field", "Next field", show=False, priority=True),
        Binding("shift+tab", "previous_field", "Previous field", show=False, priority=True),
    ]
    IN_TURN: ClassVar[dict[str, str]] = {"tab": "next_field", "shift+tab": "previous_field"}

    _acting = False  # an IN_TURN key came round: its action runs now

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deferred: set[int] = set()  # the keys `in_turn` put in the screen's queue

    def in_turn(self, key: str, *, moves_focus: bool = False) -> bool:
        """True: `key` waits for the keys typed before it, and its action runs then. While
        the dialog is being built they are in the screen's queue; then in the focused field's
        (a key that moves the focus acts at once instead: the keys after it must find the
        focus moved). False: act now."""
        if self._acting:
            return False
        if self.focused is None:
            deferred = events.Key(key, None)
            self._deferred.add(id(deferred))
            self.post_message(deferred)
            return True
        if moves_focus:
            return False
        self.focused.call_later(self._act, self.IN_TURN[key])
        return True

    async def _act(self, action: str) -> None:
        self._acting = True
        try:
            await self.run_action(action)
        finally:
            self._acting = False

    def action_next_field(self) -> None:
        if not self.in_turn("tab", moves_focus=True):
            self.focus_next()

    def action_previous_field(self) -> None:
        if not self.in_turn("shift+tab", moves_focus=True):
            self.focus_previous()

    async def on_key(self, event: events.Key) -> None:
        action = self.IN_TURN.get(event.key)
        if action is not None and id(event) in self._deferred:  # not one a field passed up
            self._deferred.discard(id(event))
            event.stop()
            event.prevent_default()
            await self._act(action)
            return
        focused = self.focused
        if isinstance(focused, Input) and event.is_printable and event.character:
            event.stop()
            event.prevent_default()
            focused.insert_text_at_cursor(event.character)
