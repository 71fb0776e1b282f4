"""What a transition says to the user: the toast's title and line, and whether it is a failure
(a warning toast and, if configured, the terminal bell)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from d7tui.models import Phase, Transition
from d7tui.ui.format import recipient_text, short_id
from d7tui.watchlist import Entry


@dataclass(frozen=True, slots=True)
class Alert:
    request_id: str
    title: str
    recipient: str | None
    old_status: str | None
    new_status: str | None
    failed: bool
    reason: str | None = None

    def message(self, masked: bool) -> str:
        who = recipient_text(self.recipient, masked)
        old = self.old_status or "new"
        line = f"{who}: {old} → {self.new_status or 'no status'}"
        if self.failed and self.reason:
            line += f" ({self.reason})"
        return line


def alerts_for(entry: Entry, transitions: Iterable[Transition]) -> list[Alert]:
    title = short_id(entry.request_id)
    title += f" · {entry.label}" if entry.label else f" · {entry.channel}"
    return [
        Alert(
            request_id=entry.request_id,
            title=title,
            recipient=t.recipient or t.recipient_key,
            old_status=t.old_status,
            new_status=t.new_status,
            failed=t.new_phase is Phase.FAILED and t.old_phase is not Phase.FAILED,
            reason=t.reason,
        )
        for t in transitions
    ]


class AlertGate:
    """At most `limit` toasts in any `window` seconds: a flood of changes must not bury the
    screen. Failures go first; what does not fit is held and later told as one summary."""

    def __init__(self, limit: int = 2, window: float = 8.0) -> None:
        self.limit = limit
        self.window = window
        self._sent: deque[float] = deque()
        self.held: list[Alert] = []

    def _room(self, now: float) -> int:
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()
        return max(0, self.limit - len(self._sent))

    def offer(self, alerts: list[Alert], now: float) -> tuple[list[Alert], float | None]:
        """The alerts to show now, and when to call `take` for the held rest (or None)."""
        ordered = sorted(alerts, key=lambda a: not a.failed)
        room = 0 if self.held else self._room(now)
        shown, rest = ordered[:room], ordered[room:]
        self._sent.extend([now] * len(shown))
        self.held.extend(rest)
        return shown, (self._sent[0] + self.window if self.held and self._sent else now)

    def take(self, now: float) -> list[Alert]:
        """The held alerts, to be told as one toast (which counts as one)."""
        held, self.held = self.held, []
        if held:
            self._room(now)
            self._sent.append(now)
        return held


def summary(alerts: list[Alert]) -> tuple[str, bool]:
    """One line for many alerts, and whether any is a failure."""
    failed = sum(1 for a in alerts if a.failed)
    requests = len({a.request_id for a in alerts})
    line = f"{len(alerts)} more status changes in {requests} request{'s' if requests > 1 else ''}"
    if failed:
        line += f", {failed} failed"
    return line + ": the rows and timelines show each.", bool(failed)
