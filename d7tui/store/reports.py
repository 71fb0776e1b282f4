"""Infobip's one-time reports: every body committed before it is parsed, every report once.

The order of events for a body: `save_report_body` commits the raw bytes (synchronous=FULL: on
disk when it returns); only then is it parsed and `index_reports` stores each report under a key
(messageId, status, doneAt) so that a repeat is one row. A body whose parse never happened (a
kill in between, a parser bug) stays "unparsed" and `reindex_unparsed` parses it at the next open.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence

from d7tui.errors import ProtocolError
from d7tui.models import Recipient
from d7tui.safety import one_line
from d7tui.store import codec
from d7tui.store.db import Database
from d7tui.store.errors import StoreError
from d7tui.store.lock import ReportLock
from d7tui.store.records import ReportBody, StoredReport

# Parses one raw reports body into its reports, in order: the channel's own parser
# (channels/infobip.parse_page), handed to the store by whoever opens it. Raises ProtocolError for
# a body that is not a reports page at all (kept raw, never tried again); any other exception is
# taken for a parser bug (tried again at the next open, when the bug may be fixed).
ReportParser = Callable[[bytes], Sequence[Recipient]]


class ReportsMixin(Database):
    report_lock: ReportLock

    # -- the one-process lock ------------------------------------------------------------------

    def try_acquire_report_lock(self) -> bool:
        """True if this process may pull one-time reports from this data directory (it holds
        the lock until `close()` or its end, however it ends). Never waits."""
        return self.report_lock.try_acquire()

    @property
    def has_report_lock(self) -> bool:
        return self.report_lock.held

    def report_lock_refusal(self) -> str:
        """The one line a second instance shows: who holds the lock, and what that means."""
        return self.report_lock.refusal()

    # -- bodies --------------------------------------------------------------------------------

    def save_report_body(self, ident: str, body: bytes, received_at: float | None = None) -> int:
        """Commit a raw reports body pulled for `ident`; its id. Call it before parsing.

        Durable when it returns (unless called inside an open `batch()`, which then commits it).
        The same bytes for the same id are kept once: the empty page every poll ends with does
        not pile up.
        """
        data = bytes(body)
        digest = hashlib.sha256(data).hexdigest()
        received = time.time() if received_at is None else received_at
        with self.batch() as conn:
            cur = conn.execute(
                "INSERT INTO report_body (ident, received_at, sha256, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (ident, sha256) DO NOTHING RETURNING id",
                (ident, received, digest, data),
            )
            if (new := cur.fetchone()) is not None:
                return int(new[0])
            row = conn.execute(
                "SELECT id FROM report_body WHERE ident = ? AND sha256 = ?", (ident, digest)
            ).fetchone()
            return int(row[0])

    def index_reports(self, body_id: int, recipients: Sequence[Recipient]) -> int:
        """Store the reports parsed from a body and mark it parsed; how many were new."""
        with self.batch() as conn:
            row = conn.execute("SELECT ident FROM report_body WHERE id = ?", (body_id,)).fetchone()
            if row is None:
                raise StoreError(f"{self.path}: no reports body #{body_id}")
            ident = row[0]
            new = conn.executemany(
                "INSERT INTO report (body_id, ident, report_key, message_id, bulk_id, data) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (report_key) DO NOTHING",
                [
                    (
                        body_id,
                        ident,
                        codec.report_key(r),
                        r.msg_id,
                        _bulk_id(r),
                        codec.dumps(codec.recipient_to_dict(r)),
                    )
                    for r in recipients
                ],
            ).rowcount
            conn.execute(
                "UPDATE report_body SET parsed_at = ?, parse_error = NULL WHERE id = ?",
                (time.time(), body_id),
            )
            return max(new, 0)

    def record_parse_failure(self, body_id: int, error: str, *, retry: bool) -> None:
        """Note why a body could not be parsed. `retry`: leave it unparsed for the next open
        (a parser bug); otherwise it is settled (not a reports page), and kept raw."""
        with self.batch() as conn:
            conn.execute(
                "UPDATE report_body SET parse_error = ?, "
                "parsed_at = CASE WHEN ? = 1 THEN NULL ELSE ? END WHERE id = ?",
                (one_line(error, 300), int(retry), time.time(), body_id),
            )

    def parse_body(self, body_id: int, body: bytes, parse: ReportParser) -> bool:
        """Parse a committed body and index its reports; False if the parser failed (recorded,
        never raised: the raw body is safe, a parser problem must not stop a poll)."""
        try:
            recipients = list(parse(body))
        except ProtocolError as exc:
            self.record_parse_failure(body_id, exc.message, retry=False)
            return False
        except Exception as exc:  # a parser bug: the body waits for a fixed parser
            self.record_parse_failure(body_id, f"{type(exc).__name__}: {exc}", retry=True)
            return False
        self.index_reports(body_id, recipients)
        return True

    def ingest_report(
        self, ident: str, body: bytes, parse: ReportParser, received_at: float | None = None
    ) -> int:
        """`save_report_body` (committed), then `parse_body`: a sink for synchronous callers."""
        body_id = self.save_report_body(ident, body, received_at)
        self.parse_body(body_id, body, parse)
        return body_id

    def unparsed_bodies(self) -> list[ReportBody]:
        """Bodies committed but never parsed (a kill between, a parser bug), oldest first."""
        rows = self._all(
            "SELECT id, ident, received_at, body, parse_error FROM report_body "
            "WHERE parsed_at IS NULL ORDER BY id"
        )
        return [ReportBody(r[0], r[1], r[2], bytes(r[3]), r[4]) for r in rows]

    def reindex_unparsed(self, parse: ReportParser) -> int:
        """Parse every unparsed body (call it at open); how many were parsed now."""
        return sum(self.parse_body(b.id, b.body, parse) for b in self.unparsed_bodies())

    def report_bodies(self, ident: str | None = None) -> list[ReportBody]:
        """The raw bodies kept for an id (or all), in the order received."""
        sql = "SELECT id, ident, received_at, body, parse_error FROM report_body"
        rows = (
            self._all(f"{sql} WHERE ident = ? ORDER BY id", (ident,))
            if ident is not None
            else self._all(f"{sql} ORDER BY id")
        )
        return [ReportBody(r[0], r[1], r[2], bytes(r[3]), r[4]) for r in rows]

    # -- reports -------------------------------------------------------------------------------

    def reports_for(self, ident: str) -> list[StoredReport]:
        """Every report remembered for a bulkId or messageId (whichever id it was pulled
        for), in the order received."""
        rows = self._all(
            "SELECT r.id, r.ident, r.body_id, b.received_at, r.data "
            "FROM report r JOIN report_body b ON b.id = r.body_id "
            "WHERE r.ident = ? OR r.message_id = ? OR r.bulk_id = ? "
            "ORDER BY r.body_id, r.id",
            (ident, ident, ident),
        )
        return [
            StoredReport(r[0], r[1], r[2], r[3], codec.recipient_from_dict(json.loads(r[4])))
            for r in rows
        ]


def _bulk_id(r: Recipient) -> str | None:
    value = r.fields.get("bulkId")
    return value if isinstance(value, str) else None
