"""The simulated accounts' money: each vendor's balance, what a send costs, and what happens
when the account cannot pay; with the routes that show it and spend it:

- D7 `GET /messages/v1/balance` → `{"balance": 99.9999999}` (no currency: D7's RapidAPI listing)
- Infobip `GET /account/1/balance` → `{"balance": 47.79, "currency": "EUR"}`
- Infobip `POST /sms/3/messages`, the send of Infobip's current clients (shape: their own tests)

A D7 send the account cannot pay is accepted and its messages end `insufficient_credit` (the
status D7 documents); an Infobip one is REJECTED_NOT_ENOUGH_CREDITS at once, in the send's answer
and in its report. Nothing is charged for those.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass

from d7tui.simulator import bodies
from d7tui.simulator.infobip_reads import error_reply, unauthorized
from d7tui.simulator.sends import InfobipBatch, SendError, parse_infobip_v3_send
from d7tui.simulator.server import Reply, Request
from d7tui.simulator.world import World

D7_PRICE = 0.0004  # a message part, as the reports' sms_cost / viber_cost say
INFOBIP_PRICE = 0.01  # a message part, as the reports' pricePerMessage says
INFOBIP_CURRENCY = "EUR"
NOT_ENOUGH = "REJECTED_NOT_ENOUGH_CREDITS"

D7_BALANCE = "/messages/v1/balance"
INFOBIP_BALANCE = "/account/1/balance"
INFOBIP_SEND_V3 = "/sms/3/messages"


@dataclass
class Accounts:
    d7: float = 100.0
    infobip: float = 50.0

    def __post_init__(self) -> None:
        self.lock = threading.Lock()

    def charge_d7(self, channel: str, extras: list[dict[str, object]]) -> bool:
        """Charge a D7 send (WhatsApp's report shows no cost: free here); False if it cannot
        be paid, and then nothing is charged."""
        if channel == "whatsapp":
            return True
        cost = sum(D7_PRICE * int(extra.get("parts", 1)) for extra in extras)  # type: ignore[call-overload]
        return self._charge("d7", cost)

    def charge_infobip(self, parts: int) -> bool:
        return self._charge("infobip", INFOBIP_PRICE * parts)

    def _charge(self, vendor: str, cost: float) -> bool:
        with self.lock:
            balance = getattr(self, vendor)
            if balance < cost:
                return False
            setattr(self, vendor, round(balance - cost, 7))
            return True


@dataclass(frozen=True, slots=True)
class Booked:
    """One Infobip message as a send created it."""

    to: str
    message_id: str
    status: str  # its first status
    parts: int


def book_infobip(
    world: World, accounts: Accounts, bulk_id: str | None, batches: list[InfobipBatch]
) -> tuple[str, list[Booked]] | str:
    """Create the messages of an Infobip send (v2 or v3 body), charging each; (bulkId, what was
    booked), or why the whole send is refused."""
    booked: list[Booked] = []
    with world.lock:
        taken = [mid for batch in batches for mid in batch.message_ids if mid]
        if len(set(taken)) < len(taken) or set(taken) & world.infobip.keys():
            return "Duplicate messageId"
        for batch in batches:
            for to, chosen in zip(batch.to, batch.message_ids, strict=True):
                paid = accounts.charge_infobip(batch.parts)
                script = None if paid else [(0.0, NOT_ENOUGH)]
                bulk_id, (mid,) = world.create_infobip_bulk(
                    [to],
                    script,
                    bulk_id=bulk_id,
                    sender=batch.sender,
                    text=batch.text,
                    callback_data=[batch.callback_data],
                    message_ids=[chosen],
                )
                world.infobip[mid].extra["parts"] = batch.parts
                booked.append(
                    Booked(to, mid, "PENDING_ACCEPTED" if paid else NOT_ENOUGH, batch.parts)
                )
    assert bulk_id is not None
    return bulk_id, booked


_Route = Callable[[Request], Reply]


def _json(status: int, data: object) -> Reply:
    return Reply(status, json.dumps(data, ensure_ascii=False).encode())


def _bad_request(problem: str) -> Reply:
    return error_reply(
        400,
        True,
        "BAD_REQUEST",
        problem,
        code="E400",
        description=problem,
        action="Check the syntax, violations and adjust the request.",
    )


class AccountRoutes:
    """The balance and v3 send routes, beside the vendor API (which asks `classify` first)."""

    def __init__(self, world: World, accounts: Accounts, token: str, infobip_key: str) -> None:
        self.world = world
        self.accounts = accounts
        self.token = token
        self.infobip_key = infobip_key

    def classify(self, req: Request) -> tuple[str, _Route] | None:
        """(kind, route) for the paths this module serves, else None."""
        routes: dict[str, tuple[str, str, _Route]] = {
            D7_BALANCE: ("GET", "balance", self._d7_balance),
            INFOBIP_BALANCE: ("GET", "balance", self._infobip_balance),
            INFOBIP_SEND_V3: ("POST", "send", self._infobip_send),
        }
        found = routes.get(req.path)
        if found is None:
            return None
        method, kind, route = found
        if req.method != method:
            return kind, lambda _: _json(405, {"detail": "Method Not Allowed"})
        return kind, self._authorised(req.path == D7_BALANCE, route)

    def _authorised(self, d7: bool, route: _Route) -> _Route:
        scheme, secret = ("bearer", self.token) if d7 else ("app", self.infobip_key)

        def check(req: Request) -> Reply:
            given, _, credential = req.headers.get("authorization", "").partition(" ")
            if given.lower() == scheme and credential.strip() == secret:
                return route(req)
            if d7:
                detail = {
                    "code": "ACCESS_TOKEN_SIGNATURE_VERIFICATION_FAILED",
                    "message": "Authentication failed. Please check your access token.",
                }
                return _json(401, {"detail": detail})
            return unauthorized(req.path.startswith("/sms/3/"))

        return check

    def _d7_balance(self, _: Request) -> Reply:
        return _json(200, {"balance": self.accounts.d7})

    def _infobip_balance(self, _: Request) -> Reply:
        return _json(200, {"balance": self.accounts.infobip, "currency": INFOBIP_CURRENCY})

    def _infobip_send(self, req: Request) -> Reply:
        try:
            bulk_id, batches = parse_infobip_v3_send(req.body)
        except SendError as exc:
            return _bad_request(exc.msg)
        result = book_infobip(self.world, self.accounts, bulk_id, batches)
        if isinstance(result, str):
            return _bad_request(result)
        bulk, booked = result
        messages = [
            {
                "messageId": b.message_id,
                "status": bodies.infobip_status(b.status),
                "destination": b.to,
                "details": {"messageCount": b.parts},
            }
            for b in booked
        ]
        return _json(200, {"bulkId": bulk, "messages": messages})
