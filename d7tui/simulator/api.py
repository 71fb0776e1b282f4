"""The vendors' HTTP surface: which path is what, auth, validation, faults, and what each answers.

Order of checks follows FastAPI (D7's framework, judging by its 404/422 bodies): an unknown path
or method is refused before auth, auth before validation of the path's request id.
"""

from __future__ import annotations

import asyncio
import collections
import email.utils
import json
import math
import random
import re
import time
import uuid
from collections.abc import Callable
from urllib.parse import unquote

from d7tui.simulator import bodies, hostile
from d7tui.simulator.accounts import AccountRoutes, Accounts, book_infobip
from d7tui.simulator.faults import FaultDice, Faults
from d7tui.simulator.infobip_reads import (
    LOGS_PER_MINUTE,
    InfobipReads,
    Throttle,
    error_reply,
    unauthorized,
)
from d7tui.simulator.sends import SendError, parse_d7_send, parse_infobip_send
from d7tui.simulator.server import Reply, Request
from d7tui.simulator.world import World

_D7_REPORT = re.compile(
    r"^/(?:report/v1/(?P<log>message-log|viber-log)|whatsapp/(?P<wa>v1|v2)/report)/(?P<id>[^/]+)$"
)
_D7_SEND = {
    "/messages/v1/send": "sms",  # any `channel` in the body is treated as sms
    "/viber/v1/send": "viber",
    "/whatsapp/v1/send": "whatsapp",
    "/whatsapp/v2/send": "whatsapp",
}
_INFOBIP = {
    "/sms/1/reports": ("GET", "infobip_reports"),
    "/sms/3/reports": ("GET", "infobip_reports"),
    "/sms/1/logs": ("GET", "infobip_logs"),
    "/sms/3/logs": ("GET", "infobip_logs"),
    "/sms/2/text/advanced": ("POST", "send"),
}

KINDS = ("sms", "whatsapp", "viber", "infobip_reports", "infobip_logs", "send", "balance", "other")
_STATUS_KINDS = frozenset(("sms", "whatsapp", "viber", "infobip_reports", "infobip_logs"))
_PHRASE = {502: "Bad Gateway", 503: "Service Temporarily Unavailable"}
_NGINX = "<html>\r\n<head><title>{0}</title></head>\r\n<body>\r\n<center><h1>{0}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"


def _json(status: int, data: object, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(data, ensure_ascii=False).encode(), headers or {})


def _html(status: int, text: str) -> Reply:
    return Reply(status, text.encode(), content_type="text/html")


_Route = Callable[[Request], Reply]


def _not_found(_: Request) -> Reply:
    return _json(404, {"detail": "Not Found"})  # FastAPI's answer for a path that is not a route


def _proxy_not_found(_: Request) -> Reply:
    # What a proxy or an account without the route answers: not the API's own JSON.
    return _html(404, _NGINX.format("404 Not Found"))


def _not_allowed(_: Request) -> Reply:
    return _json(405, {"detail": "Method Not Allowed"})


class VendorApi:
    def __init__(
        self,
        world: World,
        *,
        token: str,
        infobip_key: str,
        latency_ms: float,
        faults: Faults,
        whatsapp_v2: bool,
        whatsapp_key: str = "messages",
        infobip_v3: bool = True,
        logs_per_minute: int | None = LOGS_PER_MINUTE,
    ) -> None:
        self.world = world
        self.infobip_v3 = infobip_v3  # False: /sms/3/* answer 404, as a proxy without them
        self.infobip = InfobipReads(world, Throttle(logs_per_minute, world.monotonic))
        self.infobip_paths: collections.Counter[str] = collections.Counter()
        self.token = token
        self.infobip_key = infobip_key
        self.latency = latency_ms / 1000
        self.whatsapp_v2 = whatsapp_v2
        self.whatsapp_key = whatsapp_key  # v2's list key; "recipients" per a third-party catalog
        self.counts: dict[str, int] = dict.fromkeys(KINDS, 0)
        self.accounts = Accounts()
        self.account_routes = AccountRoutes(world, self.accounts, token, infobip_key)
        self.set_faults(faults)

    def set_faults(self, faults: Faults) -> None:
        # Swapped whole (one assignment), so a call from another thread is safe.
        self.dice = FaultDice(faults)

    # -- entry ---------------------------------------------------------------------------------

    async def handle(self, req: Request) -> Reply | None:
        if self.latency:
            await asyncio.sleep(self.latency)  # never blocks other connections
        kind, route = self._classify(req)
        self.counts[kind] += 1
        dice = self.dice
        fault = dice.roll() if kind != "other" else None
        if fault == "timeout":
            return None
        if fault == "5xx":
            return self._server_error(req, kind, dice)
        if fault == "429":
            return self._too_many(kind, dice)
        if kind == "infobip_reports" and dice.malformed():
            # A garbled answer from the one-time endpoint is modelled as the server failing
            # before it handed anything out: a report lost in transit is lost to every client,
            # and tests could not tell d7tui's losses from the network's.
            return self._malformed(kind, _json(200, {"results": []}), dice.rng)
        reply = route(req)
        if reply.status == 200 and kind in _STATUS_KINDS:
            if kind != "infobip_reports" and dice.malformed():
                return self._malformed(kind, reply, dice.rng)
            if dice.faults.hostile and dice.chance(0.05):
                reply.body = hostile.corrupt_utf8(reply.body)
        return reply

    def _classify(self, req: Request) -> tuple[str, _Route]:
        routed = self.account_routes.classify(req)  # balances and the v3 send
        if routed is not None and (self.infobip_v3 or not req.path.startswith("/sms/3/")):
            return routed
        path = req.path
        if path.startswith("/sms/"):
            method_kind = _INFOBIP.get(path)
            v3 = path.startswith("/sms/3/")
            if method_kind is None:
                return "other", _not_found
            self.infobip_paths[path] += 1
            if v3 and not self.infobip_v3:
                return "other", _proxy_not_found
            method, kind = method_kind
            if req.method != method:
                return kind, _not_allowed
            if kind == "send":
                return kind, self._infobip_auth(self._infobip_send, v3)
            read = self.infobip.reports if kind == "infobip_reports" else self.infobip.logs
            return kind, self._infobip_auth(lambda r: read(r, v3, self._text()), v3)
        if path in _D7_SEND:
            channel = _D7_SEND[path]
            if req.method != "POST":
                return "send", _not_allowed
            return "send", self._d7_auth(lambda r: self._d7_send(r, channel))
        match = _D7_REPORT.match(req.raw_path)
        if match is None or (match.group("wa") == "v2" and not self.whatsapp_v2):
            return "other", _not_found
        channel = {"message-log": "sms", "viber-log": "viber"}.get(match["log"] or "", "whatsapp")
        if req.method != "GET":
            return channel, _not_allowed
        version = match["wa"]
        request_id = unquote(match["id"])
        return channel, self._d7_auth(lambda r: self._d7_report(channel, request_id, version))

    # -- auth ----------------------------------------------------------------------------------

    def _d7_auth(self, route: _Route) -> _Route:
        def check(req: Request) -> Reply:
            scheme, _, credential = req.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or credential.strip() != self.token:
                return _json(
                    401,
                    {
                        "detail": {
                            "code": "ACCESS_TOKEN_SIGNATURE_VERIFICATION_FAILED",
                            "message": "Authentication failed. Please check your access token.",
                        }
                    },
                )
            return route(req)

        return check

    def _infobip_auth(self, route: _Route, v3: bool) -> _Route:
        def check(req: Request) -> Reply:
            scheme, _, credential = req.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "app" or credential.strip() != self.infobip_key:
                return unauthorized(v3)
            return route(req)

        return check

    # -- faults --------------------------------------------------------------------------------

    def _server_error(self, req: Request, kind: str, dice: FaultDice) -> Reply:
        status = dice.rng.choice((500, 502, 503))
        if status != 500:
            return _html(status, _NGINX.format(f"{status} {_PHRASE[status]}"))  # the proxy
        if kind.startswith("infobip"):
            return error_reply(
                500,
                req.path.startswith("/sms/3/"),
                "GENERAL_ERROR",
                "Something went wrong.",
                code="E500",
                description="Something went wrong.",
                action="Try again later.",
            )
        return Reply(500, b"Internal Server Error", content_type="text/plain; charset=utf-8")

    def _too_many(self, kind: str, dice: FaultDice) -> Reply:
        seconds = dice.faults.retry_after
        if dice.http_date():
            # Whole seconds only in an HTTP date: round up so the wait is never shorter.
            after = email.utils.formatdate(math.ceil(time.time() + seconds), usegmt=True)
        else:
            after = f"{seconds:g}"
        if kind.startswith("infobip"):
            body: object = bodies.infobip_too_many()
        else:
            body = {"detail": {"code": "TOO_MANY_REQUESTS", "message": "Too many requests."}}
        return _json(429, body, {"retry-after": after})

    def _malformed(self, kind: str, reply: Reply, rng: random.Random) -> Reply:
        # Every variant is broken at the envelope (no usable list), so a client can only refuse
        # the whole body; wrong-typed items inside a good list are a different test.
        key = "results" if kind.startswith("infobip") else "messages"
        choice = rng.randrange(6)
        if choice == 0:
            return Reply(200, reply.body[: max(1, len(reply.body) // 2)])  # truncated JSON
        if choice == 1:
            return _html(200, "<html><body><h1>Service temporarily unavailable</h1></body></html>")
        if choice == 2:
            return _json(200, {key: "temporarily unavailable"})  # the list is a string
        if choice == 3:
            return Reply(200, b"")
        if choice == 4:
            return Reply(200, b"null")
        return _json(200, [])

    # -- D7 ------------------------------------------------------------------------------------

    def _text(self) -> bodies.Text:
        dice = self.dice
        return bodies.Text(dice.rng) if dice.faults.hostile else bodies.PLAIN

    def _d7_report(self, channel: str, request_id: str, wa_version: str | None) -> Reply:
        try:
            canonical = str(uuid.UUID(request_id))
        except ValueError:
            error = bodies.validation_error(
                ["path", "request_id"], "value is not a valid uuid", "type_error.uuid"
            )
            return _json(422, error)
        with self.world.lock:
            found = self.world.find_request(canonical, channel)
            if found is None:
                return _json(404, bodies.d7_not_found(channel))
            list_key = self.whatsapp_key if wa_version == "v2" else "messages"
            body = bodies.d7_report(found, self._text(), list_key)
        return _json(200, body)

    def _d7_send(self, req: Request, channel: str) -> Reply:
        try:
            recipients, extras, request_extra = parse_d7_send(channel, req.body)
        except SendError as exc:
            return _json(422, bodies.validation_error(exc.loc, exc.msg, exc.kind))
        # An account that cannot pay still gets a request id: its messages fail with the
        # status D7 documents for it.
        paid = self.accounts.charge_d7(channel, extras)
        script = None if paid else [(0.0, "insufficient_credit")]
        rid = self.world.create_request(
            channel, recipients, script, extra=extras, request_extra=request_extra
        )
        created = bodies.d7_time(self.world.now())
        return _json(200, {"request_id": rid, "status": "accepted", "created_at": created})

    # -- Infobip -------------------------------------------------------------------------------

    def _infobip_send(self, req: Request) -> Reply:
        try:
            bulk_id, batches = parse_infobip_send(req.body)
        except SendError:
            return _json(400, bodies.infobip_request_error("BAD_REQUEST", "Bad request"))
        result = book_infobip(self.world, self.accounts, bulk_id, batches)
        if isinstance(result, str):
            return _json(400, bodies.infobip_request_error("BAD_REQUEST", result))
        bulk, booked = result
        out = [
            {"to": b.to, "status": bodies.infobip_status(b.status), "messageId": b.message_id}
            for b in booked
        ]
        return _json(200, {"bulkId": bulk, "messages": out})
