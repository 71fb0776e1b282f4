"""A d7tui process started by a test as a user's shell starts it."""

from __future__ import annotations

import signal


def as_from_a_shell() -> None:
    """For `preexec_fn`: ctrl+c's default, as a terminal's shell hands it to a command. A test
    run started in the background (`&`, nohup, a CI runner) hands its children SIGINT ignored,
    and a test of what ctrl+c does would wait for ever."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
