"""The simulated vendor's memory: requests, their messages, a clock that tests can move, the log
of every status change, and Infobip's queue of one-time reports.

Status changes are found lazily, from a heap of next-due steps, so a poll costs O(log n) however
many messages exist. Every method takes the lock: tests call in from another thread.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from d7tui.simulator import lifecycles
from d7tui.simulator.lifecycles import Script, Step


@dataclass(frozen=True, slots=True)
class Change:
    at: float  # simulated unix time
    channel: str
    request_id: str  # the bulkId for Infobip
    msg_id: str
    recipient: str
    old: str | None
    new: str


@dataclass(slots=True)
class Message:
    msg_id: str
    recipient: str
    script: Script
    created: float
    step: int = -1  # index of the step reached so far; -1 before the first is applied
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def status(self) -> Step:
        return self.script[max(self.step, 0)]


@dataclass(slots=True)
class SimRequest:
    request_id: str
    channel: str
    messages: list[Message]
    created: float
    extra: dict[str, object] = field(default_factory=dict)


def infobip_time(t: float) -> str:
    """The vendor's format: 2019-11-09T16:00:00.000+0000."""
    moment = datetime.fromtimestamp(t, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


class World:
    def __init__(
        self,
        *,
        seed: int = 0,
        speed: float = 1.0,
        sms_failure: str = "un_delivered",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lock = threading.RLock()
        self.rng = random.Random(seed)
        self.speed = speed
        self.sms_failure = sms_failure
        self._clock = clock
        self._mono0 = clock()
        self._wall0 = time.time()
        self._offset = 0.0
        self.requests: dict[str, SimRequest] = {}
        self.infobip: dict[str, Message] = {}  # messageId -> message (with bulkId in extra)
        self.bulks: dict[str, list[str]] = {}
        self.changes: list[Change] = []
        self.reports: list[dict[str, object]] = []  # one-time reports not yet handed out
        self._due: list[tuple[float, int, str, Message]] = []
        self._seq = itertools.count()

    # -- time ----------------------------------------------------------------------------------

    def now(self) -> float:
        return self._wall0 + (self._clock() - self._mono0) * self.speed + self._offset

    def advance(self, seconds: float) -> None:
        with self.lock:
            self._offset += seconds
            self.catch_up()

    # -- creating traffic ----------------------------------------------------------------------

    def _script(self, channel: str, given: Script | None, index: int) -> Script:
        if given:
            steps = given[index] if isinstance(given[0], list) else given  # type: ignore[index]
            return [Step(*s) for s in steps]  # type: ignore[misc]
        return {
            "sms": lambda: lifecycles.sms(self.rng, self.sms_failure),
            "viber": lambda: lifecycles.viber(self.rng),
            "whatsapp": lambda: lifecycles.whatsapp(self.rng),
            "infobip": lambda: lifecycles.infobip(self.rng),
        }[channel]()

    def _schedule(self, channel: str, owner: str, message: Message) -> None:
        self._apply(channel, owner, message)  # the first step happens at creation

    def create_request(
        self,
        channel: str,
        recipients: list[str],
        script: Script | None = None,
        extra: list[dict[str, object]] | None = None,
        request_extra: dict[str, object] | None = None,
    ) -> str:
        with self.lock:
            self.catch_up()
            rid = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
            now = self.now()
            messages = [
                Message(
                    msg_id=str(uuid.UUID(int=self.rng.getrandbits(128), version=1)),
                    recipient=r,
                    script=self._script(channel, script, i),
                    created=now,
                    extra=(extra[i] if extra and i < len(extra) else {}),
                )
                for i, r in enumerate(recipients)
            ]
            self.requests[rid] = SimRequest(rid, channel, messages, now, request_extra or {})
            for m in messages:
                self._schedule(channel, rid, m)
            return rid

    def create_infobip_bulk(
        self,
        recipients: list[str],
        script: Script | None = None,
        bulk_id: str | None = None,
        sender: str = "InfoSMS",
        text: str = "Hello",
    ) -> tuple[str, list[str]]:
        with self.lock:
            self.catch_up()
            bulk = bulk_id or f"BULK-{self.rng.getrandbits(48):012x}"
            now = self.now()
            ids = []
            for i, to in enumerate(recipients):
                mid = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
                message = Message(
                    mid,
                    to,
                    self._script("infobip", script, i),
                    now,
                    extra={
                        "bulkId": bulk,
                        "from": sender,
                        "text": text,
                        "mccMnc": "22801",
                        "callbackData": f"ticket-{i}",
                    },
                )
                self.infobip[mid] = message
                ids.append(mid)
                self._schedule("infobip", bulk, message)
            self.bulks.setdefault(bulk, []).extend(ids)
            return bulk, ids

    # -- moving on -----------------------------------------------------------------------------

    def _apply(self, channel: str, owner: str, m: Message) -> None:
        """Take every step of `m` that is due, logging each change; queue the next one."""
        now = self.now()
        while m.step + 1 < len(m.script) and m.created + m.script[m.step + 1].offset <= now:
            old = m.script[m.step].status if m.step >= 0 else None
            m.step += 1
            new = m.script[m.step].status
            at = m.created + m.script[m.step].offset
            self.changes.append(Change(at, channel, owner, m.msg_id, m.recipient, old, new))
            if channel == "infobip" and new in lifecycles.INFOBIP_REPORTED:
                m.extra["doneAt"] = at
                self.reports.append(self.infobip_item(m, report=True))
        if m.step + 1 < len(m.script):
            due = m.created + m.script[m.step + 1].offset
            heapq.heappush(self._due, (due, next(self._seq), channel + "\0" + owner, m))

    def catch_up(self) -> None:
        now = self.now()
        while self._due and self._due[0][0] <= now:
            _, _, key, message = heapq.heappop(self._due)
            channel, owner = key.split("\0", 1)
            self._apply(channel, owner, message)

    # -- vendor views --------------------------------------------------------------------------

    def infobip_item(self, m: Message, *, report: bool) -> dict[str, object]:
        name = m.status.status
        group_id, group_name, status_id, description = lifecycles.INFOBIP_STATUS[name]
        status: dict[str, object] = {
            "groupId": group_id,
            "groupName": group_name,
            "id": status_id,
            "name": name,
            "description": description,
        }
        if name in lifecycles.INFOBIP_ACTION:
            status["action"] = lifecycles.INFOBIP_ACTION[name]
        error_name = lifecycles.INFOBIP_STATUS_ERROR.get(name, "NO_ERROR")
        e_group, e_group_name, e_id, e_description, permanent = lifecycles.INFOBIP_ERROR[error_name]
        done = m.extra.get("doneAt")
        item: dict[str, object] = {
            "bulkId": m.extra["bulkId"],
            "messageId": m.msg_id,
            "to": m.recipient,
            "from": m.extra.get("from"),
        }
        if not report:
            item["text"] = m.extra.get("text")
        item |= {
            "sentAt": infobip_time(m.created),
            "doneAt": infobip_time(float(done)) if isinstance(done, float) else None,
            "smsCount": 1,
            # The legacy logs example spells it lower-case; reports spell mccMnc.
            ("mccMnc" if report else "mccmnc"): m.extra.get("mccMnc"),
        }
        if report:
            item["callbackData"] = m.extra.get("callbackData")
        item |= {
            "price": {"pricePerMessage": 0.01, "currency": "EUR"},
            "status": status,
            "error": {
                "groupId": e_group,
                "groupName": e_group_name,
                "id": e_id,
                "name": error_name,
                "description": e_description,
                "permanent": permanent,
            },
            "entityId": "d7tui-demo",
            "applicationId": "d7tui-demo-app",
        }
        return item

    def take_reports(
        self, bulk_id: str | None, message_id: str | None, limit: int
    ) -> list[dict[str, object]]:
        with self.lock:
            self.catch_up()
            taken, kept = [], []
            for report in self.reports:
                match = (bulk_id is None or report["bulkId"] == bulk_id) and (
                    message_id is None or report["messageId"] == message_id
                )
                if match and len(taken) < limit:
                    taken.append(report)
                else:
                    kept.append(report)
            self.reports = kept
            return taken

    def logs(
        self, bulk_id: str | None, message_id: str | None, limit: int
    ) -> list[dict[str, object]]:
        with self.lock:
            self.catch_up()
            horizon = self.now() - 48 * 3600
            ids = self.bulks.get(bulk_id, []) if bulk_id else list(self.infobip)
            out = []
            for mid in ids:
                m = self.infobip.get(mid)
                if m is None or m.created < horizon:
                    continue
                if message_id is not None and mid != message_id:
                    continue
                out.append(self.infobip_item(m, report=False))
            return out[-limit:]
