"""The demo's seeded traffic: a handful of requests on every channel whose statuses visibly move
within the first seconds, so a newcomer running `d7tui --demo` sees transitions at once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from d7tui.simulator.lifecycles import Step

if TYPE_CHECKING:
    from d7tui.simulator import Simulator


def seed_demo(sim: Simulator) -> list[tuple[str, str, str, str]]:
    out: list[tuple[str, str, str, str]] = []

    def d7(
        channel: str,
        label: str,
        recipients: list[str],
        scripts: list[list[Step]],
        extra: list[dict[str, object]] | None = None,
    ) -> None:
        rid = sim.create_request(channel, recipients, scripts, extra)
        out.append((rid, channel, "request_id", label))

    d7(
        "sms",
        "OTP complaint #4711",
        ["+971501234526", "+971509876543"],
        [
            [Step(0, "sent"), Step(4, "delivered")],
            [Step(0, "sent"), Step(7, "un_delivered")],
        ],
        [{"country": "AE"}, {"country": "AE"}],
    )
    d7(
        "sms",
        "Black Friday promo",
        ["+447700900123", "+447700900456", "+447700900789"],
        [
            [Step(0, "scheduled"), Step(3, "sent"), Step(12, "delivered")],
            [Step(0, "scheduled"), Step(3, "sent"), Step(25, "delivered")],
            [Step(0, "scheduled"), Step(3, "sent"), Step(40, "not_reachable")],
        ],
        [{"country": "GB"}] * 3,
    )
    d7(
        "whatsapp",
        "Order shipped (template)",
        ["+919061700011"],
        [
            [
                Step(0, "processed", "Message is processed"),
                Step(2, "sent", "Sent to WhatsApp"),
                Step(6, "delivered", "Delivered to the handset"),
                Step(15, "read", "Read by the user"),
            ],
        ],
        [
            {
                "originator": "+919061500000",
                "template_id": "order_shipped",
                "conversation_type": "utility",
                "cust_ref": "ORD-20931",
            }
        ],
    )
    d7(
        "whatsapp",
        "Support reply",
        ["+919061700022", "+919061700033"],
        [
            [Step(0, "processed"), Step(3, "sent"), Step(9, "delivered")],
            [Step(0, "processed"), Step(5, "rejected", "Recipient is not a valid WhatsApp user")],
        ],
        [{"message_type": "TEXT", "conversation_type": "service"}] * 2,
    )
    d7(
        "viber",
        "Viber reminder",
        ["+380501234567", "+380507654321"],
        [
            [Step(0, "sent"), Step(5, "delivered")],
            [Step(0, "sent"), Step(20, "undelivered")],
        ],
        [{"country": "UA"}] * 2,
    )
    bulk, _ = sim.create_infobip_bulk(
        ["41793026727", "41793026834", "41793026999"],
        [
            [
                Step(0, "PENDING_ACCEPTED"),
                Step(2, "DELIVERED_TO_OPERATOR"),
                Step(8, "DELIVERED_TO_HANDSET"),
            ],
            [
                Step(0, "PENDING_ACCEPTED"),
                Step(3, "DELIVERED_TO_OPERATOR"),
                Step(30, "DELIVERED_TO_HANDSET"),
            ],
            [Step(0, "PENDING_ACCEPTED"), Step(10, "UNDELIVERABLE_NOT_DELIVERED")],
        ],
        bulk_id="BULK-DEMO-2026-11",
    )
    out.append((bulk, "infobip", "bulkId", "Infobip campaign"))
    _, ids = sim.create_infobip_bulk(
        ["4915112345678"],
        [
            [Step(0, "PENDING_ACCEPTED"), Step(60, "EXPIRED_EXPIRED")],
        ],
        bulk_id="BULK-DEMO-SINGLE",
    )
    out.append((ids[0], "infobip", "messageId", "Infobip single message"))
    return out
