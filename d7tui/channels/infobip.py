"""Infobip SMS delivery reports (`/sms/1/reports`, one-time) and logs (`/sms/1/logs`).

A malformed report never takes its siblings down: each item is parsed on its own and a broken
one is kept as a recipient with a `problem`, because a report handed out is never handed out again.
"""

from __future__ import annotations

from typing import Any

from d7tui.channels.common import as_float, as_int, as_text, decode_json
from d7tui.channels.errors import ApiError, AuthError, ChannelError, NotFound, ProtocolError
from d7tui.models import Channel, Phase, Recipient, classify_infobip
from d7tui.safety import clean_json, one_line

KEY_SETTING = "INFOBIP_API_KEY"
REPORTS_PATH = "/sms/1/reports"
LOGS_PATH = "/sms/1/logs"
PAGE_LIMIT = 1000  # the API's maximum per call

_CORE = {"messageId", "to", "price", "smsCount"}
# Keys whose spelling drifts between the vendor's pages; the first spelling is ours.
_CANONICAL = {"mccmnc": "mccMnc"}


def _normalize_keys(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in item.items():
        canonical = _CANONICAL.get(key.lower(), key) if isinstance(key, str) else str(key)
        if canonical in out and canonical != key:
            continue  # both spellings present: keep the canonical one
        out[canonical] = value
    return out


def _obj(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _reason(status: dict[str, Any], error: dict[str, Any]) -> str | None:
    description = as_text(status.get("description")) or as_text(status.get("name"))
    error_id = error.get("id")
    error_name = as_text(error.get("name"))
    if error and error_id not in (0, None) and error_name != "NO_ERROR":
        why = as_text(error.get("description")) or error_name or f"error {as_text(error_id)}"
        return f"{description}: {why}" if description else why
    return description


def parse_report_item(item: object, index: int) -> Recipient:
    """One SentSMSReport (or log item) as a recipient; never raises."""
    if not isinstance(item, dict):
        return Recipient(
            msg_id=None,
            recipient=None,
            status=None,
            phase=Phase.UNKNOWN,
            final=False,
            fields={"value": clean_json(item)},
            problem=f"report #{index + 1} is not an object",
        )
    item = _normalize_keys(item)
    status = _obj(item.get("status"))
    error = _obj(item.get("error"))
    price = _obj(item.get("price"))
    phase, final = classify_infobip(
        status.get("groupName"), status.get("name"), status.get("groupId")
    )
    problems = []
    if "status" in item and not isinstance(item.get("status"), dict):
        problems.append("'status' is not an object")
    # clean_json of the dict, not of each value: the vendor's keys are external text too.
    fields = clean_json({k: v for k, v in item.items() if k not in _CORE})
    if "price" in item and not isinstance(item.get("price"), dict):
        fields["price"] = clean_json(item["price"])
    if "smsCount" in item and as_int(item.get("smsCount")) is None:
        fields["smsCount"] = clean_json(item["smsCount"])
    return Recipient(
        msg_id=as_text(item.get("messageId")),
        recipient=as_text(item.get("to")),
        status=as_text(status.get("name")) if status else None,
        phase=phase,
        final=final,
        reason=_reason(status, error),
        cost=as_float(price.get("pricePerMessage")),
        currency=as_text(price.get("currency")),
        parts=as_int(item.get("smsCount")),
        fields=fields,
        problem="; ".join(problems) or None,
    )


def parse_page(body: bytes) -> list[Recipient]:
    """Every item of a `{"results": [...]}` page, in order; ProtocolError only for the envelope."""
    data = decode_json(Channel.INFOBIP.value, body)
    if not isinstance(data, dict):
        raise ProtocolError("infobip", f"expected a JSON object, got {type(data).__name__}")
    results = data.get("results", [])
    if results is None:
        results = []
    if not isinstance(results, list):
        raise ProtocolError("infobip", f"'results' is {type(results).__name__}, not a list")
    return [parse_report_item(item, i) for i, item in enumerate(results)]


def error_detail(body: bytes) -> str:
    """What Infobip said: `requestError.serviceException` or the newer `errorCode/description`."""
    try:
        data = decode_json("infobip", body)
    except ProtocolError:
        text = body[:200].decode("utf-8", "replace").strip()
        return one_line(text, 160) if text else "no detail"
    if not isinstance(data, dict):
        return "no detail"
    service = _obj(_obj(data.get("requestError")).get("serviceException"))
    if service:
        code = as_text(service.get("messageId"))
        text = as_text(service.get("text"))
        return one_line(f"{code}: {text}" if code and text else code or text or "no detail")
    code = as_text(data.get("errorCode"))
    description = as_text(data.get("description"))
    if code or description:
        return one_line(
            f"{code}: {description}" if code and description else code or description or ""
        )
    return "no detail"


def http_error(status: int, body: bytes) -> ChannelError:
    said = error_detail(body)
    if status in (401, 403):
        return AuthError("infobip", KEY_SETTING, status=status)
    if status == 404:
        return NotFound("infobip", f"not found ({said})", status=404)
    return ApiError("infobip", f"HTTP {status}: {said}", status=status)
