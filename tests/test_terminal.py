"""The monitor outlives its terminal only long enough to notice: writes to a terminal that went
away (a real pty whose other end was closed) must never block the app."""

from __future__ import annotations

import contextlib
import os
import threading
from typing import TextIO

import pytest
from textual.drivers._writer_thread import MAX_QUEUED_WRITES, WriterThread
from textual.drivers.linux_driver import LinuxDriver

from d7tui.ui.terminal import ForgivingLinuxDriver, ForgivingOutput, driver_class


def hung_up_terminal() -> TextIO:
    """The slave side of a pty whose master is closed: what an SSH drop leaves behind."""
    master, slave = os.openpty()
    out = os.fdopen(slave, "w", buffering=1)
    os.close(master)
    return out


def stops_in_time(writer: WriterThread, writes: int, seconds: float) -> bool:
    def feed_and_stop() -> None:
        for _ in range(writes):
            writer.write("\x1b[2J frame\n")
        writer.stop()

    worker = threading.Thread(target=feed_and_stop, daemon=True)
    worker.start()
    worker.join(timeout=seconds)  # a guard against a hang, not a timing
    return not worker.is_alive()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_hung_up_terminal_blocks_textuals_own_writer():
    # The trap itself, so that the test below means something: the writer thread dies on the
    # first write, its queue fills, and the next write blocks for ever.
    out = hung_up_terminal()
    writer = WriterThread(out)  # type: ignore[arg-type]
    writer.start()
    assert not stops_in_time(writer, MAX_QUEUED_WRITES * 2, seconds=2)


def test_writes_to_a_hung_up_terminal_are_dropped_and_the_writer_stops():
    out = hung_up_terminal()
    forgiving = ForgivingOutput(out)  # type: ignore[arg-type]
    writer = WriterThread(forgiving)  # type: ignore[arg-type]
    writer.start()
    assert stops_in_time(writer, MAX_QUEUED_WRITES * 2, seconds=30)
    assert forgiving.gone
    with contextlib.suppress(OSError):  # what was buffered has nowhere to go
        out.close()


def test_the_monitor_runs_on_the_forgiving_driver():
    assert driver_class(LinuxDriver) is ForgivingLinuxDriver
    from d7tui.config import Settings
    from d7tui.ui.app import make_app

    app = make_app(Settings(), persist=False)
    assert issubclass(app.driver_class, ForgivingLinuxDriver)
