"""Typed messages between the poller, the app and its widgets."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from d7tui.models import Target


class PollNews(Message):
    """The poller left news in the monitor's inbox (`Monitor.take_news`). A signal, carrying no
    results on purpose:

    - A flood is one batch. It is posted when the inbox stops being empty, and the screen takes
      all that came by the time it runs: fifty results are one pass, one repaint and one batch
      of alerts (two lines and a sum, not fifty lines). A message carrying results could only
      carry those known when it was posted.
    - Results not taken yet stay where the store sees them: the snapshot written to a new store
      when the file is lost under the monitor (`memory.held_snapshot`) includes them, which it
      could not if they waited in Textual's message queue."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, PollNews)


class PollerStopped(Message):
    """The poller's worker ended (it should not): the screen says so and offers `p` to restart."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AddRequest:
    """What the add dialog returns: ids already validated for `channel`."""

    targets: tuple[Target, ...]
    label: str
    already: int = 0  # ids typed that are watched already: not added again, but said
    repeated: int = 0  # ids typed more than once in the box
