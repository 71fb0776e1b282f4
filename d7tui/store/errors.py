"""The store's errors: each str() is one line for the user, naming the database file."""

from __future__ import annotations


class StoreError(Exception):
    """The store cannot do what was asked (cannot open, disk full, locked too long ...)."""


class StoreVersionError(StoreError):
    """The database was written by a newer d7tui; it was left untouched."""


class StoreCorruptError(StoreError):
    """The file is not a d7tui database, or SQLite reports it damaged.

    `damaged`: the file is ours but broken (empty, not SQLite, damaged pages), so it may be set
    aside; False for somebody else's SQLite database, which d7tui never touches.
    """

    def __init__(self, message: str, *, damaged: bool = True) -> None:
        super().__init__(message)
        self.damaged = damaged


class StoreUnavailable(StoreError):
    """The store cannot be written just now, for a reason outside d7tui that may pass: the disk
    is full, the file or its directory is read-only, another program holds the database locked,
    an I/O error, the file is gone. A write that meets it is held and tried again, not dropped."""
