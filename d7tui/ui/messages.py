"""Typed messages between the poller, the app and its widgets."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from d7tui.models import Target
from d7tui.pollstate import NewsBatch, PollUpdate


class PollNews(Message):
    """Poll results for the screen: one batch of them (`NewsBatch`), which the screen takes.

    The message is posted when the batch opens, with its first result; the results that come
    before the screen runs join the same batch, so a flood is one pass, one repaint and one
    batch of alerts (two lines and a sum, not fifty lines), and only one such message is ever
    waiting. Results not taken yet are where the store sees them: the snapshot written to a new
    store when the file is lost under the monitor (`memory.held_snapshot`) includes them, which
    it could not if they waited in Textual's message queue only."""

    def __init__(self, batch: NewsBatch) -> None:
        super().__init__()
        self.batch = batch

    def take(self) -> list[PollUpdate]:
        """The batch's results (once: later results open another batch)."""
        return self.batch.take()


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
