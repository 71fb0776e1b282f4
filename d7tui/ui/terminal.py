"""The terminal as something that can go away (an SSH drop, a closed tmux window).

Textual 8.2.8 writes to the terminal from a thread through a queue of 30 writes. When the
terminal is gone the first write raises, that thread ends, the queue fills, and the next write
(or the app's own shutdown, which queues a last write) blocks the app for ever: a monitor left
with no terminal, alive, ignoring SIGTERM. Seen with the add dialog open, whose blinking cursor
keeps writing. Here writes to a terminal that is gone are dropped; the app notices the hangup
and exits as it should.
"""

from __future__ import annotations

from typing import IO, Any

from textual.driver import Driver
from textual.drivers.linux_driver import LinuxDriver


class ForgivingOutput:
    """A text file whose write and flush do nothing once the file is gone."""

    def __init__(self, file: IO[str]) -> None:
        self._file = file
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self._file.write(text)
            except (OSError, ValueError):  # EIO from a hung-up tty; a closed file
                self.gone = True
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._file.flush()
            except (OSError, ValueError):
                self.gone = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


class ForgivingLinuxDriver(LinuxDriver):
    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._file = ForgivingOutput(self._file)  # type: ignore[arg-type,assignment]


def driver_class(default: type[Driver]) -> type[Driver]:
    """The driver to run with: Textual's own, made forgiving where it is the Linux one."""
    return ForgivingLinuxDriver if default is LinuxDriver else default
