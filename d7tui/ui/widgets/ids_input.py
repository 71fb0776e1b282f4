"""An input that takes a paste of many ids: line breaks become spaces instead of dropping every
line after the first (what Textual's Input does)."""

from __future__ import annotations

from textual import events
from textual.message import Message
from textual.widgets import Input

from d7tui.safety import safe_text
from d7tui.ui.edge import Guarded


def flatten_paste(text: str) -> str:
    """A paste of ids on one line: whitespace first (line breaks must separate ids), then any
    control character left made visible: the ids are validated later and a bad one is named,
    not lost."""
    return safe_text(" ".join(text.split()), limit=1_000_000)


# Textual's input parser (8.x) reads an ESC inside a bracketed paste as the start of a key
# sequence: the ESC stays in the paste, but up to 32 characters after it arrive as key presses
# before the paste itself (line breaks as enter). Nothing public lets an app undo that, so a
# paste that holds an ESC is named for what it is, with the way round it.
GARBLED_PASTE = (
    "That paste held terminal escape codes (ESC, as copied from a coloured log): the text after "
    "them may have been garbled on the way in. Check the ids, or add them from a file: "
    "d7tui add - < FILE"
)


def garbled(text: str) -> bool:
    return "\x1b" in text


class IdsInput(Guarded, Input):
    class Garbled(Message):
        """A paste with an ESC in it was taken: its tail may have come in as keys."""

    def _on_paste(self, event: events.Paste) -> None:
        # Textual also runs the handlers of base classes unless the default is prevented:
        # Input's own would insert the first line a second time.
        event.prevent_default()
        if event.text:
            pasted = flatten_paste(event.text)
            selection = self.selection
            if selection.is_empty:
                self.insert_text_at_cursor(pasted)
            else:
                self.replace(pasted, *selection)
            if garbled(event.text):
                self.post_message(self.Garbled())
        event.stop()
