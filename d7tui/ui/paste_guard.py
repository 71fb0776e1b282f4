"""Keys that arrive with a paste are not the user's: they are dropped.

Textual's input reader ends a paste at the terminal's end-of-paste marker; whatever follows it in
the same read is read as key presses. A crafted clipboard (`promo ESC[201~ <tab> +++ p`) pasted
into the filter box thus paused polling, raised the poll rate, removed a request and filled in the
send form — while the filter showed "promo". No hand presses a key within milliseconds of a
paste's end, so a key made (`Message.time`: when the reader made the event) that soon after a
paste is part of it.
"""

from __future__ import annotations

from textual import events

PASTE_TAIL = 0.03  # seconds: a key made this soon after a paste came in the same read


class PasteGuard:
    def __init__(self) -> None:
        self._paste_at = float("-inf")
        self.dropped = 0  # keys dropped since the last paste

    def admits(self, event: events.Event) -> bool:
        """False for a key that came with a paste; a paste starts a new count."""
        if isinstance(event, events.Paste):
            self._paste_at = event.time
            self.dropped = 0
            return True
        if isinstance(event, events.Key) and event.time - self._paste_at < PASTE_TAIL:
            self.dropped += 1
            return False
        return True
