"""The event strip: the last few things that happened (status changes, what a key did), newest
first, in a fixed band above the status line. Unlike a toast it covers nothing: not the status
line, not the filter being typed, not the recipients."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

from rich.cells import cell_len
from rich.text import Text

from d7tui.ui.widgets.text_static import TextStatic

Severity = Literal["information", "warning", "error"]
KEPT = 200  # lines remembered (the strip shows the newest two or three)


@dataclass(frozen=True, slots=True)
class Event:
    at: str  # wall time, as shown
    text: str
    severity: Severity = "information"
    masked: str | None = None  # the text in privacy mode, if it names a recipient

    def line(self, colours: dict[Severity, str], masked: bool = False) -> Text:
        line = Text(self.at + " ", style="dim")
        text = self.masked if masked and self.masked is not None else self.text
        line.append(text, style=colours.get(self.severity, ""))
        return line


class Events(deque[Event]):
    """What happened, newest last (the app keeps them; the strip shows the newest)."""

    def __init__(self) -> None:
        super().__init__(maxlen=KEPT)


class EventStrip(TextStatic):
    """The newest event whole (wrapped), then older ones a line each, cut to the width (the
    timeline and the rows have them whole)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(fixed=True, id=id)
        self._shown: tuple[Events, dict[Severity, str], bool] | None = None

    def show_events(self, events: Events, colours: dict[Severity, str], masked: bool) -> None:
        self._shown = (events, colours, masked)
        width = self.content_size.width or 80
        height = self.content_size.height or 2
        newest_first = [e.line(colours, masked) for e in reversed(list(events)[-height:])]
        if not newest_first:
            self.show_text(Text("No status changes yet.", style="dim"))
            return
        # The newest wraps over as many lines as the strip has (an export's whole path is read
        # there); the older ones fill what is left, one line each.
        lines = list(newest_first[0].wrap(self.app.console, width))
        if len(lines) > height:  # a long path does not fit word by word: cell by cell
            lines = _fold(newest_first[0], width)
        lines = lines[:height]
        for line in newest_first[1:]:
            if len(lines) >= height:
                break
            line.truncate(width, overflow="ellipsis")
            lines.append(line)
        self.show_text(Text("\n").join(lines))

    def on_resize(self) -> None:
        super().on_resize()
        if self._shown is not None:
            self.show_events(*self._shown)


def _fold(text: Text, width: int) -> list[Text]:
    """`text` cut into lines of `width` cells, wherever a line is full."""
    offsets, used = [], 0
    for index, char in enumerate(text.plain):
        size = cell_len(char)
        if used + size > width:
            offsets.append(index)
            used = 0
        used += size
    return list(text.divide(offsets))
