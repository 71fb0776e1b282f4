"""What `d7tui status` keeps of Infobip's one-time reports.

Each reports body is committed to the store before it is parsed, and what the store remembers is
shown with what is new, so a report seen once (here or by the monitor) is shown again on the
next look. Reports are pulled only while they can be kept (report_guard.py): not when the store
cannot be opened, not while another d7tui holds the report lock (then they are read from the
store), and no more once a commit failed. A body received but not committed is shown all the
same, and kept aside in a file (store/rescue.py) rather than lost.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TextIO

from d7tui.channels.infobip import beyond_logs, parse_page
from d7tui.errors import ChannelError
from d7tui.models import RequestStatus, Target
from d7tui.pollstate import Fetcher
from d7tui.report_guard import ReportGuard
from d7tui.safety import error_line, one_line
from d7tui.store import Store, StoreError, open_store, remembered_status
from d7tui.store.rescue import farewell, report_actions

Result = RequestStatus | ChannelError


class StatusMemory:
    def __init__(
        self, store: Store | None, err: TextIO, *, reports: bool, why: str | None = None
    ) -> None:
        """`reports`: one-time reports are the source (logs need no lock: anyone may read
        them, any number of times)."""
        self.store = store
        self.err = err
        self.reports = reports
        self.why = why  # why there is no store, or why it stopped taking reports
        self.unsaved: list[tuple[str, bytes]] = []  # bodies received but not committed
        if reports and store is not None and not store.try_acquire_report_lock():
            err.write(f"d7tui status: {one_line(store.report_lock_refusal())}\n")

    @classmethod
    def open(cls, err: TextIO, *, reports: bool, location: str | None = None) -> StatusMemory:
        try:
            store = open_store(location, parse_report=parse_page)
        except StoreError as exc:
            err.write(f"d7tui status: warning: {error_line(exc)}; reports are not kept\n")
            why = f"the store cannot be opened ({error_line(exc)})"
            return cls(None, err, reports=reports, why=why)
        for line in (*store.warnings, *store.notices):
            err.write(f"d7tui status: warning: {one_line(line)}\n")
        return cls(store, err, reports=reports)

    def refusal(self) -> str | None:
        """Why one-time reports must not be pulled now (None: they may be)."""
        if self.store is None or self.why is not None:
            return self.why or "there is no store"
        if not self.store.has_report_lock:
            return self.store.report_lock_refusal()
        return None

    def guard(self, client: Fetcher) -> ReportGuard:
        remembered = self._remembered if self.store is not None else None
        return ReportGuard(client, self.refusal, remembered)

    async def _remembered(self, target: Target) -> RequestStatus | None:
        if self.why is not None:  # the store failed: say so (the guard does), not "no report"
            raise StoreError(self.why)
        return self._stored(target)

    def _stored(self, target: Target) -> RequestStatus | None:
        if self.store is None:
            return None
        try:
            return remembered_status(self.store, target)
        except StoreError:
            return None  # what was just received is still shown

    def remembered(self, target: Target) -> RequestStatus | None:
        """What the store knows of an id (saved by the monitor, or reports pulled), marked as
        remembered rather than said by the API now; None when it knows no recipient."""
        state = self._stored(target)
        if state is None or not state.recipients or self.store is None:
            return None
        try:
            stored = self.store.load_state(target.request_id)
        except StoreError:
            stored = None
        return replace(state, remembered=stored.observed_at if stored else None)

    def beyond_logs(self, target: Target) -> RequestStatus | None:
        """The remembered state of an Infobip id whose every message was sent longer ago than
        the logs keep: the API would answer nothing."""
        if not target.is_infobip:
            return None
        state = self.remembered(target)
        return state if state is not None and beyond_logs(state, time.time()) else None

    def or_remembered(self, target: Target, result: Result) -> Result:
        """An empty logs answer for an id the store knows: what the store knows, marked."""
        if isinstance(result, RequestStatus) and not result.recipients and not result.incremental:
            return self.remembered(target) or result
        return result

    def sink(self, ident: str, body: bytes) -> None:
        """The report sink: commits the body (raises if it could not, and the drain stops)."""
        if self.store is None:
            raise StoreError("there is no store")
        try:
            body_id = self.store.save_report_body(ident, body)
        except StoreError as exc:
            self.unsaved.append((ident, bytes(body)))
            if self.why is None:
                self.why = f"the store cannot keep them ({error_line(exc)})"
                self.err.write(
                    f"d7tui status: Infobip reports are no longer pulled: {self.why}; "
                    "those received are shown\n"
                )
            raise
        with contextlib.suppress(StoreError):  # the body is safe; the next open parses it
            self.store.parse_body(body_id, body, parse_page)

    def showing_remembered(
        self, emit: Callable[[Target, Result], None]
    ) -> Callable[[Target, Result], None]:
        """`emit`, given for an Infobip increment all the store remembers with what is new."""

        def emit_remembered(target: Target, result: Result) -> None:
            if target.is_infobip and isinstance(result, RequestStatus) and result.incremental:
                remembered = self._stored(target)
                if remembered is not None and remembered.recipients:
                    result = remembered
            emit(target, result)

        return emit_remembered

    def close(self) -> None:
        if self.store is None:
            return
        for ident, body in list(self.unsaved):  # one more try: the disk may have room now
            try:
                self.store.ingest_report(ident, body, parse_page)
            except StoreError:
                break
            self.unsaved.remove((ident, body))
        if self.unsaved:
            line = farewell(self.store.path, report_actions(self.unsaved), None)
            self.err.write(f"d7tui status: {one_line(line)}; their reports are shown above\n")
        self.store.close()
