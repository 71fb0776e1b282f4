"""How simulated messages move by themselves: a script of (offset seconds, status, reason) steps,
drawn from a seeded random generator so a seed always gives the same story."""

from __future__ import annotations

import random
from typing import NamedTuple


class Step(NamedTuple):
    offset: float  # seconds after the request was created
    status: str
    reason: str | None = None


Script = list[Step]


def sms(rng: random.Random, failure_spelling: str = "un_delivered") -> Script:
    steps = [Step(0.0, "scheduled")] if rng.random() < 0.2 else []
    sent = rng.uniform(0.5, 4.0) if steps else 0.0
    steps.append(Step(sent, "sent"))
    done = sent + rng.uniform(3.0, 90.0)
    roll = rng.random()
    if roll < 0.78:
        steps.append(Step(done, "delivered"))
    elif roll < 0.9:
        steps.append(Step(done, failure_spelling))
    elif roll < 0.96:
        steps.append(Step(done, "not_reachable"))
    else:
        steps.append(Step(done, "spam_content"))
    return steps


def viber(rng: random.Random) -> Script:
    done = rng.uniform(3.0, 60.0)
    final = "delivered" if rng.random() < 0.85 else "undelivered"
    return [Step(0.0, "sent"), Step(done, final)]


def whatsapp(rng: random.Random) -> Script:
    steps = [Step(0.0, "processed", "Message is processed")]
    sent = rng.uniform(1.0, 5.0)
    if rng.random() < 0.08:
        steps.append(Step(sent, "rejected", "Rejected by the WhatsApp business platform"))
        return steps
    steps.append(Step(sent, "sent", "Sent to WhatsApp"))
    delivered = sent + rng.uniform(2.0, 30.0)
    steps.append(Step(delivered, "delivered", "Delivered to the handset"))
    if rng.random() < 0.65:
        steps.append(Step(delivered + rng.uniform(5.0, 120.0), "read", "Read by the user"))
    return steps


# Infobip status and error objects, from the vendor's tables (API-NOTES B3/B4).
INFOBIP_STATUS: dict[str, tuple[int, str, int, str]] = {
    # name: (groupId, groupName, id, description)
    "PENDING_ACCEPTED": (1, "PENDING", 26, "Message sent to next instance"),
    "PENDING_ENROUTE": (1, "PENDING", 7, "Message sent to next instance"),
    "PENDING_WAITING_DELIVERY": (1, "PENDING", 3, "Message sent, waiting for delivery report"),
    "DELIVERED_TO_OPERATOR": (3, "DELIVERED", 2, "Message delivered to operator"),
    "DELIVERED_TO_HANDSET": (3, "DELIVERED", 5, "Message delivered to handset"),
    "UNDELIVERABLE_NOT_DELIVERED": (2, "UNDELIVERABLE", 9, "Message sent not delivered"),
    "UNDELIVERABLE_REJECTED_OPERATOR": (2, "UNDELIVERABLE", 4, "Message rejected by operator"),
    "EXPIRED_EXPIRED": (4, "EXPIRED", 15, "Message expired"),
    "REJECTED_NETWORK": (5, "REJECTED", 6, "Network is forbidden"),
    "REJECTED_NOT_ENOUGH_CREDITS": (5, "REJECTED", 12, "Not enough credits"),
}
INFOBIP_ACTION = {
    "UNDELIVERABLE_NOT_DELIVERED": "Check the destination number and try again later",
    "REJECTED_NETWORK": "Contact account manager",
    "REJECTED_NOT_ENOUGH_CREDITS": "Top up your account",
}
INFOBIP_ERROR: dict[str, tuple[int, str, int, str, bool]] = {
    # name: (groupId, groupName, id, description, permanent)
    "NO_ERROR": (0, "OK", 0, "No Error", False),
    "EC_ABSENT_SUBSCRIBER": (1, "HANDSET_ERRORS", 27, "Absent Subscriber", False),
    "EC_UNKNOWN_SUBSCRIBER": (1, "HANDSET_ERRORS", 1, "Unknown Subscriber", True),
    "EC_VALIDITY_EXPIRED": (2, "USER_ERRORS", 4101, "Validity Expired", False),
    "EC_OPERATOR_NOT_FOUND": (3, "OPERATOR_ERRORS", 345, "Operator not found", True),
}
# Which error a final status comes with.
INFOBIP_STATUS_ERROR = {
    "UNDELIVERABLE_NOT_DELIVERED": "EC_ABSENT_SUBSCRIBER",
    "UNDELIVERABLE_REJECTED_OPERATOR": "EC_UNKNOWN_SUBSCRIBER",
    "EXPIRED_EXPIRED": "EC_VALIDITY_EXPIRED",
    "REJECTED_NETWORK": "EC_OPERATOR_NOT_FOUND",
    "REJECTED_NOT_ENOUGH_CREDITS": "NO_ERROR",
}
# Statuses that produce a one-time delivery report (pending ones do not).
INFOBIP_REPORTED = {n for n, v in INFOBIP_STATUS.items() if v[1] != "PENDING"}


def infobip(rng: random.Random) -> Script:
    steps = [Step(0.0, "PENDING_ACCEPTED"), Step(rng.uniform(0.5, 3.0), "PENDING_ENROUTE")]
    operator = steps[-1].offset + rng.uniform(2.0, 10.0)
    roll = rng.random()
    if roll < 0.8:
        steps.append(Step(operator, "DELIVERED_TO_OPERATOR"))
        steps.append(Step(operator + rng.uniform(3.0, 60.0), "DELIVERED_TO_HANDSET"))
    elif roll < 0.9:
        steps.append(Step(operator, "UNDELIVERABLE_NOT_DELIVERED"))
    elif roll < 0.96:
        steps.append(Step(operator + rng.uniform(30, 120), "EXPIRED_EXPIRED"))
    else:
        steps.append(Step(operator, "REJECTED_NETWORK"))
    return steps


def final_d7(status: str) -> bool:
    return status in {
        "delivered",
        "read",
        "undelivered",
        "un_delivered",
        "not_reachable",
        "spam_content",
        "insufficient_credit",
        "rejected",
    }
