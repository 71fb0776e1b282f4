"""D7 Networks status reports (SMS, WhatsApp, Viber): one parser for the one envelope they share.

The three pages disagree with each other and with themselves: Viber's sample says
`number_of_viber_message` where its table says `number_of_sms`, and `"channel": "sms"`; WhatsApp
may list recipients under `recipients` instead of `messages`. All of it is accepted.
"""

from __future__ import annotations

import uuid

from d7tui.channels.common import (
    as_cost,
    as_parts,
    as_text,
    decode_json,
    describe_error,
    error_said,
    not_a_list,
    not_an_object,
    take,
)
from d7tui.errors import (
    ApiError,
    AuthError,
    ChannelError,
    NotFound,
    ProtocolError,
)
from d7tui.models import Channel, Recipient, RequestStatus, classify_d7, keyed
from d7tui.safety import clean_json, one_line

TOKEN_SETTING = "D7_API_TOKEN"

# (path template, documented not-found code)
ROUTES: dict[Channel, tuple[str, str]] = {
    Channel.SMS: ("/report/v1/message-log/{id}", "MESSAGE_LOG_NOT_EXISTS"),
    Channel.VIBER: ("/report/v1/viber-log/{id}", "VIBER_MESSAGE_LOG_NOT_EXISTS"),
    Channel.WHATSAPP: ("/whatsapp/v2/report/{id}", "WHATSAPP_LOG_NOT_EXISTS"),
}
WHATSAPP_V1 = "/whatsapp/v1/report/{id}"

_PARTS = ("number_of_sms", "number_of_viber_message", "number_of_messages")
_VIBER_PARTS = ("number_of_viber_message", "number_of_sms", "number_of_messages")
# The cost of the whole message (D7's pages: "The cost of the message"). An item with several
# (sms_cost and viber_cost) keeps them all in `fields`; the first present is the cost.
_COST = ("sms_cost", "viber_cost", "cost", "whatsapp_cost")
_VIBER_COST = ("viber_cost", "sms_cost", "cost")  # a Viber item's own cost first


def _recipient(channel: Channel, item: object, index: int) -> Recipient:
    if not isinstance(item, dict):
        return Recipient(
            msg_id=None,
            recipient=None,
            status=None,
            phase=classify_d7(channel, None)[0],
            final=False,
            fields={"value": clean_json(item)},
            problem=f"recipient #{index + 1} is not an object",
        )
    status = as_text(item.get("status"))
    phase, final = classify_d7(channel, item.get("status"))
    # Every key as the vendor spelled it, the normalised ones too (number_of_sms beside
    # parts): clean_json of the dict, not of each value, since the keys are external text too.
    fields = clean_json(item)
    recipient = Recipient(
        msg_id=as_text(item.get("msg_id")),
        recipient=as_text(item.get("recipient")),
        status=status,
        phase=phase,
        final=final,
        reason=as_text(item.get("reason")),
        cost=take(item, _VIBER_COST if channel is Channel.VIBER else _COST, as_cost),
        # D7 bills in its account currency and its report does not name it.
        currency=None,
        parts=take(item, _VIBER_PARTS if channel is Channel.VIBER else _PARTS, as_parts),
        country=as_text(item.get("country")),
        schedule_time=as_text(item.get("schedule_time")),
        fields=fields,
    )
    return recipient


def _same_request(asked: str, said: str) -> bool:
    """Whether an answer's own request_id names the id asked: D7 answers a UUID in its own
    spelling (lower case, hyphens) whatever spelling it was asked in."""
    try:
        return uuid.UUID(asked) == uuid.UUID(said)
    except ValueError:
        return asked.strip().casefold() == said.strip().casefold()


def parse_report(channel: Channel, request_id: str, body: bytes) -> RequestStatus:
    """A 200 status body, or ProtocolError when it is not the documented envelope."""
    data = decode_json(channel.value, body)
    if not isinstance(data, dict):
        raise not_an_object(channel.value, data)
    key = "messages" if "messages" in data else "recipients" if "recipients" in data else None
    if key is None:
        raise ProtocolError(channel.value, "response has no 'messages' list")
    said = data.get("request_id")
    if isinstance(said, str) and said and not _same_request(request_id, said):
        # A caching proxy or a mixed-up gateway: another customer's recipients must not be
        # shown (or remembered) under this id.
        raise ProtocolError(
            channel.value, f"the answer is about another request ({one_line(said, 60)}): not shown"
        )
    items = data[key]
    if items is None:  # no recipient list at all: a broken answer, not an empty request
        raise ProtocolError(channel.value, f"response's '{key}' is null, not a list of recipients")
    if not isinstance(items, list):
        raise not_a_list(channel.value, key, items)
    recipients = keyed([_recipient(channel, item, i) for i, item in enumerate(items)])
    top = clean_json({k: v for k, v in data.items() if k != key})
    if top.get("request_id") == request_id:
        top["request_id"] = request_id  # the id held already, not the answer's copy of it
    return RequestStatus(
        request_id=request_id,
        channel=channel,
        recipients=recipients,
        fields=top,
        raw=(body,),
    )


def http_error(channel: Channel, status: int, body: bytes) -> ChannelError:
    """The typed error for a non-200 D7 answer (429/5xx never reach here: the engine owns them)."""
    code, _ = error_said(body)
    said = describe_error(body)
    if status in (401, 403):
        return AuthError(channel.value, TOKEN_SETTING, status=status, said=code)
    if status == 404:
        return NotFound(channel.value, f"request id not found ({said})", status=404)
    if status == 402:
        return ApiError(channel.value, f"insufficient credit (HTTP 402): {said}", status=402)
    if status == 422:
        return ApiError(
            channel.value, f"the API rejected the request (HTTP 422): {said}", status=422
        )
    return ApiError(channel.value, f"HTTP {status}: {said}", status=status)


def is_documented_not_found(channel: Channel, body: bytes) -> bool:
    code, _ = error_said(body)
    return code == ROUTES[channel][1]
