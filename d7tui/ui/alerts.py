"""What a status change says to the user: one line of the event strip, and whether it is a
failure (told in the failure colour and, if configured, with the terminal bell)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from d7tui.models import Phase, Transition
from d7tui.output import plural
from d7tui.ui.format import free_text, recipient_text
from d7tui.watchlist import Entry


@dataclass(frozen=True, slots=True)
class Alert:
    request_id: str
    title: str  # the short id, and the label or channel
    recipient: str | None
    old_status: str | None
    new_status: str | None
    failed: bool
    reason: str | None = None
    # When the change happened: a desk's follower learns it from the store, maybe long after
    # (stopped, asleep), and the line says when it happened, not when it was read.
    at: float | None = None

    def message(self, masked: bool) -> str:
        who = recipient_text(self.recipient, masked)
        old = self.old_status or "new"
        line = f"{who}: {old} → {self.new_status or 'no status'}"
        if self.failed and self.reason:
            line += f" ({free_text(self.reason, masked)})"
        return line

    def line(self, masked: bool) -> str:
        mark = "✗ " if self.failed else ""
        return f"{mark}{free_text(self.title, masked)} · {self.message(masked)}"


def alerts_for(entry: Entry, short_id: str, transitions: Iterable[Transition]) -> list[Alert]:
    title = short_id + (f" {entry.label}" if entry.label else f" {entry.channel}")
    return [
        Alert(
            request_id=entry.request_id,
            title=title,
            recipient=t.recipient or t.recipient_key,
            old_status=t.old_status,
            new_status=t.new_status,
            failed=t.new_phase is Phase.FAILED and t.old_phase is not Phase.FAILED,
            reason=t.reason,
            at=t.at,
        )
        for t in transitions
    ]


def summary(alerts: list[Alert]) -> tuple[str, bool]:
    """One line for many alerts, and whether any is a failure."""
    failed = sum(1 for a in alerts if a.failed)
    requests = len({a.request_id for a in alerts})
    line = f"{plural(len(alerts), 'more status change')} in {plural(requests, 'request')}"
    if failed:
        line += f", {failed:,} failed"
    return line + ": the rows and timelines show each.", bool(failed)


BELL_GAP = 3.0  # seconds: failures within it are one ring


class Bell:
    """The failure bell, rung at most once per `gap` seconds of the monitor's clock: a flood of
    failures (2,000 recipients at once, a server that flaps) is one ring, not hundreds a
    second of buzz or, with a visual bell, a strobing screen."""

    def __init__(self, ring: Callable[[], None], clock: Callable[[], float], gap: float = BELL_GAP):
        self._ring = ring
        self._clock = clock
        self._gap = gap
        self._last: float | None = None

    def ring(self) -> bool:
        now = self._clock()
        if self._last is not None and now - self._last < self._gap:
            return False
        self._last = now
        self._ring()
        return True
