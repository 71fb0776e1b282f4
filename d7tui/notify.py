"""Desktop notifications through the terminal, for a failure seen while the user looks elsewhere.

The terminal shows them: OSC 9 (`ESC ] 9 ; text BEL`: iTerm2, Windows Terminal, kitty, WezTerm,
Ghostty) or OSC 777 (`ESC ] 777 ; notify ; title ; body BEL`: VTE terminals such as GNOME
Terminal, foot, urxvt, Ghostty, WezTerm). One is chosen, not both: a terminal that speaks both
would show every notification twice. Inside tmux the sequence is wrapped in tmux's DCS
passthrough (`ESC P tmux; … ESC \\`, every ESC inside doubled), which tmux 3.3+ lets through with
`set -g allow-passthrough on`.

Nothing here touches the terminal: `DesktopNotifier` hands the text to a `write` function (the
monitor gives it its Textual driver's public `write`, so the bytes are queued with the screen's
own and never land in the middle of a frame). No Textual import.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from enum import StrEnum

MAX_TEXT = 200
MIN_GAP = 10.0  # seconds between two notifications: a burst of failures is one, then a count
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f;]")  # controls end or bend the sequence; ';' splits 777


class Protocol(StrEnum):
    OSC9 = "osc9"
    OSC777 = "osc777"


def choose(setting: bool | str, env: Mapping[str, str]) -> Protocol | None:
    """The protocol to speak (None: off). `setting` is config's `desktop_notifications`: true
    (pick from the terminal), false, "osc9" or "osc777"."""
    if setting is False:
        return None
    if isinstance(setting, str):
        return Protocol(setting)
    term = env.get("TERM", "")
    if env.get("VTE_VERSION") or term.startswith(("rxvt", "foot")):
        return Protocol.OSC777
    return Protocol.OSC9


def _clean(text: str) -> str:
    flat = _UNSAFE.sub(" ", text)
    flat = " ".join(flat.split())
    return flat if len(flat) <= MAX_TEXT else flat[: MAX_TEXT - 1] + "…"


def sequence(protocol: Protocol, title: str, body: str, *, tmux: bool = False) -> str:
    """The escape sequence that raises one notification (title and body cleaned first: no
    control character of theirs can end it early or start another)."""
    title, body = _clean(title), _clean(body)
    if protocol is Protocol.OSC777:
        osc = f"\x1b]777;notify;{title};{body}\x07"
    else:
        osc = f"\x1b]9;{title}: {body}\x07"
    if tmux:
        return "\x1bPtmux;" + osc.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    return osc


class DesktopNotifier:
    """Raises a notification only while the terminal is not focused, at most one per MIN_GAP
    seconds (what was held back is counted in the next)."""

    def __init__(
        self,
        write: Callable[[str], None] | None,
        protocol: Protocol | None,
        *,
        tmux: bool,
        clock: Callable[[], float],
        min_gap: float = MIN_GAP,
    ) -> None:
        self.write = write
        self.protocol = protocol
        self.tmux = tmux
        self.clock = clock
        self.min_gap = min_gap
        self.focused = True  # the app starts in front of the user
        self.sent = 0
        self._last: float | None = None
        self._held = 0
        self._held_title = self._held_body = ""  # the last one held back

    def notify(self, title: str, body: str) -> bool:
        """Raise one, if the user is away and it is not too soon; whether it was sent."""
        if self.focused or self.protocol is None or self.write is None:
            return False
        now = self.clock()
        if self._last is not None and now - self._last < self.min_gap:
            self._held += 1
            self._held_title, self._held_body = title, body
            return False
        if self._held:
            body = f"{body} (and {self._held} more)"
            self._held = 0
        self._last = now
        self.write(sequence(self.protocol, title, body, tmux=self.tmux))
        self.sent += 1
        return True

    def flush_in(self) -> float | None:
        """Seconds until what was held back may be sent (`flush`); None: nothing is held."""
        if not self._held or self._last is None:
            return None
        return max(0.0, self._last + self.min_gap - self.clock())

    def flush(self) -> bool:
        """Send what was held back, when no later failure came to carry it: the user away from
        the terminal hears of every failure, not only of the first of a burst."""
        wait = self.flush_in()
        if wait is None or wait > 0 or self.focused or self.protocol is None or not self.write:
            return False
        held, self._held = self._held, 0
        body = self._held_body if held == 1 else f"{held} more, the last: {self._held_body}"
        self._last = self.clock()
        self.write(sequence(self.protocol, self._held_title, body, tmux=self.tmux))
        self.sent += 1
        return True

    def focus(self, focused: bool) -> None:
        """The terminal gained or lost focus. Back in front, what was held back is dropped: the
        user now sees it on screen."""
        self.focused = focused
        if focused:
            self._held = 0
