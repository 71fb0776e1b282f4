"""Infobip logs for many ids in few calls, each bulk whole.

Logs take lists: several bulkIds (or messageIds) go in one call, as many as fit the vendor's
2,048-character limit on the list, and one call answers up to 1,000 messages. Past that, v3 pages
with a cursor (`useCursor=true`, then `cursor=nextCursor`) and v1 by moving `sentUntil` back to
the oldest message seen (messages sharing that millisecond come again and are counted once), until
the answer is complete: a 1,200-recipient bulk shows 1,200.

v3 is asked first; a 404 from it means the route is missing at that host (a query for unknown
ids answers an empty list, never 404), so v1 is asked instead, and v3 again later (routes.py).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence

from d7tui.channels import infobip
from d7tui.channels.routes import RouteVersions
from d7tui.client import Response
from d7tui.errors import ChannelError, ProtocolError
from d7tui.models import Channel, IdKind, Recipient, RequestStatus, keyed

MAX_PAGES = 50  # 50,000 messages for one call's ids at most; the rest is named as missing
FAMILY = "infobip-logs"

Params = list[tuple[str, str]]
Get = Callable[[str, Params], Awaitable[Response]]


def id_lists(idents: Sequence[str], limit: int = infobip.MAX_ID_LIST) -> list[list[str]]:
    """The ids cut into lists whose comma-separated length fits the vendor's limit, in order."""
    lists: list[list[str]] = []
    current: list[str] = []
    size = 0
    for ident in idents:
        extra = len(ident) + (1 if current else 0)
        if current and size + extra > limit:
            lists.append(current)
            current, size, extra = [], 0, len(ident)
        current.append(ident)
        size += extra
    if current:
        lists.append(current)
    return lists


class LogsReader:
    def __init__(
        self, get: Get, base_url: str, routes: RouteVersions, *, keep_text: bool = False
    ) -> None:
        self.get = get
        self.base_url = base_url
        self.routes = routes
        self.keep_text = keep_text

    async def read(
        self, kind: IdKind, idents: Sequence[str]
    ) -> dict[str, RequestStatus | ChannelError]:
        """Every id's messages as the logs have them now (an id the logs do not know: no
        recipients); an error stands for every id of the call that failed."""
        lists = id_lists(idents)
        answers = await asyncio.gather(
            *(self._one_call(kind, ids) for ids in lists), return_exceptions=True
        )
        results: dict[str, RequestStatus | ChannelError] = {}
        for ids, answer in zip(lists, answers, strict=True):
            if isinstance(answer, ChannelError):
                results.update(dict.fromkeys(ids, answer))
            elif isinstance(answer, BaseException):
                raise answer
            else:
                results.update(answer)
        return results

    async def _one_call(self, kind: IdKind, ids: list[str]) -> dict[str, RequestStatus]:
        recipients, bodies, problems = await self._pages(kind, ids)
        found: dict[str, list[Recipient]] = {ident: [] for ident in ids}
        others = 0
        for r in recipients:
            owner = r.msg_id if kind is IdKind.MESSAGE else r.fields.get("bulkId")
            if isinstance(owner, str) and owner in found:
                found[owner].append(r)
            elif isinstance(owner, str):  # another id's, whether one id was asked or many
                others += 1
            elif len(ids) == 1:  # a broken item of a one-id answer is still that id's
                found[ids[0]].append(r)
        if others:
            problems.append(infobip.others_left_out(others))
        fields: dict[str, object] = {"problems": problems} if problems else {}
        # Raw bodies are kept (and stored, and exported) only where they hold no hidden message
        # text, and only with the request they answered alone: an answer shared by many ids
        # would be stored once per id. Every field is in the recipients anyway.
        raw = tuple(bodies) if self.keep_text and len(ids) == 1 else ()
        return {
            ident: RequestStatus(ident, Channel.INFOBIP, keyed(rs), dict(fields), raw)
            for ident, rs in found.items()
        }

    async def _pages(
        self, kind: IdKind, ids: list[str]
    ) -> tuple[list[Recipient], list[bytes], list[str]]:
        v3 = not self.routes.use_older(self.base_url, FAMILY)
        base: Params = [(kind.value, ident) for ident in ids]
        base.append(("limit", str(infobip.PAGE_LIMIT)))
        params = [*base, ("useCursor", "true")] if v3 else base
        seen: set[str] = set()
        cursors: set[str] = set()  # followed already
        recipients: list[Recipient] = []
        bodies: list[bytes] = []
        problems: list[str] = []
        while True:
            if len(bodies) >= MAX_PAGES:  # pages read, not calls: a v3 route missing is one more
                problems.append(
                    f"stopped after {MAX_PAGES} pages of {infobip.PAGE_LIMIT:,}: the rest is "
                    "not shown"
                )
                return recipients, bodies, problems
            path = infobip.LOGS_V3 if v3 else infobip.LOGS_V1
            reply = await self.get(self.base_url + path, params)
            if reply.status == 404 and v3 and not bodies:
                self.routes.newer_missing(self.base_url, FAMILY)
                v3, params = False, base
                continue
            if reply.status != 200:
                if not bodies:
                    raise infobip.http_error(reply.status, reply.body)
                problems.append(
                    f"{infobip.http_error(reply.status, reply.body).message}: the list may be incomplete"
                )
                break
            if v3:
                self.routes.newer_answered(self.base_url, FAMILY)
            try:
                page = infobip.read_page(reply.body, keep_text=self.keep_text)
            except ProtocolError as exc:
                if not bodies:
                    raise
                problems.append(f"{exc.message}: the list may be incomplete")
                break
            bodies.append(reply.body)
            new = 0
            for r in page.recipients:
                if r.msg_id is not None:
                    if r.msg_id in seen:
                        continue  # the same millisecond asked again (v1 paging)
                    seen.add(r.msg_id)
                recipients.append(r)
                new += 1
            if page.next_cursor:
                if page.next_cursor in cursors or (page.recipients and not new):
                    # A cursor given again, or a page of nothing new: following it would spend
                    # the account's 120 calls a minute on the same answer.
                    problems.append(
                        "the logs' cursor went round in a circle; stopped following it: the "
                        "list may be incomplete"
                    )
                    break
                cursors.add(page.next_cursor)
                params = [*base, ("useCursor", "true"), ("cursor", page.next_cursor)]
                continue
            if cursors or page.size < infobip.PAGE_LIMIT:
                # No next cursor after following cursors is the end, however full the page:
                # paging on by date would spend a call to be given the first page again.
                return recipients, bodies, problems
            times = [t for r in page.recipients if (t := infobip.sent_at(r)) is not None]
            if not times or not new:
                problems.append(
                    f"more than {infobip.PAGE_LIMIT:,} messages, and no sentAt to page by: "
                    "the list may be incomplete"
                )
                break
            # "Sent before this date": one millisecond past the oldest, so that messages sent in
            # the same millisecond as it are not skipped (they come again and are counted once).
            until = infobip.format_time(math.floor(min(times) * 1000) + 1)
            params = [*base, ("sentUntil", until)]
        return recipients, bodies, problems  # stopped short, as `problems` says
