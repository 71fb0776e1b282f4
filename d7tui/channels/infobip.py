"""Infobip SMS: delivery reports (one-time) and logs (re-readable), in v3 and v1 spelling.

v3 (`/sms/3/...`, the vendor's current clients) renames v1's fields: `from` -> `sender`,
`smsCount` -> `messageCount`, logs' `to` -> `destination` and `text` -> `content.text`, entity and
application ids into `platform{}`, and adds `campaignReferenceId`. One parser reads both; every key
is kept as the vendor spelled it (the normalised values sit beside them in `Recipient`).

A malformed item never takes its siblings down: each is parsed on its own and a broken one is kept
as a recipient with a `problem`, because a report handed out is never handed out again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from d7tui.channels.common import (
    as_cost,
    as_currency,
    as_parts,
    as_text,
    decode_json,
    describe_error,
    not_a_list,
    not_an_object,
)
from d7tui.errors import ApiError, AuthError, ChannelError, NotFound
from d7tui.models import Channel, Phase, Recipient, RequestStatus, classify_infobip
from d7tui.safety import clean_json

KEY_SETTING = "INFOBIP_API_KEY"
REPORTS_V3 = "/sms/3/reports"
REPORTS_V1 = "/sms/1/reports"
LOGS_V3 = "/sms/3/logs"
LOGS_V1 = "/sms/1/logs"
PAGE_LIMIT = 1000  # the API's maximum per call
MAX_ID_LIST = 2048  # characters of a comma-separated bulkId or messageId list, per the vendor
LOGS_KEEP = 48 * 3600.0  # logs cover the last 48 hours
LOGS_PER_MINUTE = 120  # the logs' throttling (v1 and v3), from the vendor's OpenAPI
HIDDEN = "(hidden)"  # what stands for message text unless the user asked to see it

_RECIPIENT_KEYS = ("destination", "to")  # v3 logs, then v1 and v3 reports
_PARTS_KEYS = ("messageCount", "smsCount")  # v3, v1


def _obj(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _first(item: dict[str, Any], keys: tuple[str, ...]) -> object:
    for key in keys:
        if key in item:
            return item[key]
    return None


def lookup(fields: dict[str, Any], key: str) -> object:
    """A vendor field whatever its case: the legacy logs page spells `mccmnc`, reports `mccMnc`."""
    if key in fields:
        return fields[key]
    wanted = key.lower()
    return next((v for k, v in fields.items() if k.lower() == wanted), None)


def _reason(status: dict[str, Any], error: dict[str, Any]) -> str | None:
    description = as_text(status.get("description")) or as_text(status.get("name"))
    error_id = error.get("id")
    error_name = as_text(error.get("name"))
    if error and error_id not in (0, None) and error_name != "NO_ERROR":
        why = as_text(error.get("description")) or error_name or f"error {as_text(error_id)}"
        return f"{description}: {why}" if description else why
    return description


def without_text(fields: dict[str, Any], _depth: int = 0) -> dict[str, Any]:
    """A copy of `fields` with every message text in it `(hidden)`: message text (often a
    one-time code) is not ours to show unless asked. v1 logs' `text`, v3 logs' `content` (text,
    or binary content's `hex`), and a `text` or `hex` at any depth (`content.body.text`,
    `message.text`: the shapes other versions use)."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key in ("text", "hex") or (key == "content" and not isinstance(value, dict)):
            out[key] = HIDDEN if value is not None else None
        elif isinstance(value, dict) and _depth < 8:
            out[key] = without_text(value, _depth + 1)
        elif isinstance(value, list) and _depth < 8:
            out[key] = [without_text(v, _depth + 1) if isinstance(v, dict) else v for v in value]
        else:
            out[key] = value
    return out


def message_cost(price: dict[str, Any], parts: int | None) -> float | None:
    """What the message cost in all: Infobip's pricePerMessage is the price of one SMS part
    ("Price per one SMS" on its page), so a three-part message costs three times it."""
    per_part = as_cost(price.get("pricePerMessage"))
    if per_part is None:
        return None
    return as_cost(round(per_part * (parts if parts and parts > 0 else 1), 10))


def parse_item(item: object, index: int, *, keep_text: bool = False) -> Recipient:
    """One report or log item (v1 or v3) as a recipient; never raises."""
    if not isinstance(item, dict):
        return Recipient(
            msg_id=None,
            recipient=None,
            status=None,
            phase=Phase.UNKNOWN,
            final=False,
            fields={"value": clean_json(item)},
            problem=f"item #{index + 1} is not an object",
        )
    status = _obj(item.get("status"))
    error = _obj(item.get("error"))
    phase, final = classify_infobip(
        status.get("groupName"), status.get("name"), status.get("groupId")
    )
    # clean_json of the dict, not of each value: the vendor's keys are external text too.
    fields = clean_json(item)
    if not keep_text:
        fields = without_text(fields)
    parts = as_parts(_first(item, _PARTS_KEYS))
    problem = None
    if "status" in item and not isinstance(item.get("status"), dict):
        problem = "'status' is not an object"
    return Recipient(
        msg_id=as_text(item.get("messageId")),
        recipient=as_text(_first(item, _RECIPIENT_KEYS)),
        status=as_text(status.get("name")) if status else None,
        phase=phase,
        final=final,
        reason=_reason(status, error),
        cost=message_cost(_obj(item.get("price")), parts),
        currency=as_currency(_obj(item.get("price")).get("currency")),
        parts=parts,
        fields=fields,
        problem=problem,
    )


@dataclass(frozen=True, slots=True)
class Page:
    recipients: list[Recipient]
    size: int  # items in `results`
    next_cursor: str | None  # v3 with useCursor=true: where the next page starts


def read_page(body: bytes, *, keep_text: bool = False) -> Page:
    """Every item of a `{"results": [...]}` page, in order, and where the next page starts;
    ProtocolError only for the envelope."""
    data = decode_json(Channel.INFOBIP.value, body)
    if not isinstance(data, dict):
        raise not_an_object("infobip", data)
    results = data.get("results", [])
    if results is None:
        results = []
    if not isinstance(results, list):
        raise not_a_list("infobip", "results", results)
    cursor = _obj(data.get("cursor")).get("nextCursor")
    return Page(
        recipients=[parse_item(item, i, keep_text=keep_text) for i, item in enumerate(results)],
        size=len(results),
        next_cursor=cursor if isinstance(cursor, str) and cursor else None,
    )


def parse_page(body: bytes, *, keep_text: bool = False) -> list[Recipient]:
    """The recipients of one page, in order (what the store's report sink parses)."""
    return read_page(body, keep_text=keep_text).recipients


def others_left_out(count: int) -> str:
    """The problem an answer with other ids' items in it shows."""
    return (
        f"the answer also held {count:,} message{'s' if count != 1 else ''} of other ids "
        "(the server ignored the filter): left out"
    )


def sent_at(recipient: Recipient) -> float | None:
    """The message's sentAt as unix time, if the vendor said it in its own format."""
    value = recipient.fields.get("sentAt")
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return when.timestamp() if when.tzinfo is not None else None


def beyond_logs(state: RequestStatus, now: float, keep: float = LOGS_KEEP) -> bool:
    """Whether every message of `state` was sent longer ago than the logs keep (asking again
    would be in vain: the API has forgotten it)."""
    times = [t for r in state.recipients if (t := sent_at(r)) is not None]
    return bool(times) and now - max(times) >= keep


def format_time(unix_ms: int) -> str:
    """The vendor's own date format, yyyy-MM-dd'T'HH:mm:ss.SSSZ, in UTC."""
    whole = datetime.fromtimestamp(unix_ms // 1000, UTC)
    return whole.strftime("%Y-%m-%dT%H:%M:%S.") + f"{unix_ms % 1000:03d}+0000"


def http_error(status: int, body: bytes) -> ChannelError:
    said = describe_error(body)
    if status in (401, 403):
        return AuthError("infobip", KEY_SETTING, status=status, said=said.split(":", 1)[0])
    if status == 404:
        return NotFound("infobip", f"not found ({said})", status=404)
    return ApiError("infobip", f"HTTP {status}: {said}", status=status)
