"""What the APIs said beyond the common columns, as the detail shows it: the request's own
top-level fields, and every field of a recipient, in the order a support engineer looks for
them. Vendor key names are kept as the vendor spells them; message text is masked in privacy
mode (it is already hidden unless the user asked to see it, see `message_text`)."""

from __future__ import annotations

import json

from rich.text import Text

from d7tui.models import Recipient, RequestStatus
from d7tui.safety import one_line
from d7tui.ui.format import free_text

MASKED_TEXT = "••• (privacy mode)"

_WHATSAPP = ("originator", "conversation_type", "message_type", "template_id", "waConvId")
_INFOBIP = (
    "from",  # v1
    "sender",  # v3
    "sentAt",
    "doneAt",
    "mccMnc",
    "mccmnc",  # the legacy logs' spelling
    "bulkId",
    "callbackData",
    "campaignReferenceId",
)
# What the detail's own lines already show (the number, masked in privacy mode; the status; the
# reason; the message id): never repeated, in the table or in the box.
_SHOWN = {"msg_id", "recipient", "reason", "to", "destination", "messageId"}
# What a column of the recipients table shows under our name (country, parts, cost, schedule):
# left out of the table's narrow "Channel fields" column, shown in the box under the vendor's.
_IN_COLUMNS = {
    "country",
    "schedule_time",
    "number_of_sms",
    "number_of_viber_message",
    "number_of_messages",
    "sms_cost",
    "viber_cost",
    "whatsapp_cost",
    "cost",
    "smsCount",
    "messageCount",
}
_TEXT = {"text", "content"}  # message text: Infobip logs' v1 `text`, v3 `content.text`
_OWN_WAY = {"status", "error", "reference", "price"}  # shown first, in their own way below


def _flat(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def channel_fields(
    recipient: Recipient, *, everything: bool = False, masked: bool = False
) -> list[tuple[str, str]]:
    """(name, value) pairs of what the channel says beyond the common columns. `everything`:
    also what a column shows under our own name (the detail's box shows every field)."""
    fields = recipient.fields
    out: list[tuple[str, str]] = []
    # What to do about it first: Infobip's status and error groups and the action it advises.
    for group in ("status", "error"):
        value = fields.get(group)
        if isinstance(value, dict):
            name = "/".join(
                _flat(value[k]) for k in ("groupName", "name") if value.get(k) not in (None, "")
            )
            if name and not (group == "error" and value.get("name") == "NO_ERROR"):
                if group == "error" and isinstance(value.get("permanent"), bool):
                    name += " (permanent)" if value["permanent"] else " (temporary)"
                out.append((group, name))
            if group == "status" and value.get("action"):
                out.append(("action", _flat(value["action"])))
            if everything:
                ids = [f"{k} {_flat(value[k])}" for k in ("groupId", "id") if k in value]
                if ids and not (group == "error" and value.get("name") == "NO_ERROR"):
                    out.append((f"{group} ids", ", ".join(ids)))
        elif value not in (None, "") and not (group == "status" and value == recipient.status):
            out.append((group, _flat(value)))
    price = fields.get("price")
    if isinstance(price, dict) and price.get("pricePerMessage") is not None:
        # Infobip prices one SMS part; the Cost column is the whole message (x parts).
        currency = f" {_flat(price['currency'])}" if price.get("currency") else ""
        out.append(("price", f"{_flat(price['pricePerMessage'])}{currency} per part"))
    elif price not in (None, ""):
        out.append(("price", _flat(price)))
    for key in (*_WHATSAPP, *_INFOBIP):
        if fields.get(key) not in (None, ""):
            out.append((key, _flat(fields[key])))
    reference = fields.get("reference")
    if isinstance(reference, dict):
        tags = [f"{k}={_flat(v)}" for k, v in reference.items() if v not in (None, "")]
        if tags:
            out.append(("reference", " ".join(tags)))
    elif reference not in (None, ""):
        out.append(("reference", _flat(reference)))
    known = {*_WHATSAPP, *_INFOBIP, *_SHOWN, *_OWN_WAY}
    if not everything:
        known |= _IN_COLUMNS
    for key, value in fields.items():
        if key in known or value in (None, "", [], {}):
            continue
        if key in _TEXT and masked:
            out.append((key, MASKED_TEXT))
        else:
            out.append((key, _flat(value)))
    if recipient.problem:
        out.append(("problem", recipient.problem))
    limit = 200 if not everything else 2000
    return [(k, one_line(free_text(v, masked) if masked else v, limit)) for k, v in out]


def request_fields(state: RequestStatus) -> list[tuple[str, str]]:
    """What the API said at the top level of its answer (total_recipients, its own channel,
    request_stage, schedule_time ...), and the problems d7tui noted with the answer."""
    out = [
        (key, "-" if value is None else _flat(value))
        for key, value in state.fields.items()
        if key not in ("request_id", "problems")
    ]
    problems = state.fields.get("problems")
    if isinstance(problems, list):
        out += [("problem", _flat(p)) for p in problems]
    return [(k, one_line(v, 300)) for k, v in out]


def fields_text(recipient: Recipient, key_style: str = "dim", *, masked: bool = False) -> Text:
    text = Text()
    for key, value in channel_fields(recipient, masked=masked):
        if text:
            text.append("  ")
        text.append(f"{key} ", style=key_style)
        text.append(value, style="bold" if key == "action" else "")
    return text
