"""What every channel parser shares: JSON decoding into the protocol error, and value coercion
that never raises (a field of the wrong type is kept as what it is, not turned into an error)."""

from __future__ import annotations

import json
import math
from typing import Any

from d7tui.errors import ProtocolError
from d7tui.safety import clean_json, one_line, safe_text


def decode_json(channel: str, body: bytes) -> Any:
    """The parsed body, or a ProtocolError naming the channel and what was wrong."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(channel, f"response is not valid UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text)
    # ValueError, not only JSONDecodeError: an integer of more than 4,300 digits is refused by
    # int() inside the decoder; RecursionError: nesting deeper than the interpreter's stack.
    except (ValueError, RecursionError):
        start = one_line(text[:60], 60) if text.strip() else "an empty body"
        raise ProtocolError(channel, f"response is not JSON: {start}") from None


def body_excerpt(body: bytes, limit: int = 160) -> str:
    """The start of an error body that is not JSON, in one line ("" if empty). A body that is
    not text (compressed twice, binary) is said to be so, not shown as a line of noise."""
    text = body[:200].decode("utf-8", "replace").strip().rstrip("\ufffd")  # a cut character
    if not text:
        return ""
    if "\ufffd" in text or "\x00" in text:  # bytes that are not UTF-8, or binary
        return f"a body that is not text ({len(body):,} bytes)"
    return one_line(text, limit)


def as_text(value: object) -> str | None:
    """A display string for a scalar; None stays None; containers become compact JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return safe_text(json.dumps(clean_json(value), ensure_ascii=False))


def as_float(value: object) -> float | None:
    """A finite number, or None: NaN and Infinity (sent as JSON's non-standard literals or as
    strings) are no cost anyone can add up or write as JSON; the raw value stays in the fields."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | str):
        try:
            number = float(value)
        except (ValueError, OverflowError):  # "abc", or an int beyond a float's range
            return None
        return number if math.isfinite(number) else None
    return None


def as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        # isdigit() alone admits "²", which int() refuses; int() refuses 4,300+ digits too.
        if text.isascii() and text.isdigit():
            try:
                return int(text)
            except ValueError:
                return None
    return None


def take(item: dict[str, Any], keys: tuple[str, ...], convert: Any) -> Any:
    """The first of `keys` present in `item`, converted (None when it does not convert: the raw
    value is still in the recipient's fields)."""
    for key in keys:
        if key in item:
            return convert(item[key])
    return None
