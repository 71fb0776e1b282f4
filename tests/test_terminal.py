"""The monitor outlives its terminal only long enough to notice: a terminal that went away (a
real pty whose other end was closed, what an SSH drop leaves behind) must never block the app,
even with a dialog open whose blinking cursor keeps writing."""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from textual.drivers.linux_driver import LinuxDriver

from d7tui.ui.terminal import ForgivingLinuxDriver, driver_class, terminal_alive


def read_until(fd: int, needle: bytes, seconds: float) -> bytes:
    """What the app wrote to its terminal, until `needle` shows (a guard against a hang, not a
    timing: the app starts in about a second)."""
    seen = b""
    deadline = time.monotonic() + seconds
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
    return seen


def test_a_terminal_that_went_away_is_seen_as_gone():
    master, slave = os.openpty()
    assert terminal_alive(slave)
    os.close(master)
    assert not terminal_alive(slave)
    os.close(slave)


async def test_writes_to_a_terminal_that_went_away_are_dropped_not_queued():
    # Textual's writer thread dies on the first write to a hung-up terminal and its queue of a
    # few dozen writes then blocks the app: here nothing is handed to it once the terminal is
    # gone (the driver was never put in application mode, so a write handed on would raise).
    from d7tui.config import Settings
    from d7tui.ui.app import make_app

    driver = ForgivingLinuxDriver(make_app(Settings(), persist=False))
    master, slave = os.openpty()
    os.close(master)
    driver.fileno = slave
    for _ in range(1000):
        driver.write("\x1b[2J a frame\n")
    assert driver.terminal_gone
    os.close(slave)


def test_the_monitor_exits_when_its_terminal_goes_away_with_a_dialog_open(tmp_path: Path):
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "d"),
        "XDG_CONFIG_HOME": str(tmp_path / "c"),
        "XDG_STATE_HOME": str(tmp_path / "s"),
    }
    app = subprocess.Popen(
        [sys.executable, "-m", "d7tui", "--demo"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    try:
        assert b"watched" in read_until(master, b"watched", 60), "the monitor did not start"
        os.write(master, b"a")
        assert b"Watch request ids" in read_until(master, b"Watch request ids", 30)
        os.close(master)  # the terminal goes away
        master = -1
        app.wait(timeout=30)  # a guard against a hang
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
        if master >= 0:
            with contextlib.suppress(OSError):
                os.close(master)
    assert app.returncode is not None and app.returncode != 0


def test_the_monitor_runs_on_the_forgiving_driver():
    assert driver_class(LinuxDriver) is ForgivingLinuxDriver
    from d7tui.config import Settings
    from d7tui.ui.app import make_app

    app = make_app(Settings(), persist=False)
    assert issubclass(app.driver_class, ForgivingLinuxDriver)
