"""The terminal as something that can go away (an SSH drop, a closed tmux window).

Textual writes to the terminal from a thread through a queue of a few dozen writes. When the
terminal is gone, the first write raises in that thread and ends it; the queue then fills, and
the next write (or the app's own shutdown, which queues a last write) blocks the app for ever: a
monitor left with no terminal, alive, ignoring SIGTERM. Seen with the add dialog open, whose
blinking cursor keeps writing.

Here the driver's public `write` asks the terminal whether it is still there before handing
the text on (one `tcgetattr`, a few microseconds, at most once a frame), and drops everything
once it is not; the app notices the hangup and exits as it should.
"""

from __future__ import annotations

import termios
from collections.abc import Callable
from typing import Any

from textual import events
from textual.driver import Driver
from textual.drivers.linux_driver import LinuxDriver
from textual.message import Message


def terminal_alive(fd: int) -> bool:
    try:
        termios.tcgetattr(fd)
    except (termios.error, OSError, ValueError):
        return False
    return True


class ForgivingLinuxDriver(LinuxDriver):
    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.terminal_gone = False

    def write(self, data: str) -> None:
        if self.terminal_gone:
            return
        if not terminal_alive(self.fileno):
            self.terminal_gone = True
            return
        super().write(data)


def driver_class(
    default: type[Driver],
    on_start: Callable[[Callable[[str], None]], None] | None = None,
    on_key: Callable[[], None] | None = None,
    on_frame: Callable[[], None] | None = None,
) -> type[Driver]:
    """The driver to run with: Textual's own, made forgiving where it is the Linux one.
    `on_start` is handed the driver's public `write` once the driver is made: what d7tui itself
    writes to the terminal (a desktop notification) is queued with Textual's own output, never
    in the middle of a frame. `on_key` is called in the driver's input thread the moment a key
    is read, before the key reaches the app's loop; `on_frame` after each write of the screen
    (keys_first.py)."""
    base = ForgivingLinuxDriver if default is LinuxDriver else default
    if on_start is None and on_key is None and on_frame is None:
        return base
    started, keyed, framed = on_start, on_key, on_frame  # narrowed, for the class below

    class Reporting(base):  # type: ignore[valid-type,misc]
        def __init__(self, app: Any, **kwargs: Any) -> None:
            super().__init__(app, **kwargs)
            if started is not None:
                started(self.write)

        def process_message(self, message: Message) -> None:
            if keyed is not None and isinstance(message, events.Key):
                keyed()
            super().process_message(message)

        def write(self, data: str) -> None:
            super().write(data)
            if framed is not None:
                framed()

    return Reporting
