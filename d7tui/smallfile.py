"""Reading a small file d7tui was pointed at (config.toml, its notes in the data directory) with
a bound: a path that is a FIFO would block every command for ever, `/dev/zero` or a file of
gigabytes would be read whole into memory. Such a path is refused in one line instead."""

from __future__ import annotations

import os
import stat
from pathlib import Path

KB = 1024


class NotSmallFile(OSError):
    """The path is not a regular file of at most the bound (its `strerror` says which)."""


def read_small(path: Path, limit: int) -> bytes:
    """The bytes of `path`, a regular file of at most `limit` bytes. FileNotFoundError (and
    other OSErrors) as os.open raises them; NotSmallFile for a FIFO, a device, a socket, a
    directory or a bigger file."""
    # O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotSmallFile(0, f"not a regular file ({_kind(mode)})")
        chunks: list[bytes] = []
        size = 0
        while size <= limit:  # read until the end, never more than one byte past the bound
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise NotSmallFile(0, f"larger than {limit // KB:,} kB")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return name
    return "not a file"
