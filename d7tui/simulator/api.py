"""The vendors' HTTP surface: paths, auth, and bodies in the shape (and quirks) of their pages."""

from __future__ import annotations

import asyncio
import email.utils
import json
import re
import time
import uuid
from datetime import UTC, datetime

from d7tui.simulator.faults import FaultDice, Faults
from d7tui.simulator.server import Reply, Request
from d7tui.simulator.world import Message, SimRequest, World

_D7_REPORT = re.compile(
    r"^/(?:report/v1/(?P<log>message-log|viber-log)|whatsapp/(?P<wa>v1|v2)/report)/(?P<id>[^/]*)$"
)
_NOT_EXISTS = {
    "sms": ("MESSAGE_LOG_NOT_EXISTS", "Given message request id not exists in the system."),
    "viber": (
        "VIBER_MESSAGE_LOG_NOT_EXISTS",
        "Given viber message request id not exists in the system.",
    ),
    "whatsapp": (
        "WHATSAPP_LOG_NOT_EXISTS",
        "Given whatsapp message request id not exists in the system.",
    ),
}
_SEND = {
    "/messages/v1/send": "sms",
    "/viber/v1/send": "viber",
    "/whatsapp/v1/send": "whatsapp",
    "/whatsapp/v2/send": "whatsapp",
}


def _json(status: int, data: object, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(data, ensure_ascii=False).encode(), headers or {})


def _not_found_route() -> Reply:
    return _json(404, {"detail": "Not Found"})  # FastAPI's answer for a route that does not exist


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
    ) -> None:
        self.world = world
        self.token = token
        self.infobip_key = infobip_key
        self.latency = latency_ms / 1000
        self.dice = FaultDice(faults)
        self.whatsapp_v2 = whatsapp_v2
        self.whatsapp_key = whatsapp_key
        self.counts: dict[str, int] = {}

    def set_faults(self, faults: Faults) -> None:
        self.dice = FaultDice(faults)

    # -- entry ---------------------------------------------------------------------------------

    async def handle(self, req: Request) -> Reply | None:
        if self.latency:
            await asyncio.sleep(self.latency)
        kind = self._kind(req.path)
        self.counts[kind] = self.counts.get(kind, 0) + 1
        fault = self.dice.roll() if kind != "other" else None
        if fault == "timeout":
            return None
        if fault == "5xx":
            status = self.dice.rng.choice((500, 502, 503))
            if status == 502:
                return Reply(
                    502,
                    b"<html><body><h1>502 Bad Gateway</h1></body></html>",
                    content_type="text/html",
                )
            return _json(status, {"detail": "Internal Server Error"})
        if fault == "429":
            return self._too_many(kind)
        reply = self._route(req, kind)
        if reply.status == 200 and kind != "send":
            if self.dice.malformed():
                return self._malformed(reply)
            if self.dice.faults.hostile and self.dice.rng.random() < 0.05:
                # Invalid UTF-8 inside a string: the body is no longer text at all.
                reply.body = reply.body.replace(b'"recipient": "', b'"recipient": "\xff\xfe', 1)
        return reply

    @staticmethod
    def _kind(path: str) -> str:
        if path.startswith("/report/v1/message-log/"):
            return "sms"
        if path.startswith("/report/v1/viber-log/"):
            return "viber"
        if path.startswith("/whatsapp/") and "/report/" in path:
            return "whatsapp"
        if path.startswith("/sms/1/"):
            return "infobip"
        if path in _SEND or path == "/sms/2/text/advanced":
            return "send"
        return "other"

    def _too_many(self, kind: str) -> Reply:
        f = self.dice.faults
        if f.retry_after_http_date:
            after = email.utils.formatdate(time.time() + f.retry_after, usegmt=True)
        else:
            after = f"{f.retry_after:g}"
        if kind == "infobip":
            body: object = {
                "errorCode": "E429",
                "description": "Too many requests",
                "action": "Slow down and retry later",
                "violations": [],
                "resources": [],
            }
        else:
            body = {"detail": {"code": "TOO_MANY_REQUESTS", "message": "Rate limit exceeded"}}
        return _json(429, body, {"retry-after": after})

    def _malformed(self, reply: Reply) -> Reply:
        choice = self.dice.rng.randrange(4)
        if choice == 0:
            return Reply(200, reply.body[: max(1, len(reply.body) // 2)])  # truncated JSON
        if choice == 1:
            return Reply(
                200, b"<html><body>Service Unavailable</body></html>", content_type="text/html"
            )
        if choice == 2:
            return _json(200, {"messages": "temporarily unavailable", "results": "n/a"})
        return _json(200, [])

    # -- routes --------------------------------------------------------------------------------

    def _route(self, req: Request, kind: str) -> Reply:
        if req.path.startswith("/sms/"):
            if req.headers.get("authorization") != f"App {self.infobip_key}":
                return _json(
                    401,
                    {
                        "requestError": {
                            "serviceException": {
                                "messageId": "UNAUTHORIZED",
                                "text": "Invalid login details",
                            }
                        }
                    },
                )
            if req.method == "GET" and req.path == "/sms/1/reports":
                return self._infobip_list(req, one_time=True)
            if req.method == "GET" and req.path == "/sms/1/logs":
                return self._infobip_list(req, one_time=False)
            if req.method == "POST" and req.path == "/sms/2/text/advanced":
                return self._infobip_send(req)
            return _not_found_route()
        match = _D7_REPORT.match(req.raw_path)
        is_send = req.path in _SEND
        if not (match or is_send):
            return _not_found_route()
        if match and match.group("wa") == "v2" and not self.whatsapp_v2:
            return _not_found_route()
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return _json(
                401,
                {
                    "detail": {
                        "code": "ACCESS_TOKEN_SIGNATURE_VERIFICATION_FAILED",
                        "message": "Authentication failed. Please check your access token.",
                    }
                },
            )
        if is_send:
            return (
                self._d7_send(req, _SEND[req.path]) if req.method == "POST" else _not_found_route()
            )
        if req.method != "GET":
            return _json(405, {"detail": "Method Not Allowed"})
        assert match is not None
        channel = {"message-log": "sms", "viber-log": "viber"}.get(
            match.group("log") or "", "whatsapp"
        )
        return self._d7_report(channel, req.path.rsplit("/", 1)[1])

    def _d7_report(self, channel: str, request_id: str) -> Reply:
        try:
            uuid.UUID(request_id)
        except ValueError:
            return _json(
                422,
                {
                    "detail": [
                        {
                            "loc": ["path", "request_id"],
                            "msg": "value is not a valid uuid",
                            "type": "type_error.uuid",
                        }
                    ]
                },
            )
        with self.world.lock:
            self.world.catch_up()
            found = self.world.requests.get(request_id)
            if found is None or found.channel != channel:
                code, message = _NOT_EXISTS[channel]
                return _json(
                    404, {"detail": {"code": code, "message": message + " Please Try Again!"}}
                )
            body = self._d7_body(found)
        return _json(200, body)

    def _text(self, value: str) -> str:
        return self.dice.hostile_text() + value if self.dice.faults.hostile else value

    def _d7_body(self, request: SimRequest) -> dict[str, object]:
        if request.channel == "whatsapp":
            items = [self._whatsapp_item(m) for m in request.messages]
            return {
                "request_id": request.request_id,
                self.whatsapp_key: items,
                "request_stage": "processed",
                "schedule_time": None,
            }
        viber = request.channel == "viber"
        items = []
        for m in request.messages:
            parts = int(m.extra.get("parts", 1))  # type: ignore[call-overload]
            items.append(
                {
                    "msg_id": m.msg_id,
                    "country": m.extra.get("country", "AE"),
                    "recipient": self._text(m.recipient),
                    "status": m.status.status,
                    ("number_of_viber_message" if viber else "number_of_sms"): parts,
                    ("viber_cost" if viber else "sms_cost"): round(0.0004 * parts, 6),
                    "schedule_time": m.extra.get("schedule_time"),
                }
            )
        # The vendor's own Viber sample says "channel": "sms"; so do we.
        return {
            "request_id": request.request_id,
            "total_recipients": len(items),
            "channel": "sms",
            "messages": items,
        }

    def _whatsapp_item(self, m: Message) -> dict[str, object]:
        return {
            "msg_id": m.msg_id,
            "originator": self._text(str(m.extra.get("originator", "9190615xxxx"))),
            "recipient": m.recipient,
            "reference": {
                "cust_ref": self._text(str(m.extra.get("cust_ref", "customerRef"))),
                "message_tag1": m.extra.get("message_tag1", "campaign-nov"),
                "message_tag2": "",
                "message_tag3": "",
                "message_tag4": "",
                "message_tag5": "",
                "conversation_id": m.extra.get("conversation_id", ""),
            },
            "conversation_type": m.extra.get("conversation_type", "marketing"),
            "message_type": m.extra.get("message_type", "TEMPLATE"),
            "template_id": m.extra.get("template_id", "marketing"),
            "waConvId": m.msg_id.replace("-", ""),
            "status": m.status.status,
            "reason": self._text(m.status.reason or ""),
        }

    def _d7_send(self, req: Request, channel: str) -> Reply:
        try:
            data = json.loads(req.body)
            messages = data["messages"]
            recipients: list[str] = []
            extras: list[dict[str, object]] = []
            for message in messages:
                content = message.get("content")
                for r in message["recipients"]:
                    if isinstance(r, dict):
                        r = r["recipient"]
                    if not isinstance(r, str):
                        raise TypeError
                    extra: dict[str, object] = {}
                    if channel == "whatsapp":
                        extra["originator"] = message.get("originator", "")
                        if isinstance(content, dict):
                            extra["message_type"] = content.get("message_type", "TEXT")
                            template = content.get("template") or {}
                            if isinstance(template, dict) and template.get("template_id"):
                                extra["template_id"] = template["template_id"]
                    recipients.append(r)
                    extras.append(extra)
            if not recipients:
                raise ValueError
        except (ValueError, KeyError, TypeError, AttributeError):
            return _json(
                422,
                {
                    "detail": [
                        {
                            "loc": ["body", "messages"],
                            "msg": "field required",
                            "type": "value_error.missing",
                        }
                    ]
                },
            )
        rid = self.world.create_request(channel, recipients, extra=extras)
        created = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return _json(200, {"request_id": rid, "status": "accepted", "created_at": created})

    def _infobip_list(self, req: Request, *, one_time: bool) -> Reply:
        def first(name: str) -> str | None:
            values = req.query.get(name)
            return values[0] if values else None

        raw_limit = first("limit")
        try:
            limit = 50 if raw_limit in (None, "", "null") else int(raw_limit)  # type: ignore[arg-type]
            if not 1 <= limit <= 1000:
                raise ValueError
        except ValueError:
            return _json(
                400,
                {
                    "requestError": {
                        "serviceException": {"messageId": "BAD_REQUEST", "text": "Bad request"}
                    }
                },
            )
        bulk, message = first("bulkId"), first("messageId")
        if one_time:
            results = self.world.take_reports(bulk, message, limit)
        else:
            results = self.world.logs(bulk, message, limit)
        if self.dice.faults.hostile:
            for item in results:
                item["callbackData"] = self._text(str(item.get("callbackData")))
                item["from"] = self._text(str(item.get("from")))
        return _json(200, {"results": results})

    def _infobip_send(self, req: Request) -> Reply:
        try:
            data = json.loads(req.body)
            message = data["messages"][0]
            to = [d["to"] for d in message["destinations"]]
            sender = str(message.get("from", "InfoSMS"))
            text = str(message.get("text", ""))
        except (ValueError, KeyError, TypeError, IndexError):
            return _json(
                400,
                {
                    "requestError": {
                        "serviceException": {"messageId": "BAD_REQUEST", "text": "Bad request"}
                    }
                },
            )
        bulk, ids = self.world.create_infobip_bulk(to, sender=sender, text=text)
        status = {
            "groupId": 1,
            "groupName": "PENDING",
            "id": 26,
            "name": "PENDING_ACCEPTED",
            "description": "Message sent to next instance",
        }
        return _json(
            200,
            {
                "bulkId": bulk,
                "messages": [
                    {"to": t, "status": status, "messageId": mid}
                    for t, mid in zip(to, ids, strict=True)
                ],
            },
        )
