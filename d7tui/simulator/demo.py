"""The demo's seeded traffic: requests on every channel whose statuses visibly move within the
first seconds and keep moving for about three minutes, so a newcomer running `d7tui --demo` sees
transitions at once (including a failure, a WhatsApp message that is read, Infobip's intermediate
DELIVERED_TO_OPERATOR, and an expiry at the end)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from d7tui.simulator.lifecycles import Step

if TYPE_CHECKING:
    from d7tui.simulator import DemoTarget, Simulator

S = Step  # short, so the scripts below read as timelines


def seed_demo(sim: Simulator) -> list[DemoTarget]:
    out: list[DemoTarget] = []

    def d7(
        channel: str,
        label: str,
        recipients: list[str],
        scripts: list[list[Step]],
        extra: list[dict[str, object]] | None = None,
    ) -> None:
        rid = sim.create_request(channel, recipients, scripts, extra)
        out.append((rid, channel, "request_id", label))

    def infobip(
        label: str, bulk: str, to: list[str], scripts: list[list[Step]], by: str = "bulkId"
    ) -> None:
        _, ids = sim.create_infobip_bulk(to, scripts, bulk_id=bulk, sender="d7tui-demo")
        out.append((bulk if by == "bulkId" else ids[0], "infobip", by, label))

    d7(
        "sms",
        "OTP login",
        ["+971501234526", "+971509876543"],
        [[S(0, "sent"), S(4, "delivered")], [S(0, "sent"), S(7, "un_delivered")]],
    )
    d7(
        "sms",
        "Black Friday promo",
        ["+447700900123", "+447700900456", "+447700900789"],
        [
            [S(0, "scheduled"), S(3, "sent"), S(12, "delivered")],
            [S(0, "scheduled"), S(3, "sent"), S(45, "delivered")],
            [S(0, "scheduled"), S(3, "sent"), S(95, "not_reachable")],
        ],
    )
    d7(
        "sms",
        "Appointment reminder",
        ["+919061700044"],
        [[S(0, "scheduled"), S(20, "sent"), S(150, "delivered")]],
    )
    d7(
        "whatsapp",
        "Order shipped (template)",
        ["+919061700011"],
        [
            [
                S(0, "processed", "Message is processed"),
                S(2, "sent", "Sent to WhatsApp"),
                S(6, "delivered", "Delivered to the user"),
                S(15, "read", "Read by the user"),
            ]
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
            [S(0, "processed"), S(3, "sent"), S(9, "delivered"), S(120, "read")],
            [S(0, "processed"), S(5, "rejected", "Recipient is not a valid WhatsApp user")],
        ],
        [{"originator": "+919061500000", "message_type": "TEXT"}] * 2,
    )
    d7(
        "viber",
        "Viber reminder",
        ["+380501234567", "+380507654321"],
        [[S(0, "sent"), S(5, "delivered")], [S(0, "sent"), S(20, "undelivered")]],
    )
    d7("viber", "Viber promo", ["+385911234567"], [[S(0, "sent"), S(80, "delivered")]])

    accepted = S(0, "PENDING_ACCEPTED")
    infobip(
        "Infobip campaign",
        "BULK-DEMO-CAMPAIGN",
        ["41793026727", "41793026834", "41793026999"],
        [
            [accepted, S(2, "DELIVERED_TO_OPERATOR"), S(8, "DELIVERED_TO_HANDSET")],
            [
                accepted,
                S(1, "PENDING_ENROUTE"),
                S(3, "DELIVERED_TO_OPERATOR"),
                S(30, "DELIVERED_TO_HANDSET"),
            ],
            [accepted, S(1, "PENDING_ENROUTE"), S(10, "UNDELIVERABLE_NOT_DELIVERED")],
        ],
    )
    infobip(
        "Infobip alerts",
        "BULK-DEMO-ALERTS",
        ["4915112345678", "4915187654321"],
        [
            [
                accepted,
                S(2, "PENDING_ENROUTE"),
                S(5, "DELIVERED_TO_OPERATOR"),
                S(60, "DELIVERED_TO_HANDSET"),
            ],
            [accepted, S(4, "REJECTED_NETWORK")],
        ],
    )
    infobip(
        "Infobip single message",
        "BULK-DEMO-SINGLE",
        ["4915199999999"],
        [
            [
                accepted,
                S(3, "PENDING_ENROUTE"),
                S(6, "DELIVERED_TO_OPERATOR"),
                S(180, "EXPIRED_EXPIRED"),
            ]
        ],
        by="messageId",
    )
    return out
