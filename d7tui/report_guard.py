"""Infobip's one-time reports are pulled only while they can be kept.

`GET /sms/1/reports` hands each report out once: one pulled and then not committed is gone for
good, for everyone. So in front of the status client (in the monitor and in `d7tui status`)
stands this guard: an Infobip id in `reports` mode is pulled only while `refusal()` says
nothing (this process holds the report lock, and its store can commit). Otherwise the id is
answered from what the store remembers (`remembered`), or, with no store at all, refused with
one line saying why and to use logs. Every other channel, and Infobip logs (which can be read
again), pass straight through.

The other half is in the drain itself: the report sink (the store) raises when a body could not
be committed, and the drain stops pulling at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from d7tui.errors import ApiError, ChannelError
from d7tui.models import Channel, InfobipSource, RequestStatus, Target
from d7tui.pollstate import Fetcher

Refusal = Callable[[], str | None]
Remembered = Callable[[Target], Awaitable[RequestStatus | None]]


@runtime_checkable
class KeepsReports(Protocol):
    """A status client that can be told, before it closes, to let its pulls of one-time
    reports end (StatusClient, FetchThread): a quit waits for them rather than cut a page."""

    def reports_in_flight(self) -> int: ...

    async def reports_kept(self) -> None: ...


class ReportsNotPulled(ApiError):
    """Infobip's one-time reports were not pulled because they could not have been kept."""

    def __init__(self, why: str) -> None:
        super().__init__(
            Channel.INFOBIP.value,
            # What to do first: a long reason may be cut at the end of the line.
            'reports not pulled, they could not be kept (infobip_source = "logs", or '
            f"--infobip-source logs, reads them without taking them): {why}",
        )


class ReportGuard:
    """A Fetcher wrapping the status client; see the module's doc."""

    def __init__(
        self, client: Fetcher, refusal: Refusal, remembered: Remembered | None = None
    ) -> None:
        self.client = client
        self.refusal = refusal
        self.remembered = remembered

    @property
    def engine(self) -> object:
        return getattr(self.client, "engine", None)

    def _pulls_reports(self, target: Target) -> bool:
        if target.channel != Channel.INFOBIP.value:
            return False
        settings = getattr(self.client, "settings", None)  # the live ones: they may be reloaded
        source = getattr(settings, "infobip_source", InfobipSource.REPORTS)
        return source is InfobipSource.REPORTS

    def batch_key(self, target: Target) -> str | None:
        """The client's: only ids read again and again (Infobip logs) are asked together, and
        those pass straight through."""
        key_of = getattr(self.client, "batch_key", None)
        if key_of is None or self._pulls_reports(target):
            return None
        return key_of(target)  # type: ignore[no-any-return]

    async def fetch_many(
        self, targets: Sequence[Target]
    ) -> Mapping[str, RequestStatus | ChannelError]:
        return await self.client.fetch_many(targets)  # type: ignore[attr-defined,no-any-return]

    async def fetch(self, target: Target) -> RequestStatus:
        if not self._pulls_reports(target):
            return await self.client.fetch(target)
        why = self.refusal()
        if why is None:
            return await self.client.fetch(target)
        if self.remembered is None:
            raise ReportsNotPulled(why)
        try:
            state = await self.remembered(target)
        except Exception:  # the store cannot even be read: say why nothing was pulled
            raise ReportsNotPulled(why) from None
        if state is None:
            # Nothing kept yet: an empty increment keeps the row waiting, not "not found".
            return RequestStatus(target.request_id, Channel.INFOBIP, (), incremental=True)
        return state
