"""One test message: what is sent, the vendor's send body for it, and what the answer says.

The bodies are the ones the official clients build, key for key: D7's `direct7` SDK
(`/messages/v1/send`, `/viber/v1/send`, `/whatsapp/v2/send`) and Infobip's current client
(`/sms/3/messages`). Tests hold them against the `direct7` SDK's own bodies. D7's SMS goes with
`data_coding: "auto"` (documented), where the SDK 0.0.16 says "unicode" for every text (its bug).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from d7tui.channels.common import as_text, decode_json, describe_error
from d7tui.channels.d7 import TOKEN_SETTING
from d7tui.errors import ApiError, AuthError, ChannelError, ErrorKind, ProtocolError
from d7tui.explain import explain_d7, explain_infobip
from d7tui.models import Channel, IdKind
from d7tui.safety import one_line

TEST_LABEL = "test"  # the label a sent test message is watched under (`d7tui send`, `S`)
MAX_TEXT = 1000  # a test message, not a campaign: a few SMS parts, one Viber message
_NUMBER = re.compile(r"^\+?[0-9]{6,15}$")
# A control character sent on reaches the phone, or the vendor's dashboard, as is (a tab or a
# line break in a text is fine).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")

D7_SEND_PATHS = {
    Channel.SMS: "/messages/v1/send",
    Channel.VIBER: "/viber/v1/send",
    Channel.WHATSAPP: "/whatsapp/v2/send",
}
INFOBIP_SEND_PATH = "/sms/3/messages"


class SendProblem(ValueError):
    """A message that cannot be sent as asked; str() is one line for the user."""


class MaybeSent(ChannelError):
    """The send went out, or may have, but gave no id to watch: sending it again may send (and
    pay for) it twice. Its message says so first."""

    kind = ErrorKind.UNREACHABLE


@dataclass(frozen=True, slots=True)
class Message:
    channel: Channel
    to: str  # digits with the country code, with or without "+"
    text: str | None = None
    template: str | None = None  # WhatsApp: an approved template's id
    language: str = "en"  # of the template
    params: tuple[str, ...] = ()  # the template's body parameters, in order
    sender: str | None = None  # originator / sender id / WhatsApp business number

    def describe(self) -> str:
        """`one sms (D7) message to +9715… from Shop (5 characters)`."""
        what = f"{len(self.text or '')} characters"
        if self.template:
            what = f"template {one_line(self.template, 40)!r}"
            if self.params:
                values = ", ".join(
                    f"{{{{{i}}}}}={one_line(v, 30)}" for i, v in enumerate(self.params, 1)
                )
                what += f", {values}"
        name = "sms" if self.channel is Channel.INFOBIP else self.channel.value
        sender = f" from {one_line(self.sender, 40)}" if self.sender else ""
        return f"one {name} ({self.vendor()}) message to {self.to}{sender} ({what})"

    def vendor(self) -> str:
        return "Infobip" if self.channel is Channel.INFOBIP else "D7"


@dataclass(frozen=True, slots=True)
class Sent:
    """What the vendor answered: the id to watch, and what it said about the message."""

    channel: Channel
    request_id: str
    id_kind: IdKind
    status: str | None  # "accepted" (D7) or Infobip's first status name
    fields: dict[str, Any] = field(default_factory=dict)  # the rest of the answer


def check(message: Message) -> Message:
    """The message, its number normalised, or SendProblem saying what is wrong."""
    number = re.sub(r"[\s()\-.]", "", message.to)
    if number.startswith("00"):
        number = "+" + number[2:]  # the international prefix, as dialled in Europe and the Gulf
    if not _NUMBER.match(number):
        raise SendProblem(
            f"{one_line(message.to, 40)!r} is not a phone number: digits with the country code, "
            "e.g. +971501234567"
        )
    if number.lstrip("+").startswith("0"):
        raise SendProblem(
            f"{one_line(message.to, 40)!r} has no country code (none starts with 0): write it "
            "with one, e.g. +971501234567"
        )
    if message.text is None and message.template is None:
        raise SendProblem("give a text (or, for WhatsApp, a template)")
    if message.text is not None and message.template is not None:
        raise SendProblem("give either a text or a template, not both")
    if message.template is not None and message.channel is not Channel.WHATSAPP:
        raise SendProblem(f"templates are for whatsapp; {message.channel.value} takes --text")
    if message.text is not None:
        if not message.text.strip():
            raise SendProblem("the text is empty")
        if len(message.text) > MAX_TEXT:
            raise SendProblem(f"the text is longer than {MAX_TEXT} characters")
    if message.params and message.template is None:
        raise SendProblem("template parameters go with a template")
    if message.template is not None and not message.template.strip():
        raise SendProblem("the template name is empty")
    for what, value in (
        ("the text", message.text),
        ("the template name", message.template),
        ("the language", message.language),
        ("the sender", message.sender),
        *(("a template parameter", param) for param in message.params),
    ):
        if value is not None and _CONTROL.search(value):
            raise SendProblem(f"{what} holds a control character (such as ESC)")
    if any(not param.strip() for param in message.params):
        raise SendProblem("a template parameter is empty")
    if not message.sender and message.channel is not Channel.INFOBIP:
        raise SendProblem(
            f"{message.channel.value} needs a sender: --from NAME (the originator D7 knows)"
        )
    digits = number.lstrip("+")
    # D7's pages write numbers with "+"; Infobip's without.
    to = digits if message.channel is Channel.INFOBIP else "+" + digits
    return Message(
        message.channel,
        to,
        message.text,
        message.template,
        message.language,
        message.params,
        message.sender,
    )


def body(message: Message) -> tuple[str, dict[str, Any]]:
    """(path, JSON body) of the vendor's send for a checked message."""
    channel = message.channel
    if channel is Channel.INFOBIP:
        one: dict[str, Any] = {
            "destinations": [{"to": message.to}],
            "content": {"text": message.text},
        }
        if message.sender:
            one = {"sender": message.sender, **one}
        return INFOBIP_SEND_PATH, {"messages": [one]}
    if channel is Channel.SMS:
        sms = {
            "channel": "sms",
            "recipients": [message.to],
            "content": message.text,
            "msg_type": "text",
            "data_coding": "auto",
        }
        globals_ = {
            "originator": message.sender,
            "report_url": None,
            "schedule_time": None,
            "tag": None,
        }
        return D7_SEND_PATHS[channel], {"messages": [sms], "message_globals": globals_}
    if channel is Channel.VIBER:
        viber = {
            "channel": "viber",
            "recipients": [message.to],
            "content": message.text,
            # The SDK's README's value; D7 documents no list of labels.
            "label": "PROMOTION",
        }
        globals_ = {"originator": message.sender, "call_back_url": None}
        return D7_SEND_PATHS[channel], {"messages": [viber], "message_globals": globals_}
    if message.template is not None:
        content: dict[str, Any] = {
            "message_type": "TEMPLATE",
            "template": {
                "template_id": message.template,
                "language": message.language,
                "body_parameter_values": {str(i): v for i, v in enumerate(message.params)},
            },
        }
    else:
        content = {"message_type": "TEXT", "text": {"body": message.text}}
    whatsapp = {
        "originator": message.sender,
        "recipients": [{"recipient": message.to}],
        "content": content,
    }
    return D7_SEND_PATHS[channel], {"messages": [whatsapp]}


def parse_d7_sent(channel: Channel, raw: bytes) -> Sent:
    """`{"request_id", "status": "accepted", "created_at"}` (D7's send page)."""
    data = decode_json(channel.value, raw)
    request_id = as_text(data.get("request_id")) if isinstance(data, dict) else None
    if not request_id:
        raise ProtocolError(channel.value, "the send was answered without a request_id")
    rest = {k: v for k, v in data.items() if k not in ("request_id", "status")}
    return Sent(channel, request_id, IdKind.REQUEST, as_text(data.get("status")), rest)


def parse_infobip_sent(raw: bytes) -> Sent:
    """`{"bulkId"?, "messages": [{"messageId", "status": {...}, "destination", ...}]}`: the
    bulk is watched when there is one, else the message."""
    data = decode_json("infobip", raw)
    messages = data.get("messages") if isinstance(data, dict) else None
    first = messages[0] if isinstance(messages, list) and messages else None
    if not isinstance(first, dict):
        raise ProtocolError("infobip", "the send was answered without a message")
    status = first.get("status")
    name = as_text(status.get("name")) if isinstance(status, dict) else None
    bulk = as_text(data.get("bulkId"))
    message_id = as_text(first.get("messageId"))
    said = {"status": status} if isinstance(status, dict) else {}
    if bulk:
        return Sent(Channel.INFOBIP, bulk, IdKind.BULK, name, {"messageId": message_id, **said})
    if message_id:
        return Sent(Channel.INFOBIP, message_id, IdKind.MESSAGE, name, said)
    raise ProtocolError("infobip", "the send was answered without a bulkId or messageId")


def refusal(sent: Sent) -> str | None:
    """Why the vendor refused the message in its answer to the send (an Infobip REJECTED_*
    status, a D7 status that is a failure), with what to do; None: it was taken."""
    if sent.channel is Channel.INFOBIP:
        status = sent.fields.get("status")
        explained = explain_infobip(
            status if isinstance(status, dict) else {}, {}, name=sent.status
        )
    else:
        explained = explain_d7(sent.channel, sent.status)
    if explained is None or not explained.failed:
        return None
    return f"{explained.code}: {explained.meaning} Next: {explained.next_step}"


def d7_send_error(channel: Channel, status: int, raw: bytes) -> ChannelError:
    said = describe_error(raw)
    if status in (401, 403):
        return AuthError(channel.value, TOKEN_SETTING, status=status)
    if status == 402:
        return ApiError(
            channel.value,
            f"not sent: insufficient credit (HTTP 402): {said}; see the balance",
            status=402,
        )
    return ApiError(
        channel.value, f"not sent: the API refused it (HTTP {status}): {said}", status=status
    )
