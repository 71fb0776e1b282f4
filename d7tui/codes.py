"""What every documented status and error means to a support engineer: the table behind
`d7tui.explain`. Data only.

Sources (tests check the table against them):
- D7 SMS, WhatsApp and Viber statuses: the `status` rows of the vendor pages (seeds 000, 002,
  004), plus `undelivered` (the SMS postback page's other spelling), `accepted` (the send
  answer) and `queued` / `dropped` (D7's own RapidAPI listing of WhatsApp statuses).
- Infobip status groups and ids, error groups and ids: API-NOTES.md B3 and B4 (the vendor's
  "response status and error codes" page, with a third-party compilation of its ids). Where that
  compilation says whether an error is permanent, the table agrees; a report's own
  `error.permanent` still wins for that message (see explain.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from d7tui.models import Channel


class Outcome(StrEnum):
    SUCCESS = "success"
    IN_PROGRESS = "in progress"
    TEMPORARY = "temporary failure"  # sending again later may work
    PERMANENT = "permanent failure"  # sending the same again will fail the same way
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Row:
    meaning: str  # plain words: what happened
    outcome: Outcome
    next_step: str  # what a support engineer does now
    credit: bool = False  # the sending account's money is the cause: points to the balance


# -- D7 (SMS, WhatsApp, Viber) -----------------------------------------------------------------

_SCHEDULED = Row(
    "Scheduled: D7 holds the message until its schedule time.",
    Outcome.IN_PROGRESS,
    "Nothing to do before the schedule time; check it is the time the customer expected.",
)
_ACCEPTED = Row(
    "Accepted by D7 and not yet handed on.",
    Outcome.IN_PROGRESS,
    "Wait: a status follows within seconds.",
)
_INSUFFICIENT_CREDIT = Row(
    "Your D7 account did not have enough credit, so the message was never sent.",
    Outcome.PERMANENT,
    "Top up the D7 account (its balance: in D7's dashboard, or on d7tui's status line), then "
    "send it again.",
    credit=True,
)
_SMS_UNDELIVERED = Row(
    "The operator could not deliver it: the phone was off or out of coverage until the "
    "message expired, or the number is not in service.",
    Outcome.TEMPORARY,
    "Check the number with the customer and that the phone is on with signal, then send "
    "again; if it fails again, the number is probably no longer in service.",
)

# status -> channel -> row. A status is documented for the channels it lists.
D7_STATUSES: dict[str, dict[Channel, Row]] = {
    "accepted": dict.fromkeys((Channel.SMS, Channel.WHATSAPP, Channel.VIBER), _ACCEPTED),
    "scheduled": dict.fromkeys((Channel.SMS, Channel.WHATSAPP), _SCHEDULED),
    "queued": {
        Channel.WHATSAPP: Row(
            "Queued at D7, not yet sent to WhatsApp.",
            Outcome.IN_PROGRESS,
            "Wait: it normally moves on within seconds.",
        )
    },
    "processed": {
        Channel.WHATSAPP: Row(
            "D7 has processed the request and is handing it to WhatsApp.",
            Outcome.IN_PROGRESS,
            "Wait: 'sent' normally follows within seconds.",
        )
    },
    "sent": {
        Channel.SMS: Row(
            "Handed to the mobile operator; waiting for the phone's delivery report.",
            Outcome.IN_PROGRESS,
            "Wait. Some networks and countries never send a delivery report, so a message "
            "can stay 'sent' although it arrived: ask the customer if it did.",
        ),
        Channel.WHATSAPP: Row(
            "Sent to WhatsApp; waiting for the phone to confirm delivery.",
            Outcome.IN_PROGRESS,
            "Wait: the phone confirms when it next comes online. If it stays 'sent', the phone "
            "is offline or the number may not use WhatsApp.",
        ),
        Channel.VIBER: Row(
            "Sent to Viber; waiting for the app to confirm delivery.",
            Outcome.IN_PROGRESS,
            "Wait: the app confirms when the phone next comes online.",
        ),
    },
    "delivered": {
        Channel.SMS: Row(
            "Delivered to the phone, and the operator confirmed it.",
            Outcome.SUCCESS,
            "Nothing to fix on the sending side. If the customer says it never came, check the "
            "number is theirs and look in the phone's blocked or spam messages.",
        ),
        Channel.WHATSAPP: Row(
            "Delivered to WhatsApp on the phone, not read yet. If the user turned read receipts "
            "off, 'read' never comes.",
            Outcome.SUCCESS,
            "Nothing to fix on the sending side: the message is on the phone.",
        ),
        Channel.VIBER: Row(
            "Delivered to the Viber app on the phone.",
            Outcome.SUCCESS,
            "Nothing to fix on the sending side: the message is on the phone.",
        ),
    },
    "read": {
        Channel.WHATSAPP: Row(
            "Opened and read by the user in WhatsApp.",
            Outcome.SUCCESS,
            "Nothing to do: the customer has seen it.",
        )
    },
    "un_delivered": {
        Channel.SMS: _SMS_UNDELIVERED,
        Channel.WHATSAPP: Row(
            "WhatsApp could not deliver it: the phone stayed offline until the message "
            "expired, or the number does not use WhatsApp.",
            Outcome.TEMPORARY,
            "Ask the customer whether this number has WhatsApp; if not, send by SMS. "
            "Otherwise send again once their phone is online.",
        ),
    },
    "undelivered": {
        Channel.SMS: _SMS_UNDELIVERED,
        Channel.VIBER: Row(
            "Viber could not deliver it: the number has no Viber account, or the app was not "
            "reachable before the message expired.",
            Outcome.TEMPORARY,
            "Ask the customer whether they use Viber on this number; if not, send by SMS.",
        ),
    },
    "not_reachable": {
        Channel.SMS: Row(
            "The network could not reach the phone: switched off, out of coverage, or roaming "
            "where the operator does not deliver.",
            Outcome.TEMPORARY,
            "Ask the customer to check the phone is on and has signal, then send again later.",
        )
    },
    "spam_content": {
        Channel.SMS: Row(
            "The operator's filter took the text for spam and dropped it.",
            Outcome.PERMANENT,
            "Sending the same text fails again: change the wording (links, sender name) or "
            "register the sender and template with D7 for this country.",
        )
    },
    "insufficient_credit": dict.fromkeys((Channel.SMS, Channel.WHATSAPP), _INSUFFICIENT_CREDIT),
    "rejected": {
        Channel.WHATSAPP: Row(
            "WhatsApp or D7 refused the message; the reason says why (not a WhatsApp user, "
            "the 24-hour window closed, a template missing or not approved).",
            Outcome.PERMANENT,
            "Read the reason: not a WhatsApp user → send by SMS; outside the 24-hour window → "
            "send an approved template; template problem → check its name and approval.",
        )
    },
    "dropped": {
        Channel.WHATSAPP: Row(
            "D7 dropped the message before it reached WhatsApp.",
            Outcome.PERMANENT,
            "Send it again; if it is dropped again, contact D7 support with the msg_id.",
        )
    },
}

# -- Infobip: statuses -------------------------------------------------------------------------

# groupName -> (groupId, what any status of the group means). ACCEPTED is a general status of
# Infobip's own client (a `generalStatus` filter) with no documented group id.
INFOBIP_STATUS_GROUPS: dict[str, tuple[int | None, Row]] = {
    "ACCEPTED": (
        None,
        Row(
            "Accepted by Infobip, not yet processed.",
            Outcome.IN_PROGRESS,
            "Wait: a status follows within seconds.",
        ),
    ),
    "PENDING": (
        1,
        Row(
            "On its way: Infobip has not had a final answer from the operator yet.",
            Outcome.IN_PROGRESS,
            "Wait for the delivery report.",
        ),
    ),
    "UNDELIVERABLE": (
        2,
        Row(
            "The operator could not deliver the message.",
            Outcome.TEMPORARY,
            "Read the error below; check the number with the customer and send again.",
        ),
    ),
    "DELIVERED": (
        3,
        Row(
            "Delivered.",
            Outcome.SUCCESS,
            "Nothing to fix on the sending side.",
        ),
    ),
    "EXPIRED": (
        4,
        Row(
            "No delivery report came before the message's validity ran out (48 h by default).",
            Outcome.TEMPORARY,
            "Ask the customer whether it arrived; send again once their phone is reachable.",
        ),
    ),
    "REJECTED": (
        5,
        Row(
            "Infobip refused the message before sending it.",
            Outcome.PERMANENT,
            "Read the status name: the account, sender or number must be fixed first.",
        ),
    ),
}

# status id -> (name, groupId, row)
INFOBIP_STATUSES: dict[int, tuple[str, int, Row]] = {
    3: (
        "PENDING_WAITING_DELIVERY",
        1,
        Row(
            "Sent to the operator; waiting for the operator's delivery report.",
            Outcome.IN_PROGRESS,
            "Wait. Some operators never report: if it stays here, ask the customer whether "
            "it arrived.",
        ),
    ),
    7: (
        "PENDING_ENROUTE",
        1,
        Row(
            "Processed by Infobip and forwarded to the mobile operator.",
            Outcome.IN_PROGRESS,
            "Wait for the delivery report.",
        ),
    ),
    26: (
        "PENDING_ACCEPTED",
        1,
        Row(
            "Accepted by Infobip, waiting to be processed and sent.",
            Outcome.IN_PROGRESS,
            "Wait: it is normally forwarded within seconds.",
        ),
    ),
    4: (
        "UNDELIVERABLE_REJECTED_OPERATOR",
        2,
        Row(
            "The operator rejected the message (a network problem or the operator's own "
            "restrictions).",
            Outcome.PERMANENT,
            "Check the number; if it is right, ask Infobip support why the operator rejects it.",
        ),
    ),
    9: (
        "UNDELIVERABLE_NOT_DELIVERED",
        2,
        Row(
            "Sent, but the operator could not deliver it to the phone.",
            Outcome.TEMPORARY,
            "The error says why. Check the number with the customer, then send again later.",
        ),
    ),
    31: (
        "UNDELIVERABLE_NOT_SENT",
        2,
        Row(
            "The message was never sent.",
            Outcome.TEMPORARY,
            "Read the error; send again, and contact Infobip support if it repeats.",
        ),
    ),
    2: (
        "DELIVERED_TO_OPERATOR",
        3,
        Row(
            "Delivered to the operator, which Infobip counts as delivered; the phone has not "
            "confirmed yet (some operators never send that confirmation).",
            Outcome.SUCCESS,
            "Nothing to fix on the sending side; DELIVERED_TO_HANDSET may follow. If the "
            "customer says it never came, ask the operator's side through Infobip support.",
        ),
    ),
    5: (
        "DELIVERED_TO_HANDSET",
        3,
        Row(
            "Delivered to the phone, and the operator confirmed it.",
            Outcome.SUCCESS,
            "Nothing to fix on the sending side. If the customer says it never came, check the "
            "number is theirs and look in the phone's blocked or spam messages.",
        ),
    ),
    15: (
        "EXPIRED_EXPIRED",
        4,
        Row(
            "Sent to the operator, but not delivered before the message's validity ran out.",
            Outcome.TEMPORARY,
            "The phone was probably off or out of coverage: send again once it is reachable.",
        ),
    ),
    29: (
        "EXPIRED_DLR_UNKNOWN",
        4,
        Row(
            "The message expired and the operator never said whether it was delivered.",
            Outcome.TEMPORARY,
            "It may well have arrived: ask the customer before sending again.",
        ),
    ),
    6: (
        "REJECTED_NETWORK",
        5,
        Row(
            "The destination network is not covered or not set up on your Infobip account.",
            Outcome.PERMANENT,
            "Ask your Infobip account manager to enable this network.",
        ),
    ),
    8: (
        "REJECTED_PREFIX_MISSING",
        5,
        Row(
            "The number's prefix or length is not valid for any network.",
            Outcome.PERMANENT,
            "Check the number (country code, no leading 0) with the customer.",
        ),
    ),
    10: (
        "REJECTED_DND",
        5,
        Row(
            "The recipient subscribed to Do Not Disturb: service messages are blocked.",
            Outcome.PERMANENT,
            "Only the customer can lift DND with their operator; use another channel.",
        ),
    ),
    11: (
        "REJECTED_SOURCE",
        5,
        Row(
            "The sender id is not registered on an account that accepts registered senders only.",
            Outcome.PERMANENT,
            "Register the sender id with Infobip, or send with a registered one.",
        ),
    ),
    12: (
        "REJECTED_NOT_ENOUGH_CREDITS",
        5,
        Row(
            "Your Infobip account is out of credit; the message was not sent.",
            Outcome.PERMANENT,
            "Top up the Infobip account (its balance: in Infobip's portal, or on d7tui's status "
            "line), then send again.",
            credit=True,
        ),
    ),
    13: (
        "REJECTED_SENDER",
        5,
        Row(
            "The sender id is blocklisted on your account.",
            Outcome.PERMANENT,
            "Remove the sender from the blocklist in Infobip's web interface, or use another.",
        ),
    ),
    14: (
        "REJECTED_DESTINATION_BLOCKLISTED",
        5,
        Row(
            "The number is blocklisted, on your account or at the operator's request.",
            Outcome.PERMANENT,
            "Check the blocklist in Infobip's web interface; otherwise ask Infobip support.",
        ),
    ),
    19: (
        "REJECTED_ROUTE_NOT_AVAILABLE",
        5,
        Row(
            "Your account has no route to send this message on.",
            Outcome.PERMANENT,
            "Ask your Infobip account manager to set up a route.",
        ),
    ),
    20: (
        "REJECTED_FLOODING_FILTER",
        5,
        Row(
            "Too many messages to this number in an hour (by default 20 different or 6 identical).",
            Outcome.TEMPORARY,
            "Wait an hour before sending to this number again; look for a loop that resends.",
        ),
    ),
    21: (
        "REJECTED_SYSTEM_ERROR",
        5,
        Row(
            "Infobip refused it because of an error on their side.",
            Outcome.TEMPORARY,
            "Send again; contact Infobip support if it repeats.",
        ),
    ),
    23: (
        "REJECTED_DUPLICATE_MESSAGE_ID",
        5,
        Row(
            "The send request reused a messageId that already exists.",
            Outcome.PERMANENT,
            "Send again with a new, unique messageId.",
        ),
    ),
    25: (
        "REJECTED_MESSAGE_TOO_LONG",
        5,
        Row(
            "The text is longer than Infobip allows (25 parts or 4,000 bytes).",
            Outcome.PERMANENT,
            "Shorten the text.",
        ),
    ),
    51: (
        "MISSING_TO",
        5,
        Row(
            "The send request had no recipient number.",
            Outcome.PERMANENT,
            "Fix the sending system: it sent an empty 'to'.",
        ),
    ),
    52: (
        "REJECTED_DESTINATION",
        5,
        Row(
            "The number does not match any operator's prefix or length.",
            Outcome.PERMANENT,
            "Check the number (country code, no leading 0) with the customer.",
        ),
    ),
}

# -- Infobip: errors ---------------------------------------------------------------------------

# groupName -> (groupId, what any error of the group means). The page's sample spells group 0
# "Ok"; names are compared without case.
INFOBIP_ERROR_GROUPS: dict[str, tuple[int | None, Row]] = {
    "OK": (0, Row("No error.", Outcome.SUCCESS, "Nothing to fix.")),
    "HANDSET_ERRORS": (
        1,
        Row(
            "The phone or the subscription behind it could not take the message.",
            Outcome.TEMPORARY,
            "Check the number with the customer and that the phone is on, then send again.",
        ),
    ),
    "USER_ERRORS": (
        2,
        Row(
            "Something in the message or in your account's setup stopped it.",
            Outcome.PERMANENT,
            "Fix what the error names before sending again.",
        ),
    ),
    "OPERATOR_ERRORS": (
        3,
        Row(
            "The mobile operator's network refused or could not handle the message.",
            Outcome.PERMANENT,
            "Check the number; if it is right, ask Infobip support about this operator.",
        ),
    ),
}

_ABSENT = Row(
    "The phone is off or out of coverage.",
    Outcome.TEMPORARY,
    "Ask the customer to check the phone is on and has signal, then send again later.",
)

# error id -> (name, groupId, row)
INFOBIP_ERRORS: dict[int, tuple[str, int, Row]] = {
    0: ("NO_ERROR", 0, Row("No error.", Outcome.SUCCESS, "Nothing to fix.")),
    1: (
        "EC_UNKNOWN_SUBSCRIBER",
        1,
        Row(
            "The network does not know this number: it is not, or no longer, in service.",
            Outcome.PERMANENT,
            "Ask the customer for their current number.",
        ),
    ),
    5: (
        "EC_UNIDENTIFIED_SUBSCRIBER",
        1,
        Row(
            "The network could not identify the subscriber (unregistered number or wrong "
            "subscriber data).",
            Outcome.TEMPORARY,
            "Check the number with the customer; if it is right, ask Infobip support.",
        ),
    ),
    6: ("EC_ABSENT_SUBSCRIBER_SM", 1, _ABSENT),
    8: (
        "EC_ROAMING_NOT_ALLOWED",
        1,
        Row(
            "The phone is roaming on a network that does not deliver for its home operator.",
            Outcome.TEMPORARY,
            "Send again when the customer is back on their home network, or use another channel.",
        ),
    ),
    9: (
        "EC_ILLEGAL_SUBSCRIBER",
        1,
        Row(
            "The phone failed the network's authentication (often a blocklisted number).",
            Outcome.PERMANENT,
            "The customer must sort it out with their operator.",
        ),
    ),
    11: (
        "EC_TELESERVICE_NOT_PROVISIONED",
        1,
        Row(
            "The subscription cannot receive SMS (a data-only or landline number).",
            Outcome.PERMANENT,
            "Ask the customer for a mobile number that takes SMS.",
        ),
    ),
    13: (
        "EC_CALL_BARRED",
        1,
        Row(
            "The operator has suspended the subscriber's service, usually for an unpaid bill.",
            Outcome.TEMPORARY,
            "The customer must settle it with their operator; send again afterwards.",
        ),
    ),
    27: ("EC_ABSENT_SUBSCRIBER", 1, _ABSENT),
    32: (
        "EC_SM_DELIVERY_FAILURE",
        1,
        Row(
            "The phone did not accept the message (full memory, or a passing fault).",
            Outcome.TEMPORARY,
            "Ask the customer to free space and restart the phone, then send again.",
        ),
    ),
    256: (
        "EC_SM_DF_MEMORYCAPACITYEXCEEDED",
        1,
        Row(
            "The phone's message inbox is full.",
            Outcome.TEMPORARY,
            "Ask the customer to delete some messages, then send again.",
        ),
    ),
    502: (
        "EC_NO_RESPONSE",
        1,
        Row(
            "Forwarded to the operator, who never answered.",
            Outcome.TEMPORARY,
            "Send again later; ask Infobip support if one operator keeps doing it.",
        ),
    ),
    581: (
        "EC_USER_OUT_OF_CREDIT",
        1,
        Row(
            "The recipient's prepaid phone credit is used up, so their operator will not "
            "deliver (this is the customer's credit, not your account's balance).",
            Outcome.TEMPORARY,
            "Tell the customer to top up their phone; send again within a few days.",
        ),
    ),
    351: (
        "EC_INVALID_DESTINATION_ADDRESS",
        2,
        Row(
            "The operator says the number is not valid on its network (deactivated or moved).",
            Outcome.TEMPORARY,
            "Check the number with the customer.",
        ),
    ),
    355: (
        "EC_MSG_TEXT_TOO_LONG",
        2,
        Row("The text is too long.", Outcome.PERMANENT, "Shorten the text."),
    ),
    368: (
        "EC_INVALID_SOURCE_ADDRESS",
        2,
        Row(
            "The operator refuses the sender id.",
            Outcome.PERMANENT,
            "Ask your Infobip account manager which sender this operator accepts.",
        ),
    ),
    603: (
        "EC_CONTENT_BLOCKED",
        2,
        Row(
            "The recipient opted out (replied STOP).",
            Outcome.PERMANENT,
            "Do not send again unless the customer opts back in.",
        ),
    ),
    607: (
        "EC_REJECTED_SPAM_BY_OPERATOR",
        2,
        Row(
            "The operator's filter took the text for spam.",
            Outcome.PERMANENT,
            "Sending the same text fails again: change the wording or register the sender.",
        ),
    ),
    608: (
        "EC_SIGNALS_BLOCKED",
        2,
        Row(
            "Infobip's anti-fraud check blocked the number.",
            Outcome.TEMPORARY,
            "If the customer is genuine, have the number trusted in Infobip's Signals.",
        ),
    ),
    2052: (
        "EC_BLACKLISTED_DESTINATIONADDRESS",
        2,
        Row(
            "The number is blocklisted, on your account or at the operator's request.",
            Outcome.PERMANENT,
            "Check the blocklist in Infobip's web interface; otherwise ask Infobip support.",
        ),
    ),
    4099: (
        "EC_MONTHLY_LIMIT_REACHED",
        2,
        Row(
            "Your Infobip account reached its monthly credit limit.",
            Outcome.PERMANENT,
            "Ask your account manager to raise the limit (the balance: in Infobip's portal, or on "
            "d7tui's status line).",
            credit=True,
        ),
    ),
    4101: (
        "EC_VALIDITY_EXPIRED",
        2,
        Row(
            "Not delivered within the message's validity period.",
            Outcome.TEMPORARY,
            "The phone was probably unreachable: send again once it is on.",
        ),
    ),
    4103: (
        "EC_DESTINATION_FLOODING",
        2,
        Row(
            "Too many messages to this number in an hour.",
            Outcome.TEMPORARY,
            "Wait an hour before sending to this number again; look for a loop that resends.",
        ),
    ),
    51: (
        "EC_RESOURCE_LIMITATION",
        3,
        Row(
            "The operator's network was congested.",
            Outcome.TEMPORARY,
            "Send again later.",
        ),
    ),
    345: (
        "EC_OPERATOR_NOT_FOUND",
        3,
        Row(
            "No mobile operator could be found for this number.",
            Outcome.PERMANENT,
            "Check the number (country code, no leading 0) with the customer.",
        ),
    ),
    561: (
        "EC_CONTENT_BLOCKED_BY_OPERATOR",
        3,
        Row(
            "The operator blocks this content for this recipient.",
            Outcome.PERMANENT,
            "Change the text, or reach the customer another way.",
        ),
    ),
    566: (
        "EC_DESTINATION_BLOCKED_BY_OPERATOR",
        3,
        Row(
            "The operator blocks messages to this number (account suspended or barred).",
            Outcome.PERMANENT,
            "The customer must sort it out with their operator.",
        ),
    ),
    568: (
        "EC_DESTINATION_NOT_SMS_PROVISIONED",
        3,
        Row(
            "The number cannot receive SMS.",
            Outcome.PERMANENT,
            "Ask the customer for a mobile number that takes SMS.",
        ),
    ),
    569: (
        "EC_DEST_ADDRESS_SUSPENDED",
        3,
        Row(
            "The operator has suspended this number.",
            Outcome.PERMANENT,
            "The customer must sort it out with their operator.",
        ),
    ),
}
