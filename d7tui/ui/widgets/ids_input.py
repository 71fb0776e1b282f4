"""An input that takes a paste of many ids: line breaks become spaces instead of dropping every
line after the first (what Textual's Input does)."""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from d7tui.safety import safe_text
from d7tui.ui.edge import Guarded


def flatten_paste(text: str) -> str:
    """A paste of ids on one line: whitespace first (line breaks must separate ids), then any
    control character left made visible: the ids are validated later and a bad one is named,
    not lost."""
    return safe_text(" ".join(text.split()), limit=1_000_000)


class IdsInput(Guarded, Input):
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
        event.stop()
