"""The event strip: the last few things that happened (status changes, what a key did), newest
first, in a fixed band above the status line. Unlike a toast it covers nothing: not the status
line, not the filter being typed, not the recipients."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

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
    """One event a line, cut to the width (a long one ends in an ellipsis: the timeline and
    the rows have it whole)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(fixed=True, id=id)
        self._shown: tuple[Events, dict[Severity, str], bool] | None = None

    def show_events(self, events: Events, colours: dict[Severity, str], masked: bool) -> None:
        self._shown = (events, colours, masked)
        width = self.content_size.width or 80
        lines = [e.line(colours, masked) for e in list(events)[-3:]]
        lines.reverse()
        for line in lines:
            line.truncate(width, overflow="ellipsis")
        text = Text("\n").join(lines) if lines else Text("No status changes yet.", style="dim")
        self.show_text(text)

    def on_resize(self) -> None:
        super().on_resize()
        if self._shown is not None:
            self.show_events(*self._shown)
