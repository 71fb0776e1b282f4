"""Infobip's two read endpoints, in both versions: one-time delivery reports and re-readable logs.

What the simulator holds to (API-NOTES B1, B5, B6; the vendor's own client 4.0.0 for v1 and
6.0.0 for v3):
- v1 (`/sms/1/...`) and v3 (`/sms/3/...`) answer the same messages in their own spelling
  (bodies.py); v3 errors come in the newer `errorCode` format, v1 errors as `requestError`.
- `bulkId` and `messageId` take lists: repeated, comma-separated, or both; a list longer than
  2,048 characters is refused (400).
- Logs: the latest `limit` (default 50, at most 1,000) sent in the last 48 hours, newest first;
  `sentSince`/`sentUntil` narrow the window (how v1 pages); v3 pages with `useCursor=true` and
  `cursor`, answering `cursor.nextCursor` while more remain (left out on the last page, as
  Infobip leaves out nulls).
- Logs are throttled at 120 requests a minute (v1 and v3 together): a 429 with `E429` and no
  Retry-After (the vendor's page says to back off exponentially).
"""

from __future__ import annotations

import base64
import collections
import json
from collections.abc import Callable
from datetime import datetime

from d7tui.simulator import bodies
from d7tui.simulator.server import Reply, Request
from d7tui.simulator.world import LogQuery, World

MAX_ID_LIST = 2048
LOGS_PER_MINUTE = 120
GENERAL_STATUSES = frozenset(
    ("ACCEPTED", "PENDING", "UNDELIVERABLE", "DELIVERED", "EXPIRED", "REJECTED")
)
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f%z"  # yyyy-MM-dd'T'HH:mm:ss.SSSZ


def json_reply(status: int, data: object, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(data, ensure_ascii=False).encode(), headers or {})


class BadQuery(Exception):
    def __init__(self, parameter: str, violation: str) -> None:
        self.parameter = parameter
        self.violation = violation
        super().__init__(f"{parameter}: {violation}")


def error_reply(status: int, v3: bool, v1_id: str, v1_text: str, **v3_error: object) -> Reply:
    """An error in the version's own format."""
    if v3:
        return json_reply(status, bodies.infobip_api_error(**v3_error))  # type: ignore[arg-type]
    return json_reply(status, bodies.infobip_request_error(v1_id, v1_text))


def bad_request(v3: bool, problem: BadQuery) -> Reply:
    return error_reply(
        400,
        v3,
        "BAD_REQUEST",
        "Bad request",
        code="E400",
        description="Request cannot be processed.",
        action="Check the syntax, violations and adjust the request.",
        violations=[{"property": problem.parameter, "violation": problem.violation}],
    )


def unauthorized(v3: bool) -> Reply:
    return error_reply(
        401,
        v3,
        "UNAUTHORIZED",
        "Invalid login details",
        code="E401",
        description="Unauthorized",
        action="Check the API key in the Authorization header.",
    )


def _first(req: Request, name: str) -> str | None:
    values = req.query.get(name)
    return values[0] if values else None


def _ids(req: Request, name: str) -> frozenset[str] | None:
    values = req.query.get(name) or []
    if len(",".join(values)) > MAX_ID_LIST:
        raise BadQuery(name, f"size must be between 0 and {MAX_ID_LIST}")
    found = {part.strip() for value in values for part in value.split(",") if part.strip()}
    return frozenset(found) or None


def _limit(req: Request) -> int:
    raw = _first(req, "limit")
    # The page's own samples send `limit` bare and `limit=null`: both mean the default.
    if raw in (None, "", "null"):
        return 50
    try:
        limit = int(raw)  # type: ignore[arg-type]
    except ValueError:
        raise BadQuery("limit", "must be a number") from None
    if not 1 <= limit <= 1000:
        raise BadQuery("limit", "must be between 1 and 1000")
    return limit


def _time_ms(req: Request, name: str) -> int | None:
    raw = _first(req, name)
    if raw in (None, ""):
        return None
    try:
        when = datetime.strptime(raw, _TIME_FORMAT)  # type: ignore[arg-type]
    except ValueError:
        raise BadQuery(name, "must be a date as yyyy-MM-dd'T'HH:mm:ss.SSSZ") from None
    return round(when.timestamp() * 1000)


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": position}).encode()).decode()


def _cursor(req: Request) -> int | None:
    """The sending position to continue after; None when the client did not ask for cursors."""
    if (_first(req, "useCursor") or "").lower() != "true":
        return None
    raw = _first(req, "cursor")
    if not raw:
        return -1
    try:
        data = json.loads(base64.urlsafe_b64decode(raw.encode()))
        after = data["after"]
        if not isinstance(after, int) or isinstance(after, bool):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise BadQuery("cursor", "is not a cursor this API handed out") from None
    return after


def parse_log_query(req: Request, v3: bool) -> LogQuery:
    general = _first(req, "generalStatus") or None
    if general is not None and general.upper() not in GENERAL_STATUSES:
        raise BadQuery("generalStatus", "must be one of " + ", ".join(sorted(GENERAL_STATUSES)))
    return LogQuery(
        bulk_ids=_ids(req, "bulkId"),
        message_ids=_ids(req, "messageId"),
        limit=_limit(req),
        general_status=general,
        sent_since=_time_ms(req, "sentSince"),
        sent_until=_time_ms(req, "sentUntil"),
        cursor=_cursor(req) if v3 else None,
    )


class Throttle:
    """At most `per_minute` accepted requests in any 60 seconds of `clock` (monotonic)."""

    def __init__(self, per_minute: int | None, clock: Callable[[], float]) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._accepted: collections.deque[float] = collections.deque()
        self.refused = 0

    def allow(self) -> bool:
        if self.per_minute is None:
            return True
        now = self.clock()
        while self._accepted and self._accepted[0] <= now - 60.0:
            self._accepted.popleft()
        if len(self._accepted) >= self.per_minute:
            self.refused += 1
            return False
        self._accepted.append(now)
        return True


class InfobipReads:
    def __init__(self, world: World, throttle: Throttle) -> None:
        self.world = world
        self.throttle = throttle

    def reports(self, req: Request, v3: bool, text: bodies.Text) -> Reply:
        try:
            query = parse_log_query(req, v3)
        except BadQuery as problem:
            return bad_request(v3, problem)
        with self.world.lock:
            taken = self.world.take_reports(query.bulk_ids, query.message_ids, query.limit)
            results = [bodies.infobip_report(r, text, v3=v3) for r in taken]
        return json_reply(200, {"results": results})

    def logs(self, req: Request, v3: bool, text: bodies.Text) -> Reply:
        try:
            query = parse_log_query(req, v3)
        except BadQuery as problem:
            return bad_request(v3, problem)
        if not self.throttle.allow():
            return json_reply(429, bodies.infobip_too_many())
        with self.world.lock:
            found, more = self.world.logs(query)
            results = [bodies.infobip_log(m, text, v3=v3) for m in found]
        body: dict[str, object] = {"results": results}
        if query.cursor is not None:
            cursor: dict[str, object] = {"limit": query.limit}
            if more and found:
                cursor["nextCursor"] = encode_cursor(found[-1].position)
            body["cursor"] = cursor
        return json_reply(200, body)
