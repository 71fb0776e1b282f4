"""How simulated messages move by themselves: a script of (offset seconds, status, reason) steps,
drawn from a seeded random generator so a seed always tells the same story. A message's status at
time t is the last step at or before t."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import NamedTuple


class Step(NamedTuple):
    offset: float  # seconds after the message was created
    status: str
    reason: str | None = None


Script = list[Step]
# What callers may hand in: Step objects or plain tuples, (offset, status[, reason]).
StepLike = Step | tuple[float, str] | tuple[float, str, str | None]


def normalise(steps: Sequence[StepLike]) -> Script:
    """Steps in time order, the first at creation: a message exists from its first status, so
    its status and the changes log agree at every moment."""
    if not steps:
        raise ValueError("a script needs at least one step")
    out = sorted((Step(float(s[0]), str(s[1]), *s[2:3]) for s in steps), key=lambda s: s.offset)
    return [out[0]._replace(offset=0.0), *out[1:]]


# -- D7 ---------------------------------------------------------------------------------------


def sms(rng: random.Random, failure_spelling: str = "un_delivered") -> Script:
    """scheduled? -> sent -> delivered | un_delivered | not_reachable | spam_content, or
    insufficient_credit before anything is sent."""
    if rng.random() < 0.02:
        return [Step(0.0, "scheduled"), Step(rng.uniform(0.5, 2.0), "insufficient_credit")]
    steps = [Step(0.0, "scheduled")] if rng.random() < 0.25 else []
    sent = rng.uniform(0.5, 4.0) if steps else 0.0
    steps.append(Step(sent, "sent"))
    done = sent + rng.uniform(3.0, 150.0)
    roll = rng.random()
    if roll < 0.78:
        steps.append(Step(done, "delivered"))
    elif roll < 0.9:
        steps.append(Step(done, failure_spelling))
    elif roll < 0.97:
        steps.append(Step(done, "not_reachable"))
    else:
        steps.append(Step(done, "spam_content"))
    return steps


def viber(rng: random.Random) -> Script:
    """sent -> delivered | undelivered (Viber's page spells it without the underscore)."""
    done = rng.uniform(3.0, 90.0)
    final = "delivered" if rng.random() < 0.85 else "undelivered"
    return [Step(0.0, "sent"), Step(done, final)]


def whatsapp(rng: random.Random) -> Script:
    """processed -> sent -> delivered -> read?, or processed -> rejected."""
    steps = [Step(0.0, "processed", "Message is processed")]
    sent = rng.uniform(1.0, 5.0)
    if rng.random() < 0.08:
        reason = rng.choice(
            (
                "Recipient is not a valid WhatsApp user",
                "Message failed to send because more than 24 hours have passed",
                "Template does not exist",
            )
        )
        steps.append(Step(sent, "rejected", reason))
        return steps
    steps.append(Step(sent, "sent", "Sent to WhatsApp"))
    delivered = sent + rng.uniform(2.0, 40.0)
    steps.append(Step(delivered, "delivered", "Delivered to the user"))
    if rng.random() < 0.65:
        steps.append(Step(delivered + rng.uniform(5.0, 150.0), "read", "Read by the user"))
    return steps


# -- Infobip (tables from API-NOTES B3/B4) ----------------------------------------------------

INFOBIP_STATUS: dict[str, tuple[int, str, int, str]] = {
    # name: (groupId, groupName, id, description)
    "PENDING_ACCEPTED": (1, "PENDING", 26, "Message sent to next instance"),
    "PENDING_ENROUTE": (1, "PENDING", 7, "Message sent to next instance"),
    "PENDING_WAITING_DELIVERY": (1, "PENDING", 3, "Message sent, waiting for delivery report"),
    "DELIVERED_TO_OPERATOR": (3, "DELIVERED", 2, "Message delivered to operator"),
    "DELIVERED_TO_HANDSET": (3, "DELIVERED", 5, "Message delivered to handset"),
    "UNDELIVERABLE_REJECTED_OPERATOR": (2, "UNDELIVERABLE", 4, "Message rejected by operator"),
    "UNDELIVERABLE_NOT_DELIVERED": (2, "UNDELIVERABLE", 9, "Message sent not delivered"),
    "EXPIRED_EXPIRED": (4, "EXPIRED", 15, "Message expired"),
    "EXPIRED_DLR_UNKNOWN": (4, "EXPIRED", 29, "Message expired, delivery report unknown"),
    "REJECTED_NETWORK": (5, "REJECTED", 6, "Network is forbidden"),
    "REJECTED_NOT_ENOUGH_CREDITS": (5, "REJECTED", 12, "Not enough credits"),
    "REJECTED_DESTINATION_BLOCKLISTED": (5, "REJECTED", 14, "Destination is blocklisted"),
}
INFOBIP_ACTION = {
    "UNDELIVERABLE_NOT_DELIVERED": "Check the destination number and try again later",
    "UNDELIVERABLE_REJECTED_OPERATOR": "Check the destination number",
    "REJECTED_NETWORK": "Contact account manager",
    "REJECTED_NOT_ENOUGH_CREDITS": "Top up your account",
}
INFOBIP_ERROR: dict[str, tuple[int, str, int, str, bool]] = {
    # name: (groupId, groupName, id, description, permanent). The page's sample spells group 0
    # "Ok" (the Python client's enum says OK); the sample wins.
    "NO_ERROR": (0, "Ok", 0, "No Error", False),
    "EC_UNKNOWN_SUBSCRIBER": (1, "HANDSET_ERRORS", 1, "Unknown Subscriber", True),
    "EC_ABSENT_SUBSCRIBER": (1, "HANDSET_ERRORS", 27, "Absent Subscriber", False),
    "EC_NO_RESPONSE": (1, "HANDSET_ERRORS", 502, "No Response", False),
    "EC_VALIDITY_EXPIRED": (2, "USER_ERRORS", 4101, "Validity Expired", False),
    "EC_BLACKLISTED_DESTINATIONADDRESS": (
        2,
        "USER_ERRORS",
        2052,
        "Blacklisted Destination Address",
        True,
    ),
    "EC_OPERATOR_NOT_FOUND": (3, "OPERATOR_ERRORS", 345, "Operator Not Found", True),
}
# The error a status comes with; anything not listed comes with NO_ERROR.
INFOBIP_STATUS_ERROR = {
    "UNDELIVERABLE_NOT_DELIVERED": "EC_ABSENT_SUBSCRIBER",
    "UNDELIVERABLE_REJECTED_OPERATOR": "EC_UNKNOWN_SUBSCRIBER",
    "EXPIRED_EXPIRED": "EC_VALIDITY_EXPIRED",
    "EXPIRED_DLR_UNKNOWN": "EC_NO_RESPONSE",
    "REJECTED_NETWORK": "EC_OPERATOR_NOT_FOUND",
    "REJECTED_DESTINATION_BLOCKLISTED": "EC_BLACKLISTED_DESTINATIONADDRESS",
}
# Statuses that produce a one-time delivery report: every non-pending one, so DELIVERED_TO_OPERATOR
# yields an intermediate report and the final status another.
INFOBIP_REPORTED = frozenset(n for n, v in INFOBIP_STATUS.items() if v[1] != "PENDING")


def infobip(rng: random.Random) -> Script:
    steps = [Step(0.0, "PENDING_ACCEPTED")]
    roll = rng.random()
    if roll < 0.03:  # refused at once, before it is ever routed
        name = rng.choice(("REJECTED_NETWORK", "REJECTED_DESTINATION_BLOCKLISTED"))
        return [*steps, Step(rng.uniform(0.3, 2.0), name)]
    enroute = rng.uniform(0.5, 3.0)
    steps.append(Step(enroute, "PENDING_ENROUTE"))
    operator = enroute + rng.uniform(2.0, 10.0)
    if roll < 0.80:
        steps.append(Step(operator, "DELIVERED_TO_OPERATOR"))
        steps.append(Step(operator + rng.uniform(3.0, 150.0), "DELIVERED_TO_HANDSET"))
    elif roll < 0.88:
        steps.append(Step(operator, "UNDELIVERABLE_NOT_DELIVERED"))
    elif roll < 0.91:
        steps.append(Step(operator, "UNDELIVERABLE_REJECTED_OPERATOR"))
    elif roll < 0.97:  # reached the operator, the handset never confirmed
        steps.append(Step(operator, "DELIVERED_TO_OPERATOR"))
        steps.append(Step(operator + rng.uniform(60.0, 180.0), "EXPIRED_EXPIRED"))
    else:
        steps.append(Step(operator + rng.uniform(30.0, 120.0), "EXPIRED_DLR_UNKNOWN"))
    return steps
