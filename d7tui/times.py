"""Vendor timestamps to unix time: Infobip's `2019-11-09T16:00:00.000+0000`, D7's schedule times."""

from __future__ import annotations

from datetime import UTC, datetime


def vendor_time(value: object, *, naive_is_utc: bool = True) -> float | None:
    """Unix time of an ISO-like timestamp, or None when it is not one. A time without a zone is
    UTC, unless `naive_is_utc=False`, which refuses it (a zone is needed to compare exactly)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        if not naive_is_utc:
            return None
        when = when.replace(tzinfo=UTC)
    return when.timestamp()
