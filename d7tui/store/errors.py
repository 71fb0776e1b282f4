"""The store's errors: each str() is one line for the user, naming the database file."""

from __future__ import annotations


class StoreError(Exception):
    """The store cannot do what was asked (cannot open, disk full, locked too long ...)."""


class StoreVersionError(StoreError):
    """The database was written by a newer d7tui; it was left untouched."""


class StoreCorruptError(StoreError):
    """The file is not a d7tui database, or SQLite reports it damaged."""


class UnreadableBody(Exception):
    """Raised by a report parser for a body that can never be parsed (not a report page at all).

    The store keeps the raw body and records why, and does not try it again. Any *other*
    exception from a parser is taken for a bug: the body stays "unparsed" and is tried again
    at the next open, when the bug may be fixed.
    """
