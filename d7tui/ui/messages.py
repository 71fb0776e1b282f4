"""Typed messages between the poller, the app and its widgets."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from d7tui.models import Target


class PollNews(Message):
    """The poller left news in the monitor's inbox. Consecutive ones coalesce: a flood of poll
    results costs one pass over the inbox and one repaint, and nothing is lost because the
    results themselves wait in the inbox, not in the message."""

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
