"""One call for every channel: `StatusClient.fetch(target)` returns a RequestStatus or raises a
ChannelError. The CLI and the poller both use exactly this."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from d7tui.channels import d7, infobip
from d7tui.channels.errors import (
    ERROR_PRIORITY,
    AuthError,
    ChannelError,
    NotFound,
    ProtocolError,
)
from d7tui.client import MB, Engine
from d7tui.config import Settings
from d7tui.models import (
    D7_CHANNELS,
    Channel,
    IdKind,
    InfobipSource,
    RequestStatus,
    Target,
    validate_id,
)

# Called with every raw Infobip reports body the moment it arrives, before it is parsed: the
# store commits it there so that nothing a one-time endpoint handed out can be lost. It may be a
# coroutine function (the store commits off the event loop and the drain waits for it).
ReportSink = Callable[[str, bytes], Awaitable[None] | None]

MAX_DRAIN_PAGES = 50  # 50,000 reports per pull at most; the rest waits for the next poll


class StatusClient:
    def __init__(
        self,
        settings: Settings,
        engine: Engine | None = None,
        *,
        report_sink: ReportSink | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine or Engine(
            max_in_flight=settings.max_in_flight,
            timeout=settings.timeout,
            max_answer=int(settings.max_answer_mb * MB),
        )
        self.report_sink = report_sink
        self.whatsapp_v1 = False  # set once v2 proved not to exist on this server
        # Set when the report sink (the store) last failed; shown with the next result.
        self.sink_problem: str | None = None
        # Raw Infobip bodies received but not yet handed to a caller (it was cancelled), by id.
        self._unclaimed: dict[tuple[str, str], list[bytes]] = {}
        # The pull of one-time reports running for an id, if any: a second caller joins it
        # instead of starting a parallel drain of the same reports.
        self._draining: dict[tuple[str, str], asyncio.Future[None]] = {}

    async def aclose(self) -> None:
        await self.engine.aclose()

    async def __aenter__(self) -> StatusClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- entry point ---------------------------------------------------------------------------

    async def fetch(self, target: Target) -> RequestStatus:
        request_id = validate_id(target.request_id, target.channel)
        if target.channel == "auto":
            return await self._auto(request_id)
        channel = Channel(target.channel)
        if channel is Channel.INFOBIP:
            kind = target.id_kind if target.id_kind is not IdKind.REQUEST else IdKind.BULK
            return await self._infobip(request_id, kind)
        return await self._d7(channel, request_id)

    # -- D7 ------------------------------------------------------------------------------------

    def _d7_headers(self, channel: Channel) -> dict[str, str]:
        if not self.settings.d7_token:
            raise AuthError(channel.value, d7.TOKEN_SETTING)
        return {"Authorization": f"Bearer {self.settings.d7_token.reveal()}"}

    async def _d7(self, channel: Channel, request_id: str) -> RequestStatus:
        headers = self._d7_headers(channel)
        path, _ = d7.ROUTES[channel]
        if channel is Channel.WHATSAPP and self.whatsapp_v1:
            path = d7.WHATSAPP_V1
        url = self.settings.d7_base_url + path.format(id=quote(request_id, safe=""))
        reply = await self.engine.get(channel.value, url, headers=headers)
        if (
            channel is Channel.WHATSAPP
            and not self.whatsapp_v1
            and reply.status == 404
            and not d7.is_documented_not_found(channel, reply.body)
        ):
            # v2 is what the page documents, v1 what every SDK calls: a 404 without the
            # documented body means the v2 route itself does not exist here.
            self.whatsapp_v1 = True
            return await self._d7(channel, request_id)
        if reply.status != 200:
            raise d7.http_error(channel, reply.status, reply.body)
        return d7.parse_report(channel, request_id, reply.body)

    async def _auto(self, request_id: str) -> RequestStatus:
        results = await asyncio.gather(
            *(self._d7(c, request_id) for c in D7_CHANNELS), return_exceptions=True
        )
        errors: list[ChannelError] = []
        for result in results:
            if isinstance(result, RequestStatus):
                return result
            if isinstance(result, ChannelError):
                errors.append(result)
            elif isinstance(result, BaseException):
                raise result
        if all(isinstance(e, NotFound) for e in errors):
            raise NotFound("auto", "request id not found on sms, whatsapp or viber", status=404)
        errors.sort(key=lambda e: ERROR_PRIORITY.index(e.kind))
        raise errors[0]

    # -- Infobip -------------------------------------------------------------------------------

    def _infobip_headers(self) -> dict[str, str]:
        if not self.settings.infobip_key:
            raise AuthError("infobip", infobip.KEY_SETTING)
        return {"Authorization": f"App {self.settings.infobip_key.reveal()}"}

    async def _infobip(self, ident: str, kind: IdKind) -> RequestStatus:
        headers = self._infobip_headers()
        params = {kind.value: ident, "limit": str(infobip.PAGE_LIMIT)}
        if self.settings.infobip_source is InfobipSource.LOGS:
            url = self.settings.infobip_base_url + infobip.LOGS_PATH
            reply = await self.engine.get("infobip", url, headers=headers, params=params)
            if reply.status != 200:
                raise infobip.http_error(reply.status, reply.body)
            return self._infobip_status(ident, [reply.body], incremental=False)
        # A pull of one-time reports runs to the end even if our caller is cancelled: what it
        # receives waits in _unclaimed for the next caller instead of being lost.
        key = (kind.value, ident)
        task = self._draining.get(key)
        if task is None or task.done():
            task = asyncio.ensure_future(self._drain(key, headers, params))
            task.add_done_callback(_retrieve)
            self._draining[key] = task
            task.add_done_callback(lambda done: self._forget_drain(key, done))
        await asyncio.shield(task)
        return self._infobip_status(ident, self._unclaimed.pop(key, []), incremental=True)

    async def _drain(
        self, key: tuple[str, str], headers: dict[str, str], params: dict[str, str]
    ) -> None:
        url = self.settings.infobip_base_url + infobip.REPORTS_PATH
        received = self._unclaimed.setdefault(key, [])
        try:
            for _ in range(MAX_DRAIN_PAGES):
                reply = await self.engine.get(
                    "infobip", url, headers=headers, params=params, idempotent=False
                )
                if reply.status != 200:
                    raise infobip.http_error(reply.status, reply.body)
                received.append(reply.body)
                if self.report_sink is not None:
                    try:
                        pending = self.report_sink(key[1], reply.body)
                        if pending is not None:
                            await pending
                    except Exception as exc:
                        # The store failed: pull no more now (what we pull could not be kept)
                        # and hand on what was received; the problem shows with it.
                        self.sink_problem = f"reports could not be stored: {exc}"
                        break
                try:
                    empty = not infobip.parse_page(reply.body)
                except ProtocolError:
                    # Unreadable: kept raw and reported when handed on; asking again at once
                    # would most likely read the same.
                    break
                if empty:
                    received.pop()  # an empty page tells nothing worth keeping
                    break
        except ChannelError:
            if not received:
                self._unclaimed.pop(key, None)
                raise
            # Reports already received matter more than this error: they are handed on now,
            # and the error shows again on the next poll if it persists.

    def _forget_drain(self, key: tuple[str, str], task: asyncio.Future[None]) -> None:
        if self._draining.get(key) is task:
            del self._draining[key]

    def _infobip_status(
        self, ident: str, bodies: list[bytes], *, incremental: bool
    ) -> RequestStatus:
        recipients = []
        problems = []
        for body in bodies:
            try:
                recipients.extend(infobip.parse_page(body))
            except ProtocolError as exc:
                problems.append(exc.message)
        if problems and not recipients:
            raise ProtocolError("infobip", problems[0])
        fields: dict[str, object] = {}
        if self.sink_problem:
            problems.append(self.sink_problem)
            self.sink_problem = None
        if problems:
            fields["problems"] = problems
        return RequestStatus(
            request_id=ident,
            channel=Channel.INFOBIP,
            recipients=tuple(recipients),
            fields=fields,
            raw=tuple(bodies),
            incremental=incremental,
        )


def _retrieve(task: asyncio.Future[None]) -> None:
    # A drain whose caller was cancelled may still fail; its error is not news to anyone.
    if not task.cancelled():
        task.exception()
