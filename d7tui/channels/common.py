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
    except json.JSONDecodeError:
        start = one_line(text[:60], 60) if text.strip() else "an empty body"
        raise ProtocolError(channel, f"response is not JSON: {start}") from None
    except RecursionError:  # valid JSON, nested deeper than the interpreter's stack
        raise ProtocolError(channel, "response is JSON nested too deeply to read") from None
    except ValueError:  # int() inside the decoder refuses more than 4,300 digits
        raise ProtocolError(channel, "response holds a number too long to read") from None


def json_kind(value: object) -> str:
    """What a JSON value is, in the words of JSON rather than Python's (`null`, not NoneType)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def not_an_object(channel: str, data: object) -> ProtocolError:
    return ProtocolError(channel, f"expected a JSON object, got {json_kind(data)}")


def not_a_list(channel: str, key: str, value: object) -> ProtocolError:
    return ProtocolError(channel, f"'{key}' is {json_kind(value)}, not a list")


def body_excerpt(body: bytes, limit: int = 160) -> str:
    """The start of an error body that is not JSON, in one line ("" if empty). A body that is
    not text (compressed twice, binary) is said to be so, not shown as a line of noise."""
    text = body[:200].decode("utf-8", "replace").strip().rstrip("\ufffd")  # a cut character
    if not text:
        return ""
    if "\ufffd" in text or "\x00" in text:  # bytes that are not UTF-8, or binary
        return f"a body that is not text ({len(body):,} bytes)"
    return one_line(text, limit)


def error_said(body: bytes) -> tuple[str | None, str]:
    """(code, text) of an error body, in any shape the vendors answer in: D7's `detail` (an
    object, a string, or 422's list), Infobip's `requestError.serviceException` and its newer
    `errorCode`/`description`, a gateway's `message` or `error` (a proxy in front of either
    vendor may answer in another's shape). JSON of another shape says nothing, nor does a cut
    one: a raw JSON fragment in a reason cell is noise. A body that is not JSON (a proxy's page,
    `busy`) is said by its start."""
    if body.lstrip()[:1] not in (b"{", b"["):
        return None, body_excerpt(body)
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None, ""
    if not isinstance(data, dict):
        return None, ""
    detail = data.get("detail")
    service = _object(_object(data.get("requestError")).get("serviceException"))
    if isinstance(detail, dict):
        code, text = detail.get("code"), detail.get("message") or detail.get("msg")
    elif isinstance(detail, list):
        code, text = None, "; ".join(_invalid(entry) for entry in detail[:5])
    elif service:
        code, text = service.get("messageId"), service.get("text")
    elif "errorCode" in data or "description" in data:
        code, text = data.get("errorCode"), data.get("description")
    else:
        said = (data.get(key) for key in ("detail", "message", "error"))
        code, text = None, next((value for value in said if isinstance(value, str)), None)
    code = as_text(code) if isinstance(code, str | int) and not isinstance(code, bool) else None
    return code or None, one_line(text) if isinstance(text, str) else ""


def describe_error(body: bytes) -> str:
    """What an error body said, in one line: `E429: Too many requests`."""
    code, text = error_said(body)
    return f"{code}: {text}" if code and text else code or text or "no detail"


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _invalid(entry: object) -> str:
    """One of a 422's complaints: `body.to: field required`."""
    if not isinstance(entry, dict):
        return (as_text(entry) if isinstance(entry, str) else None) or "invalid"
    loc = entry.get("loc")
    where = ".".join(as_text(p) or "" for p in loc) if isinstance(loc, list) else ""
    said = entry.get("msg") or entry.get("type")
    msg = as_text(said) if isinstance(said, str) else "invalid"
    return f"{where}: {msg}" if where else msg or "invalid"


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


# Vendor numbers become model numbers here, and only here. No message costs more than a million
# of any currency, nor is cut into more than a thousand parts: past these (1e308, an overflow, a
# 309-digit count) or below zero, the number is a vendor's mistake, not something to add up or
# show. The recipient then has no cost or part count (`-`); the vendor's value stays in its
# fields, as it was sent.
MAX_COST = 1_000_000.0
MAX_PARTS = 1000


def as_cost(value: object) -> float | None:
    """A cost from 0 to MAX_COST, or None."""
    number = as_float(value)
    return number if number is not None and 0 <= number <= MAX_COST else None


UNKNOWN_CURRENCY = "?"


def as_currency(value: object) -> str | None:
    """A currency as ISO 4217 writes it (three letters: `EUR`), None when none is given, and
    UNKNOWN_CURRENCY for anything else: a server's text never becomes a unit that fills the
    status line (the vendor's value stays in its fields)."""
    text = as_text(value)
    if text is None:
        return None
    code = text.strip()
    return (
        code.upper() if len(code) == 3 and code.isascii() and code.isalpha() else UNKNOWN_CURRENCY
    )


def as_parts(value: object) -> int | None:
    """A part count from 0 to MAX_PARTS, or None."""
    number = as_int(value)
    return number if number is not None and 0 <= number <= MAX_PARTS else None


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
