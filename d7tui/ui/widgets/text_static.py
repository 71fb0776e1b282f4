"""A Static for text that is redrawn often (the status line, the detail's head): an unchanged
text costs nothing, and a changed one asks for a new layout only when its height may change
(a layout pass over the whole screen is the most expensive thing a redraw can do). `fixed`: its
height is set by the stylesheet, so a change never asks for a layout."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from d7tui.ui.edge import Guarded


class TextStatic(Guarded, Static):
    def __init__(self, text: Text | None = None, *, fixed: bool = False, **kwargs: object) -> None:
        super().__init__(text or Text(), **kwargs)  # type: ignore[arg-type]
        self._text = text or Text()
        self._height = -1
        self._fixed = fixed

    @property
    def text(self) -> Text:
        return self._text

    def show_text(self, text: Text) -> None:
        old = self._text
        if text.plain == old.plain and text.spans == old.spans and text.style == old.style:
            return
        self._text = text
        if self._fixed:
            self.update(text, layout=False)
            return
        if not self.display:
            # Hidden (the recipient's fields outside the detail): no layout for what is not
            # shown; showing it lays it out. Without this, every key asked for a whole-screen
            # layout, as a hidden widget has no width to measure the text against.
            self.update(text, layout=False)
            self._height = -1
            return
        width = self.content_size.width or self.size.width
        height = len(text.wrap(self.app.console, width)) if width > 0 else -1
        self.update(text, layout=height != self._height or height < 0)
        self._height = height

    def on_resize(self) -> None:
        self._height = -1
