"""One call for every channel: `StatusClient.fetch(target)` returns a RequestStatus or raises a
ChannelError; `fetch_many(targets)` answers many at once, in as few calls as the APIs allow
(Infobip logs take lists of ids). The CLI and the poller both use exactly this."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from d7tui.channels import d7, infobip
from d7tui.channels.common import describe_error
from d7tui.channels.infobip_logs import LogsReader
from d7tui.channels.pacer import Pacer
from d7tui.channels.routes import RouteVersions
from d7tui.client import MB, Engine, Response
from d7tui.clock import Clock
from d7tui.config import Settings
from d7tui.errors import (
    ERROR_PRIORITY,
    ApiError,
    AuthError,
    ChannelError,
    NotFound,
    ProtocolError,
    every_channel,
)
from d7tui.models import (
    D7_CHANNELS,
    Channel,
    IdKind,
    InfobipSource,
    InvalidId,
    RequestStatus,
    Target,
    own_items,
    validate_id,
)

# Called with every raw Infobip reports body the moment it arrives, before it is parsed: the
# store commits it there so that nothing a one-time endpoint handed out can be lost. It may be a
# coroutine function (the store commits off the event loop and the drain waits for it).
ReportSink = Callable[[str, bytes], Awaitable[None] | None]

MAX_DRAIN_PAGES = 50  # 50,000 reports per pull at most; the rest waits for the next poll
REPORTS_FAMILY = "infobip-reports"


class StatusClient:
    def __init__(
        self,
        settings: Settings,
        engine: Engine | None = None,
        *,
        report_sink: ReportSink | None = None,
        on_first_reports: Callable[[], None] | None = None,
        routes: RouteVersions | None = None,
        clock: Clock | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        """`on_first_reports`: called once, before this client first pulls one-time reports
        (the caller warns that they are taken from every other consumer)."""
        self.settings = settings
        self.engine = engine or Engine(
            max_in_flight=settings.max_in_flight,
            timeout=settings.timeout,
            max_answer=int(settings.max_answer_mb * MB),
            secrets=self._secrets,  # the settings of the moment: a reload may change them
        )
        self.report_sink = report_sink
        self.on_first_reports = on_first_reports
        # Which route version each host answers on (WhatsApp v2/v1, Infobip v3/v1).
        self.routes = routes or RouteVersions()
        # Set when the report sink (the store) last failed; shown with the next result.
        self.sink_problem: str | None = None
        # Raw Infobip bodies received but not yet handed to a caller (it was cancelled), by id.
        self._unclaimed: dict[tuple[str, str], list[bytes]] = {}
        # The pull of one-time reports running for an id, if any: a second caller joins it
        # instead of starting a parallel drain of the same reports.
        self._draining: dict[tuple[str, str], asyncio.Future[None]] = {}
        self._ending = False  # `reports_kept` was called: no new pull, no further page
        # Infobip's logs take 120 requests a minute: asked no faster (`clock`: the poller's).
        self.pacer = pacer or Pacer(infobip.LOGS_PER_MINUTE, clock)
        self._logs = LogsReader(
            self._paced_get,
            settings.infobip_base_url,
            self.routes,
            keep_text=settings.message_text,
        )

    async def aclose(self) -> None:
        await self.engine.aclose()

    def reports_in_flight(self) -> int:
        """Pulls of one-time reports running now (read from any thread: one `len`)."""
        return len(self._draining)

    async def reports_kept(self) -> None:
        """Before closing: no pull of one-time reports starts from now on, nor another page of
        one running; returns once those running have ended, their last page committed by the
        report sink (cut short, it would be gone for everyone)."""
        self._ending = True
        if self._draining:
            await asyncio.wait(list(self._draining.values()))

    async def __aenter__(self) -> StatusClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- entry points --------------------------------------------------------------------------

    async def fetch(self, target: Target) -> RequestStatus:
        try:
            return await self._fetch(target)
        except ChannelError as exc:
            raise exc.redacted(self._secrets()) from None

    def _secrets(self) -> list[str]:
        # Errors are built from codes and our own words; a server echoing a credential into
        # its free text is blotted out here, once, for every channel.
        return self.settings.secrets()

    async def _fetch(self, target: Target) -> RequestStatus:
        request_id = validate_id(target.request_id, target.channel)
        if self.batch_key(target) is not None:
            result = (await self.fetch_many([replace(target, request_id=request_id)]))[request_id]
            if isinstance(result, ChannelError):
                raise result
            return result
        if target.channel == "auto":
            return await self._auto(request_id)
        channel = Channel(target.channel)
        if channel is Channel.INFOBIP:
            return await self._infobip_reports(request_id, _infobip_kind(target))
        return await self._d7(channel, request_id)

    def batch_key(self, target: Target) -> str | None:
        """Targets with the same key can be asked together in one call (`fetch_many`); None:
        this one is asked alone. Infobip logs take lists of ids of one kind; one-time reports
        are pulled id by id (their drain and lock are per id)."""
        if target.is_infobip and self.settings.infobip_source is InfobipSource.LOGS:
            return f"infobip-logs:{_infobip_kind(target).value}"
        return None

    async def fetch_many(
        self, targets: Sequence[Target]
    ) -> dict[str, RequestStatus | ChannelError]:
        """Every target's answer by request id, in as few calls as the APIs allow: Infobip
        logs ids go in lists; the rest are asked one by one, concurrently."""
        results: dict[str, RequestStatus | ChannelError] = {}
        grouped: dict[IdKind, list[str]] = {}
        alone: list[Target] = []
        for target in targets:
            try:
                request_id = validate_id(target.request_id, target.channel)
            except InvalidId as exc:
                results[target.request_id] = ApiError(target.channel, str(exc))
                continue
            if self.batch_key(target) is None:
                alone.append(replace(target, request_id=request_id))
            else:
                grouped.setdefault(_infobip_kind(target), []).append(request_id)

        async def one(target: Target) -> None:
            try:
                results[target.request_id] = await self._fetch(target)
            except ChannelError as exc:
                results[target.request_id] = exc

        async def many(kind: IdKind, idents: list[str]) -> None:
            try:
                results.update(await self._logs.read(kind, list(dict.fromkeys(idents))))
            except ChannelError as exc:  # no credential: every id of the list
                results.update(dict.fromkeys(idents, exc))

        await asyncio.gather(
            *(one(t) for t in alone), *(many(k, ids) for k, ids in grouped.items())
        )
        secrets = self._secrets()
        return {
            rid: r.redacted(secrets) if isinstance(r, ChannelError) else r
            for rid, r in results.items()
        }

    # -- D7 ------------------------------------------------------------------------------------

    def _d7_headers(self, channel: Channel) -> dict[str, str]:
        if not self.settings.d7_token:
            raise AuthError(channel.value, d7.TOKEN_SETTING)
        return {"Authorization": f"Bearer {self.settings.d7_token.reveal()}"}

    async def _get(
        self,
        channel: str,
        url: str,
        headers: dict[str, str],
        describe: Callable[[bytes], str],
        **kwargs: Any,
    ) -> Response:
        """The engine's GET; an error that ended on an answer (429, 5xx) says what the vendor
        said in it (E429, GENERAL_ERROR ...)."""
        try:
            return await self.engine.get(channel, url, headers=headers, **kwargs)
        except ChannelError as exc:
            # Only a JSON body is the vendor's word; a proxy's HTML error page is not.
            if exc.body and exc.body.lstrip()[:1] == b"{":
                said = describe(exc.body)
                if said and said != "no detail":
                    raise exc.with_detail(said) from None
            raise

    async def _d7(self, channel: Channel, request_id: str) -> RequestStatus:
        headers = self._d7_headers(channel)
        path, _ = d7.ROUTES[channel]
        base = self.settings.d7_base_url
        older = channel is Channel.WHATSAPP and self.routes.use_older(base, "whatsapp")
        if older:
            path = d7.WHATSAPP_V1
        url = base + path.format(id=quote(request_id, safe=""))
        reply = await self._get(channel.value, url, headers, describe_error)
        if channel is Channel.WHATSAPP and not older:
            if reply.status == 404 and not d7.is_documented_not_found(channel, reply.body):
                # v2 is what the page documents, v1 what every SDK calls: a 404 without the
                # documented body means the v2 route itself does not exist here (for now).
                self.routes.newer_missing(base, "whatsapp")
                return await self._d7(channel, request_id)
            self.routes.newer_answered(base, "whatsapp")
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
        raise every_channel(errors)

    # -- Infobip -------------------------------------------------------------------------------

    def _infobip_headers(self) -> dict[str, str]:
        if not self.settings.infobip_key:
            raise AuthError("infobip", infobip.KEY_SETTING)
        return {"Authorization": f"App {self.settings.infobip_key.reveal()}"}

    async def _paced_get(self, url: str, params: Sequence[tuple[str, str]]) -> Response:
        await self.pacer.slot(url)
        return await self._infobip_get(url, params)

    async def _infobip_get(self, url: str, params: Sequence[tuple[str, str]]) -> Response:
        headers = self._infobip_headers()
        return await self._get("infobip", url, headers, describe_error, params=params)

    async def _infobip_reports(self, ident: str, kind: IdKind) -> RequestStatus:
        headers = self._infobip_headers()
        params = {kind.value: ident, "limit": str(infobip.PAGE_LIMIT)}
        if self.on_first_reports is not None:
            warn, self.on_first_reports = self.on_first_reports, None
            warn()
        # A pull of one-time reports runs to the end even if our caller is cancelled: what it
        # receives waits in _unclaimed for the next caller instead of being lost.
        key = (kind.value, ident)
        task = self._draining.get(key)
        if self._ending and task is None:  # closing: a pull begun now could not be kept
            return self._infobip_status(ident, self._unclaimed.pop(key, []))
        if task is None or task.done():
            task = asyncio.ensure_future(self._drain(key, headers, params))
            task.add_done_callback(_retrieve)
            self._draining[key] = task
            task.add_done_callback(lambda done: self._forget_drain(key, done))
        await asyncio.shield(task)
        return self._infobip_status(ident, self._unclaimed.pop(key, []))

    async def _drain(
        self, key: tuple[str, str], headers: dict[str, str], params: dict[str, str]
    ) -> None:
        base = self.settings.infobip_base_url
        received = self._unclaimed.setdefault(key, [])
        try:
            for _ in range(MAX_DRAIN_PAGES):
                reply = await self._reports_page(base, headers, params)
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
                    empty = not infobip.read_page(reply.body).size
                except ProtocolError:
                    # Unreadable: kept raw and reported when handed on; asking again at once
                    # would most likely read the same.
                    break
                if empty:
                    received.pop()  # an empty page tells nothing worth keeping
                    break
                if self._ending:  # the rest waits for the next start
                    break
        except ChannelError:
            if not received:
                self._unclaimed.pop(key, None)
                raise
            # Reports already received matter more than this error: they are handed on now,
            # and the error shows again on the next poll if it persists.

    async def _reports_page(
        self, base: str, headers: dict[str, str], params: dict[str, str]
    ) -> Response:
        """One call to v3's reports, or v1's where v3 is missing (a 404 hands nothing out)."""
        if not self.routes.use_older(base, REPORTS_FAMILY):
            reply = await self._get(
                "infobip",
                base + infobip.REPORTS_V3,
                headers,
                describe_error,
                params=params,
                idempotent=False,
            )
            if reply.status != 404:
                self.routes.newer_answered(base, REPORTS_FAMILY)
                return reply
            self.routes.newer_missing(base, REPORTS_FAMILY)
        return await self._get(
            "infobip",
            base + infobip.REPORTS_V1,
            headers,
            describe_error,
            params=params,
            idempotent=False,
        )

    def _forget_drain(self, key: tuple[str, str], task: asyncio.Future[None]) -> None:
        if self._draining.get(key) is task:
            del self._draining[key]

    def _infobip_status(self, ident: str, bodies: list[bytes]) -> RequestStatus:
        recipients = []
        problems = []
        for body in bodies:
            try:
                recipients.extend(infobip.parse_page(body, keep_text=self.settings.message_text))
            except ProtocolError as exc:
                problems.append(exc.message)
        if problems and not recipients:
            raise ProtocolError("infobip", problems[0])
        # The raw bodies stay whole (stored, and found again under the other ids' own names).
        recipients, others = own_items(recipients, ident)
        if others:
            problems.append(infobip.others_left_out(others))
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
            incremental=True,
        )


def _infobip_kind(target: Target) -> IdKind:
    return target.id_kind if target.id_kind is not IdKind.REQUEST else IdKind.BULK


def _retrieve(task: asyncio.Future[None]) -> None:
    # A drain whose caller was cancelled may still fail; its error is not news to anyone.
    if not task.cancelled():
        task.exception()
