"""Reading send requests: D7's three send bodies as the official SDKs build them, and Infobip's
`/sms/2/text/advanced`. They exist so tests and benchmarks can make traffic over the wire; the
validation is just strict enough to answer a malformed body the way the vendor would."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass

# GSM 03.38: the basic set costs one unit, the extension set two.
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = frozenset("^{}\\[~]|€")


class SendError(ValueError):
    """A body the vendor would refuse: where (FastAPI `loc`), what, and the error type."""

    def __init__(self, loc: list[str | int], msg: str, kind: str) -> None:
        super().__init__(msg)
        self.loc, self.msg, self.kind = loc, msg, kind


def sms_parts(content: str, data_coding: str = "auto") -> int:
    """How many parts D7 bills: GSM text 160 in one part, else 153 a part; Unicode 70, else 63
    a part (D7's SMS page; the 63 is theirs)."""
    gsm = all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in content)
    if data_coding == "unicode" or not gsm:
        units = len(content.encode("utf-16-le")) // 2
        return 1 if units <= 70 else math.ceil(units / 63)
    units = len(content) + sum(c in _GSM_EXTENDED for c in content)
    return 1 if units <= 160 else math.ceil(units / 153)


def _load(body: bytes) -> dict[str, object]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SendError(
            ["body", 0], f"JSON decode error: {exc}", "value_error.jsondecode"
        ) from None
    if not isinstance(data, dict):
        raise SendError(["body"], "value is not a valid dict", "type_error.dict")
    return data


def _list(value: object, loc: list[str | int]) -> list[object]:
    if value is None:
        raise SendError(loc, "field required", "value_error.missing")
    if not isinstance(value, list) or not value:
        raise SendError(loc, "value is not a valid non-empty list", "type_error.list")
    return value


def parse_d7_send(
    channel: str, body: bytes
) -> tuple[list[str], list[dict[str, object]], dict[str, object]]:
    """(recipients, per-recipient extras, request extras) from a D7 send body."""
    data = _load(body)
    globals_ = data.get("message_globals")
    globals_ = globals_ if isinstance(globals_, dict) else {}
    messages = _list(data.get("messages"), ["body", "messages"])
    recipients: list[str] = []
    extras: list[dict[str, object]] = []
    for i, message in enumerate(messages):
        loc: list[str | int] = ["body", "messages", i]
        if not isinstance(message, dict):
            raise SendError(loc, "value is not a valid dict", "type_error.dict")
        for j, entry in enumerate(_list(message.get("recipients"), [*loc, "recipients"])):
            reference: object = None
            if isinstance(entry, dict):  # WhatsApp: {"recipient": ..., "recipient_type": ...}
                reference = entry.get("reference")
                entry = entry.get("recipient")
            if not isinstance(entry, str) or not entry.strip():
                raise SendError([*loc, "recipients", j], "str type expected", "type_error.str")
            recipients.append(entry)
            extras.append(_extra(channel, message, globals_, reference))
    request_extra: dict[str, object] = {}
    if isinstance(globals_.get("schedule_time"), str):
        request_extra["schedule_time"] = globals_["schedule_time"]
    return recipients, extras, request_extra


def _extra(
    channel: str, message: dict[str, object], globals_: dict[str, object], reference: object
) -> dict[str, object]:
    content = message.get("content")
    if channel == "whatsapp":
        extra: dict[str, object] = {"originator": str(message.get("originator") or "")}
        if isinstance(content, dict):
            extra["message_type"] = str(content.get("message_type") or "TEXT")
            template = content.get("template")
            if isinstance(template, dict) and template.get("template_id"):
                extra["template_id"] = str(template["template_id"])
        if isinstance(reference, dict):
            for key in ("cust_ref", *(f"message_tag{n}" for n in range(1, 6)), "conversation_id"):
                if isinstance(reference.get(key), str):
                    extra[key] = reference[key]
        return extra
    text = content if isinstance(content, str) else ""
    if channel == "viber":
        return {"parts": max(1, math.ceil(len(text) / 1000))}
    coding = str(message.get("data_coding") or ("unicode" if message.get("unicode") else "auto"))
    return {"parts": sms_parts(text, coding), "originator": globals_.get("originator")}


@dataclass(slots=True)
class InfobipBatch:
    """One entry of `messages`: its destinations share sender, text and callbackData."""

    to: list[str]
    message_ids: list[str | None]
    sender: str
    text: str
    callback_data: str | None
    parts: int


def _destinations(message: dict[str, object], i: int) -> tuple[list[str], list[str | None]]:
    """The `to` of each destination, and the messageId the sender chose for it, if any."""
    to: list[str] = []
    ids: list[str | None] = []
    for j, dest in enumerate(_list(message.get("destinations"), ["messages", i])):
        if not isinstance(dest, dict) or not isinstance(dest.get("to"), str) or not dest["to"]:
            raise SendError(["messages", i, "destinations", j], "to missing", "missing")
        custom = dest.get("messageId")
        to.append(dest["to"])
        ids.append(custom if isinstance(custom, str) and custom else None)
    return to, ids


def parse_infobip_send(body: bytes) -> tuple[str | None, list[InfobipBatch]]:
    """(bulkId asked for, batches) from `{"bulkId"?, "messages": [{"destinations": [{"to"}],
    "from", "text", "callbackData"?}]}`."""
    data = _load(body)
    bulk_id = data.get("bulkId")
    if bulk_id is not None and not isinstance(bulk_id, str):
        raise SendError(["bulkId"], "not a string", "type_error.str")
    return bulk_id, _batches(data, _v2_message)


def parse_infobip_v3_send(body: bytes) -> tuple[str | None, list[InfobipBatch]]:
    """(bulkId asked for, batches) from `POST /sms/3/messages`, as Infobip's own client builds
    it: `{"messages": [{"sender"?, "destinations": [{"to", "messageId"?}], "content": {"text"},
    "webhooks": {"callbackData"?}?}], "options": {"schedule": {"bulkId"?}}?}`."""
    data = _load(body)
    options = data.get("options")
    schedule = options.get("schedule") if isinstance(options, dict) else None
    bulk_id = schedule.get("bulkId") if isinstance(schedule, dict) else None
    if bulk_id is not None and not isinstance(bulk_id, str):
        raise SendError(["options", "schedule", "bulkId"], "not a string", "type_error.str")
    return bulk_id, _batches(data, _v3_message)


# (sender, text, callbackData) of one entry of `messages`, as each version spells them.
_Reader = Callable[[dict[str, object], int], tuple[object, str, object]]


def _v2_message(message: dict[str, object], i: int) -> tuple[object, str, object]:
    text = message.get("text")
    return message.get("from"), text if isinstance(text, str) else "", message.get("callbackData")


def _v3_message(message: dict[str, object], i: int) -> tuple[object, str, object]:
    content = message.get("content")
    text = content.get("text") if isinstance(content, dict) else None
    if not isinstance(text, str):
        raise SendError(["messages", i, "content", "text"], "text missing", "missing")
    hooks = message.get("webhooks")
    callback = hooks.get("callbackData") if isinstance(hooks, dict) else None
    return message.get("sender"), text, callback


def _batches(data: dict[str, object], read: _Reader) -> list[InfobipBatch]:
    batches = []
    for i, message in enumerate(_list(data.get("messages"), ["messages"])):
        if not isinstance(message, dict):
            raise SendError(["messages", i], "not an object", "type_error.dict")
        to, ids = _destinations(message, i)
        sender, text, callback = read(message, i)
        batches.append(
            InfobipBatch(
                to=to,
                message_ids=ids,
                sender=str(sender or "InfoSMS"),
                text=text,
                callback_data=callback if isinstance(callback, str) else None,
                parts=sms_parts(text),
            )
        )
    return batches
