"""What is said once per data directory, and remembered there (a small text file, not the store:
it must work where the store cannot be opened, and needs no migration).

The one use today: the warning that Infobip's one-time reports are taken away from every other
consumer of the account, shown the first time d7tui pulls them from an account (base URL).
"""

from __future__ import annotations

import os
from pathlib import Path

from d7tui.smallfile import KB, read_small

REPORTS = "infobip-reports-warned"
REPORTS_WARNING = (
    "Infobip delivery reports are one-time: every report d7tui reads is taken away from any "
    'other system that pulls reports from this account (infobip_source = "logs" reads '
    "without taking)"
)


def first_time(directory: Path, name: str, key: str) -> bool:
    """True the first time `key` is seen under `name` in `directory` (and remembers it). When
    the file cannot be read or written it is always the first time: a warning shown twice is
    better than one never shown."""
    path = directory / f"{name}.txt"
    try:
        seen = read_small(path, 1024 * KB).decode("utf-8").splitlines()
    except FileNotFoundError:
        seen = []
    except (OSError, UnicodeDecodeError):
        return True
    if key in seen:
        return False
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as out:
            out.write(key + "\n")
    except OSError:
        pass
    return True
