"""The monitor as a real process in a real terminal (a pty), stopped by a signal: it leaves the
terminal as it found it and exits with the status a shell expects (issue #11: `kill -INT` gave 0)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest


class Terminal:
    """A pty whose screen output is collected by a thread, so the app never blocks writing."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        self.output = bytearray()
        self._seen = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def start(self) -> None:
        os.close(self.slave)
        self._thread.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # the app closed its side
                data = b""
            with self._seen:
                self.output.extend(data)
                self._seen.notify_all()
            if not data:
                return

    def wait_for(self, text: bytes, timeout: float = 60) -> bool:
        with self._seen:
            return self._seen.wait_for(lambda: text in self.output, timeout)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_monitor_with_the_shells_exit_status(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    terminal = Terminal()
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "TERM": "xterm-256color",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "d7tui", "--demo"],
        stdin=terminal.slave,
        stdout=terminal.slave,
        stderr=terminal.slave,
        env=env,
        start_new_session=True,  # the signal reaches the app alone, not pytest
    )
    terminal.start()
    try:
        assert terminal.wait_for(b"watched"), bytes(terminal.output[-500:])  # the status line
        proc.send_signal(sig)
        assert proc.wait(timeout=60) == code
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    terminal.wait_for(b"\x1b[?1049l", timeout=10)
    os.close(terminal.master)
    assert b"\x1b[?1049l" in terminal.output  # back from the alternate screen
    assert b"Traceback" not in terminal.output
