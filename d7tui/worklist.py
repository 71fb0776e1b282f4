"""The failures alone, as a worklist for follow-up calls: every failed or stuck recipient (and
every request in error) of the entries given, with its number, the reason the vendor gave and
what it means. The problems view's `e` writes it; no Textual, no store.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TextIO

from d7tui.explain import Outcome, explain
from d7tui.export import Format, csv_cell, write_private_file
from d7tui.models import Phase, Recipient
from d7tui.watchlist import Entry

WORKLIST_VERSION = 1


@dataclass(frozen=True, slots=True)
class FollowUp:
    request_id: str
    channel: str
    label: str
    recipient: str | None
    msg_id: str | None
    country: str | None
    status: str | None
    reason: str | None  # as the vendor gave it (or the error d7tui got)
    problem: str  # "failed", "stuck?", or what stops the request ("not found", ...)
    outcome: str | None  # d7tui's reading of the status (d7tui.explain)
    explanation: str | None
    next_step: str | None
    changed_at: float | None  # when it failed / since when it waits (unix time)


COLUMNS = tuple(f.name for f in fields(FollowUp))


def follow_ups(
    entries: Iterable[Entry], now: float, stuck_after: Mapping[str, float]
) -> list[FollowUp]:
    """The worklist of `entries` (the problems view, in its order)."""
    rows: list[FollowUp] = []
    for entry in entries:
        before = len(rows)
        if entry.state is not None:
            channel = entry.state.channel.value
            stuck = {s.recipient.key: s for s in entry.stuck(now, stuck_after)}
            changed = {t.recipient_key: t.at for t in entry.timeline}
            for r in entry.state.recipients:
                if r.phase is Phase.FAILED:
                    rows.append(_row(entry, channel, r, "failed", changed.get(r.key)))
                elif r.key in stuck and not _on_the_phone(channel, r):
                    waiting = stuck[r.key]
                    rows.append(_row(entry, channel, r, "stuck?", waiting.since, why=waiting.why))
        if len(rows) == before and entry.problem:
            # Nothing per recipient to call about, but the request itself is in trouble.
            rows.append(
                FollowUp(
                    entry.request_id,
                    entry.channel,
                    entry.label,
                    None,
                    None,
                    None,
                    None,
                    str(entry.error) if entry.error is not None else None,
                    entry.status_text(),
                    None,
                    None,
                    None,
                    entry.last_poll,
                )
            )
    return rows


def _on_the_phone(channel: str, r: Recipient) -> bool:
    """Delivered, only "read" not come (WhatsApp): nothing to call the customer about."""
    explained = explain(channel, r)
    return explained is not None and explained.outcome is Outcome.SUCCESS


def _row(
    entry: Entry,
    channel: str,
    r: Recipient,
    problem: str,
    at: float | None,
    *,
    why: str | None = None,
) -> FollowUp:
    explained = explain(channel, r)
    return FollowUp(
        entry.request_id,
        channel,
        entry.label,
        r.recipient,
        r.msg_id,
        r.country,
        r.status,
        r.reason,
        problem,
        explained.outcome.value if explained else None,
        why or (explained.meaning if explained else None),
        explained.next_step if explained else None,
        at,
    )


def write(rows: list[FollowUp], fmt: Format, out: TextIO, *, now: float | None = None) -> int:
    """The worklist as JSON (`{"d7tui_failures", "exported_at", "rows"}`) or one CSV table
    (the cells as `d7tui export` writes them: UTC times, never a formula)."""
    if fmt == "json":
        document = {
            "d7tui_failures": WORKLIST_VERSION,
            "exported_at": time.time() if now is None else now,
            "rows": [asdict(row) for row in rows],
        }
        json.dump(document, out, indent=1)
        out.write("\n")
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for row in rows:
            values = asdict(row)
            writer.writerow([csv_cell(c, values[c]) for c in COLUMNS])
    else:
        raise ValueError(f"unknown export format {fmt!r} (csv or json)")
    return len(rows)


def write_to_file(
    rows: list[FollowUp], fmt: Format, directory: Path, *, now: float | None = None
) -> tuple[Path, int]:
    """A new `d7tui-failures-<time>.<fmt>` in `directory` (0600, whole or not at all)."""
    return write_private_file(
        fmt,
        lambda out: write(rows, fmt, out, now=now),
        directory=directory,
        now=now,
        stem="d7tui-failures",
    )
