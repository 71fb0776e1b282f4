"""How values read on screen. Every external string becomes a `rich.text.Text` built from the
plain value (never parsed as markup); styles are added around it, from our own code only."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

from rich.text import Text

from d7tui.models import Phase, Recipient
from d7tui.output import PHASE_SYMBOL, format_cost
from d7tui.safety import one_line
from d7tui.shortids import forms
from d7tui.watchlist import Entry

__all__ = [
    "PHASE_SYMBOL",
    "channel_fields",
    "format_age",
    "format_clock",
    "format_cost",
    "mask_recipient",
    "phase_counts_text",
    "plural",
    "short_id",
]

MASK = "•"
NOT_SHOWN = "-"


def mask_recipient(value: str | None) -> str:
    """A phone number or address with its middle hidden: +971509752626 -> +97150•••••26."""
    if not value:
        return NOT_SHOWN
    if len(value) >= 9:
        return value[:6] + MASK * (len(value) - 8) + value[-2:]
    if len(value) >= 4:
        return value[:1] + MASK * (len(value) - 2) + value[-1:]
    return MASK * len(value)


def recipient_text(value: str | None, masked: bool) -> str:
    if masked:
        return mask_recipient(value)
    return value or NOT_SHOWN


def short_id(request_id: str) -> str:
    """An id in short, where nothing else needs telling apart (the list uses the watchlist's
    ShortIds, which tells every watched id apart)."""
    return forms(request_id)[0]


def plural(count: int, noun: str) -> str:
    """`1 request`, `2 requests`, `1 more status change`, `3 more status changes`."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def format_age(seconds: float | None) -> str:
    if seconds is None:
        return NOT_SHOWN
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{int(seconds)}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 86400)}d"


def format_in(seconds: float | None) -> str:
    """How long until something: "now", "2s", "5m"."""
    if seconds is None:
        return NOT_SHOWN
    if seconds < 0.5:
        return "now"
    if seconds < 60:
        return f"{round(seconds)}s"
    return format_age(seconds)


def format_clock(stamp: float | None, now: float | None = None) -> str:
    """Local wall time; the date too when it is not today."""
    if stamp is None:
        return NOT_SHOWN
    local = time.localtime(stamp)
    today = time.localtime(now if now is not None else time.time())
    if local[:3] == today[:3]:
        return time.strftime("%H:%M:%S", local)
    return time.strftime("%Y-%m-%d %H:%M:%S", local)


def format_interval(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:g}s"
    if seconds < 3600:
        return f"{seconds / 60:g}m"
    return f"{seconds / 3600:g}h"


def phase_counts_text(counts: Mapping[Phase, int], colours: Mapping[Phase, str]) -> Text:
    """`2 ✓ 1 … 1 ✗`, each count in its phase's colour."""
    text = Text()
    for phase in (Phase.READ, Phase.DELIVERED, Phase.PENDING, Phase.UNKNOWN, Phase.FAILED):
        count = counts.get(phase, 0)
        if count:
            if text:
                text.append(" ")
            text.append(f"{count} {PHASE_SYMBOL[phase]}", style=colours[phase])
    return text


def phase_text(phase: Phase | None, value: str, colours: Mapping[Phase, str]) -> Text:
    """A value prefixed with its phase's symbol, both in the phase's colour."""
    if phase is None:
        return Text(value, style="dim")
    return Text(f"{PHASE_SYMBOL[phase]} {value}", style=colours[phase])


def entry_cost(entry: Entry) -> str:
    if entry.state is None:
        return ""
    total = entry.state.total_cost()
    return format_cost(*total) if total else ""


def costs_text(costs: Mapping[str | None, float]) -> str:
    if not costs:
        return NOT_SHOWN
    parts = [format_cost(amount, currency) for currency, amount in sorted(costs.items(), key=str)]
    return " + ".join(parts)


# ---------------------------------------------------------------------------------------------
# The channel's own fields of a recipient, in the order a support engineer looks for them.

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
# Vendor keys whose value a column already shows (recipient, parts, cost ...), or shown below in
# their own way; they are all in --json and the exports under these names.
_SKIP = {
    "status",
    "error",
    "reference",
    "price",
    "msg_id",
    "recipient",
    "country",
    "schedule_time",
    "reason",
    "number_of_sms",
    "number_of_viber_message",
    "sms_cost",
    "viber_cost",
    "smsCount",
    "messageCount",
    "to",
    "destination",
    "messageId",
}


def _flat(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def channel_fields(recipient: Recipient) -> list[tuple[str, str]]:
    """(name, value) pairs of what the channel says beyond the common columns."""
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
        elif value not in (None, "") and not (group == "status" and value == recipient.status):
            out.append((group, _flat(value)))
    price = fields.get("price")
    if isinstance(price, dict) and price.get("pricePerMessage") is not None:
        # Infobip prices one SMS part; the Cost column is the whole message (x parts).
        currency = f" {_flat(price['currency'])}" if price.get("currency") else ""
        out.append(("price", f"{_flat(price['pricePerMessage'])}{currency} per part"))
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
    known = {*_WHATSAPP, *_INFOBIP, *_SKIP}
    for key, value in fields.items():
        if key not in known and value not in (None, "", [], {}):
            out.append((key, _flat(value)))
    if recipient.problem:
        out.append(("problem", recipient.problem))
    return [(k, one_line(v, 200)) for k, v in out]


def fields_text(recipient: Recipient, key_style: str = "dim") -> Text:
    text = Text()
    for key, value in channel_fields(recipient):
        if text:
            text.append("  ")
        text.append(f"{key} ", style=key_style)
        text.append(value, style="bold" if key == "action" else "")
    return text
