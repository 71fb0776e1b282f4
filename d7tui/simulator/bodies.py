"""Response bodies in the shape the vendors' pages show: key names and order as in their samples,
quirks included (Viber's `"channel": "sms"` and `number_of_viber_message`, Infobip's `mccmnc` in
logs but `mccMnc` in reports, error group 0 spelled "Ok")."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime

from d7tui.simulator import hostile, lifecycles
from d7tui.simulator.world import Message, Report, SimRequest

# Calling code -> (ISO country, an MCC+MNC there); longest prefix wins.
_COUNTRIES: dict[str, tuple[str, str]] = {
    "1": ("US", "310260"),
    "33": ("FR", "20801"),
    "41": ("CH", "22801"),
    "44": ("GB", "23410"),
    "49": ("DE", "26201"),
    "91": ("IN", "40410"),
    "380": ("UA", "25501"),
    "385": ("HR", "21901"),
    "966": ("SA", "42001"),
    "971": ("AE", "42402"),
}
_WHATSAPP_REASON = {
    "processed": "Message is processed",
    "sent": "Sent to WhatsApp",
    "delivered": "Delivered to the user",
    "read": "Read by the user",
    "rejected": "Rejected the message",
}


def country_of(number: str) -> tuple[str, str]:
    digits = number.lstrip("+ ").replace(" ", "")
    for length in (3, 2, 1):
        found = _COUNTRIES.get(digits[:length])
        if found:
            return found
    return ("AE", "42402")  # the pages' examples are all AE


def infobip_time(t: float) -> str:
    """The vendor's format: 2019-11-09T16:00:00.000+0000."""
    moment = datetime.fromtimestamp(t, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def d7_time(t: float) -> str:
    """The send response's created_at: 2001-08-05T12:52:38.393Z."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


class Text:
    """Passes text fields through, or (hostile) spoils them: identity fields the same way on every
    poll, free-text fields anew each time."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng

    def ident(self, value: str, key: str) -> str:
        return value if self.rng is None else hostile.stable(value, key)

    def free(self, value: str | None) -> str | None:
        if self.rng is None or value is None:
            return value
        return hostile.noisy(self.rng, value)


PLAIN = Text()


# -- D7 ---------------------------------------------------------------------------------------


def d7_report(request: SimRequest, text: Text = PLAIN, list_key: str = "messages") -> object:
    if request.channel == "whatsapp":
        return {
            "request_id": request.request_id,
            list_key: [_whatsapp_item(m, text) for m in request.messages],
            "request_stage": "processed",
            "schedule_time": request.extra.get("schedule_time"),
        }
    viber = request.channel == "viber"
    items = []
    for m in request.messages:
        parts = int(m.extra.get("parts", 1))  # type: ignore[call-overload]
        items.append(
            {
                "msg_id": m.msg_id,
                "country": m.extra.get("country") or country_of(m.recipient)[0],
                "recipient": text.ident(m.recipient, m.msg_id),
                "status": m.status.status,
                ("number_of_viber_message" if viber else "number_of_sms"): parts,
                ("viber_cost" if viber else "sms_cost"): round(0.0004 * parts, 6),
                "schedule_time": request.extra.get("schedule_time"),
            }
        )
    return {
        "request_id": request.request_id,
        "total_recipients": len(items),
        "channel": "sms",  # for Viber too: the vendor's own sample says so
        "messages": items,
    }


def _whatsapp_item(m: Message, text: Text) -> dict[str, object]:
    x = m.extra
    message_type = str(x.get("message_type", "TEMPLATE"))
    step = m.status
    reason = step.reason if step.reason is not None else _WHATSAPP_REASON.get(step.status)
    return {
        "msg_id": m.msg_id,
        "originator": text.ident(str(x.get("originator", "971501230000")), m.msg_id + "o"),
        "recipient": text.ident(m.recipient, m.msg_id),
        "reference": {
            "cust_ref": text.free(str(x.get("cust_ref", "customerRef"))),
            "message_tag1": text.free(str(x.get("message_tag1", ""))),
            "message_tag2": x.get("message_tag2", ""),
            "message_tag3": x.get("message_tag3", ""),
            "message_tag4": x.get("message_tag4", ""),
            "message_tag5": x.get("message_tag5", ""),
            "conversation_id": x.get("conversation_id", ""),
        },
        "conversation_type": x.get(
            "conversation_type", "marketing" if message_type == "TEMPLATE" else "service"
        ),
        "message_type": message_type,
        "template_id": x.get("template_id", "marketing" if message_type == "TEMPLATE" else None),
        # One conversation per originator and recipient, as WhatsApp bills them.
        "waConvId": hashlib.md5(
            f"{x.get('originator')}|{m.recipient}".encode("utf-8", "surrogatepass")
        ).hexdigest(),
        "status": step.status,
        "reason": text.free(reason),
    }


def d7_not_found(channel: str) -> dict[str, object]:
    code, what = {
        "sms": ("MESSAGE_LOG_NOT_EXISTS", "message"),
        "viber": ("VIBER_MESSAGE_LOG_NOT_EXISTS", "viber message"),
        "whatsapp": ("WHATSAPP_LOG_NOT_EXISTS", "whatsapp message"),
    }[channel]
    message = f"Given {what} request id not exists in the system. Please Try Again!"
    return {"detail": {"code": code, "message": message}}


def validation_error(loc: list[str | int], msg: str, kind: str) -> dict[str, object]:
    """FastAPI's 422: `detail` is a list."""
    return {"detail": [{"loc": loc, "msg": msg, "type": kind}]}


# -- Infobip ----------------------------------------------------------------------------------


def infobip_status(name: str, text: Text = PLAIN) -> dict[str, object]:
    group_id, group_name, status_id, description = lifecycles.INFOBIP_STATUS.get(
        name,
        (1, "PENDING", 0, name),  # a scripted name outside the table: still a status
    )
    status: dict[str, object] = {
        "groupId": group_id,
        "groupName": group_name,
        "id": status_id,
        "name": name,
        "description": text.free(description),
    }
    if name in lifecycles.INFOBIP_ACTION:
        status["action"] = lifecycles.INFOBIP_ACTION[name]
    return status


def _infobip_error(status_name: str, text: Text) -> dict[str, object]:
    name = lifecycles.INFOBIP_STATUS_ERROR.get(status_name, "NO_ERROR")
    group_id, group_name, error_id, description, permanent = lifecycles.INFOBIP_ERROR[name]
    return {
        "groupId": group_id,
        "groupName": group_name,
        "id": error_id,
        "name": name,
        "description": text.free(description),
        "permanent": permanent,
    }


def infobip_report(report: Report, text: Text = PLAIN) -> dict[str, object]:
    """A `/sms/1/reports` item: the message as it was when the report was made."""
    return _infobip_item(report.message, report.step, report.at, text, log=False)


def infobip_log(m: Message, text: Text = PLAIN) -> dict[str, object]:
    """A `/sms/1/logs` item: the message as it is now, with its text."""
    return _infobip_item(m, max(m.step, 0), m.done_at, text, log=True)


def _infobip_item(
    m: Message, step: int, done_at: float | None, text: Text, *, log: bool
) -> dict[str, object]:
    name = m.script[step].status
    item: dict[str, object] = {
        "bulkId": m.owner,
        "messageId": m.msg_id,
        "to": text.ident(m.recipient, m.msg_id),
        "from": text.ident(str(m.extra.get("from", "InfoSMS")), m.msg_id + "f"),
    }
    if log:
        item["text"] = text.free(str(m.extra.get("text", "")))
    item["sentAt"] = infobip_time(m.created)
    if done_at is not None:  # Infobip leaves out what it does not know yet
        item["doneAt"] = infobip_time(done_at)
    item["smsCount"] = int(m.extra.get("parts", 1))  # type: ignore[call-overload]
    # The legacy logs example spells it lower-case; reports spell mccMnc.
    item["mccmnc" if log else "mccMnc"] = country_of(m.recipient)[1]
    callback = m.extra.get("callbackData")
    if callback is not None and not log:
        item["callbackData"] = text.free(str(callback))
    item["price"] = {"pricePerMessage": 0.01, "currency": "EUR"}
    item["status"] = infobip_status(name, text)
    item["error"] = _infobip_error(name, text)
    item["entityId"] = m.extra.get("entityId", "d7tui-sim-entity")
    item["applicationId"] = m.extra.get("applicationId", "d7tui-sim-app")
    return item


def infobip_request_error(message_id: str, text: str) -> dict[str, object]:
    return {"requestError": {"serviceException": {"messageId": message_id, "text": text}}}


def infobip_too_many() -> dict[str, object]:
    return {
        "errorCode": "E429",
        "description": "Too many requests",
        "action": "Reduce the request rate and try again after the time in Retry-After.",
        "violations": [],
        "resources": [],
    }
