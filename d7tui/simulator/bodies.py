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


def _infobip_error(status_name: str, text: Text, v3: bool) -> dict[str, object]:
    name = lifecycles.INFOBIP_STATUS_ERROR.get(status_name, "NO_ERROR")
    group_id, group_name, error_id, description, permanent = lifecycles.INFOBIP_ERROR[name]
    if v3 and group_name == "Ok":
        group_name = "OK"  # v3's groupName is an enum (OK, HANDSET_ERRORS, ...); v1's page: "Ok"
    return {
        "groupId": group_id,
        "groupName": group_name,
        "id": error_id,
        "name": name,
        "description": text.free(description),
        "permanent": permanent,
    }


def infobip_report(report: Report, text: Text = PLAIN, *, v3: bool = False) -> dict[str, object]:
    """A `/sms/1/reports` or `/sms/3/reports` item: the message as it was when the report was
    made."""
    m, step = report.message, report.step
    if v3:
        # Key order of the vendor's v3 model (SmsDeliveryReport): `to` stays, `from` is `sender`.
        item: dict[str, object] = {"bulkId": m.owner}
        item.update(_price_status_error(m, step, text, v3=True))
        item["messageId"] = m.msg_id
        item["to"] = text.ident(m.recipient, m.msg_id)
        item["sender"] = _sender(m, text)
        item.update(_times(m, report.at, count_key="messageCount"))
        item["mccMnc"] = country_of(m.recipient)[1]
        _callback(item, m, text)
        item.update(_platform(m, v3=True))
        return item
    item = _v1_head(m, text)
    item.update(_times(m, report.at, count_key="smsCount"))
    item["mccMnc"] = country_of(m.recipient)[1]
    _callback(item, m, text)
    item.update(_price_status_error(m, step, text, v3=False))
    item.update(_platform(m, v3=False))
    return item


def infobip_log(m: Message, text: Text = PLAIN, *, v3: bool = False) -> dict[str, object]:
    """A `/sms/1/logs` or `/sms/3/logs` item: the message as it is now, with its text."""
    step = max(m.step, 0)
    if v3:
        # Key order of the vendor's v3 model (SmsLog): sender/destination, content.text.
        item: dict[str, object] = {
            "sender": _sender(m, text),
            "destination": text.ident(m.recipient, m.msg_id),
            "bulkId": m.owner,
            "messageId": m.msg_id,
        }
        item.update(_times(m, m.done_at, count_key="messageCount"))
        item.update(_price_status_error(m, step, text, v3=True))
        item.update(_platform(m, v3=True, campaign=False))
        item["content"] = {"text": text.free(str(m.extra.get("text", "")))}
        if m.extra.get("campaignReferenceId") is not None:
            item["campaignReferenceId"] = m.extra["campaignReferenceId"]
        item["mccMnc"] = country_of(m.recipient)[1]
        return item
    item = _v1_head(m, text)
    item["text"] = text.free(str(m.extra.get("text", "")))
    item.update(_times(m, m.done_at, count_key="smsCount"))
    item["mccmnc"] = country_of(m.recipient)[1]  # the legacy logs example spells it lower-case
    item.update(_price_status_error(m, step, text, v3=False))
    item.update(_platform(m, v3=False))
    return item


def _v1_head(m: Message, text: Text) -> dict[str, object]:
    return {
        "bulkId": m.owner,
        "messageId": m.msg_id,
        "to": text.ident(m.recipient, m.msg_id),
        "from": _sender(m, text),
    }


def _sender(m: Message, text: Text) -> str:
    return text.ident(str(m.extra.get("from", "InfoSMS")), m.msg_id + "f")


def _times(m: Message, done_at: float | None, *, count_key: str) -> dict[str, object]:
    out: dict[str, object] = {"sentAt": infobip_time(m.sent)}
    if done_at is not None:  # Infobip leaves out what it does not know yet
        out["doneAt"] = infobip_time(done_at)
    out[count_key] = int(m.extra.get("parts", 1))  # type: ignore[call-overload]
    return out


def _callback(item: dict[str, object], m: Message, text: Text) -> None:
    callback = m.extra.get("callbackData")
    if callback is not None:
        item["callbackData"] = text.free(str(callback))


def _price_status_error(m: Message, step: int, text: Text, *, v3: bool) -> dict[str, object]:
    name = m.script[step].status
    return {
        "price": {"pricePerMessage": 0.01, "currency": "EUR"},
        "status": infobip_status(name, text),
        "error": _infobip_error(name, text, v3),
    }


def _platform(m: Message, *, v3: bool, campaign: bool = True) -> dict[str, object]:
    entity = m.extra.get("entityId", "d7tui-sim-entity")
    application = m.extra.get("applicationId", "d7tui-sim-app")
    if not v3:
        return {"entityId": entity, "applicationId": application}
    out: dict[str, object] = {"platform": {"entityId": entity, "applicationId": application}}
    if campaign and m.extra.get("campaignReferenceId") is not None:
        out["campaignReferenceId"] = m.extra["campaignReferenceId"]
    return out


def infobip_request_error(message_id: str, text: str) -> dict[str, object]:
    return {"requestError": {"serviceException": {"messageId": message_id, "text": text}}}


def infobip_api_error(
    code: str,
    description: str,
    action: str,
    violations: list[dict[str, str]] | None = None,
) -> dict[str, object]:
    """The newer error format (v3 endpoints, throttling): `ApiError` in the vendor's client."""
    return {
        "errorCode": code,
        "description": description,
        "action": action,
        "violations": violations or [],
        "resources": [],
    }


def infobip_too_many() -> dict[str, object]:
    return infobip_api_error(
        "E429",
        "Too many requests",
        "Reduce the request rate; retry with exponential backoff.",
    )
