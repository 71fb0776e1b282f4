"""`d7tui export` and the monitor's `e`: the watchlist, the latest state of every recipient and
every transition, as one JSON document or one CSV table.

JSON is for programs: `{"d7tui_export", "exported_at", "watchlist", "recipients",
"transitions"}`, every value exactly as stored (times in unix seconds, vendor fields as nested
JSON), so that reading it back gives what the store holds (tests/export_reader.py).

CSV is for a spreadsheet: ONE table, the first column `record` saying what a row is (`watch`,
`recipient`, `transition`), the other columns the union of the three kinds (empty where they do
not apply). A single rectangular table opens in any spreadsheet with one header, filters on
`record` with the autofilter and sorts without mixing headers into data, where three sections
would put two stray header rows in the middle of the data. Times are UTC, to the millisecond,
written `YYYY-MM-DD HH:MM:SS.mmm` (what spreadsheets read as a date-time); vendor fields are a
JSON cell.

CSV injection: a cell starting with `=`, `+`, `-`, `@`, TAB or CR may be run as a formula by a
spreadsheet, so such a cell is written with a leading `'` ... except when it holds nothing but
digits, spaces and `+ - ( ) .`: that is how every phone number looks (`+447700900123`), and with
no letter in it a formula can name no function, no cell and no external program, so the worst a
spreadsheet can do with it is arithmetic. Prefixing every recipient with `'` would put a visible
apostrophe in front of every number and break copying and searching them. A cell that starts with
`'` is prefixed too, so reading back only ever strips one `'`.

No token can be in an export: the store never holds one.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import os
import re
import socket
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TextIO, TypeVar

from d7tui.channels.infobip import without_text
from d7tui.explain import explain
from d7tui.models import Transition
from d7tui.safety import strict_json
from d7tui.store import Store, StoredState, WatchRecord, Which, codec

T = TypeVar("T")
Format = Literal["csv", "json"]
FORMATS: tuple[Format, ...] = ("csv", "json")
EXPORT_VERSION = 1

_WATCH = ("request_id", "channel", "id_kind", "label", "note", "added_at", "resolved_channel")
_STATE = ("archived_at", "state_channel", "observed_at", "changed_at", "final_since")
_RECIPIENT = ("position", *(c for c in codec.RECIPIENT_COLUMNS if c != "fields"), "fields")
# What d7tui reads in a recipient's status (d7tui.explain): derived, so never read back.
_EXPLAINED = ("outcome", "explanation", "next_step")
_TRANSITION = ("at", "recipient_key", "old_status", "new_status", "old_phase", "new_phase")
CSV_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys(("record", *_WATCH, *_STATE, *_RECIPIENT, *_EXPLAINED, *_TRANSITION))
)
TIME_COLUMNS = {"added_at", "archived_at", "observed_at", "changed_at", "final_since", "at"}
# ISO 8601 in UTC, to the millisecond, and saying so (`Z`): a time with no zone was read as
# local time by a desk outside UTC.
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")
_NUMBERISH = re.compile(r"[0-9+\-(). ]+")


@dataclass(frozen=True, slots=True)
class ExportCounts:
    watches: int
    recipients: int
    transitions: int


# -- what is exported --------------------------------------------------------------------------

# Watched ids read at a time: an export holds one part of the store, never all of it (K12: the
# whole store was read into memory first, while the file was written a record at a time).
PART = 500


class _Contents:
    """The store read as it is written, in three passes over the watchlist in the added order
    (the watchlist, then the recipients, then the transitions), a part of `PART` ids at a time;
    counting what went out. Read inside one read transaction: the passes agree."""

    def __init__(self, store: Store, keep_text: bool, part: int = PART) -> None:
        self._store = store
        self._keep_text = keep_text
        self._part = part
        self.watches = self.recipients = self.transitions = 0

    def counts(self) -> ExportCounts:
        return ExportCounts(self.watches, self.recipients, self.transitions)

    def heads(self) -> Iterator[tuple[WatchRecord, StoredState | None]]:
        """Every watch with its state's head (its recipients are not read here)."""
        for part in self._store.each_part(
            self._part, Which.KEPT, recipients=False, timeline_limit=0
        ):
            for w in part.watches:
                self.watches += 1
                yield w, part.states.get(w.request_id)

    def states(self) -> Iterator[StoredState]:
        """Every state with its recipients, in the watchlist's order."""
        for part in self._store.each_part(self._part, Which.KEPT, timeline_limit=0):
            for w in part.watches:
                stored = part.states.get(w.request_id)
                if stored is None:
                    continue
                if not self._keep_text:  # text stored while `message_text` was on follows now
                    recipients = tuple(
                        replace(r, fields=without_text(r.fields)) for r in stored.state.recipients
                    )
                    stored = replace(stored, state=replace(stored.state, recipients=recipients))
                self.recipients += len(stored.state.recipients)
                yield stored

    def timeline(self) -> Iterator[Transition]:
        """Every transition, the watchlist's order, each request's oldest first."""
        for part in self._store.each_part(
            self._part, Which.KEPT, states=False, timeline_limit=None
        ):
            for w in part.watches:
                for t in part.timelines.get(w.request_id, ()):
                    self.transitions += 1
                    yield t


def export(
    store: Store,
    fmt: Format,
    out: TextIO,
    *,
    now: float | None = None,
    keep_text: bool = False,
    part: int = PART,
) -> ExportCounts:
    """Write every kept (live and archived) watch, its recipients and transitions to `out`;
    message text only with `keep_text` (the `message_text` setting), `(hidden)` otherwise.
    The store is read `part` ids at a time as the document is written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (csv or json)")
    contents = _Contents(store, keep_text, part)
    exported_at = time.time() if now is None else now
    with store.reading():  # one read transaction: the three passes agree with each other
        if fmt == "json":
            _write_json(contents, out, exported_at)
        else:
            _write_csv(contents, out)
    return contents.counts()


def default_name(fmt: Format, now: float | None = None, stem: str = "d7tui-export") -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() if now is None else now))
    return f"{stem}-{stamp}.{fmt}"


# What starts an SQLite database and its write-ahead log: no export is written over either.
_DATABASE_MAGIC = (b"SQLite format 3\x00", b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83")


class WouldReplaceDatabase(ValueError):
    """An export asked to be written over the store or a database: refused, nothing written."""


def check_not_a_database(path: Path, store_path: Path | None = None) -> None:
    """WouldReplaceDatabase when `path` names the store or a file of it (its -wal, -shm, lock,
    a held or kept copy: every name that starts with the store's, beside it), or any SQLite
    database or log. `-o` onto the store replaced the whole watchlist and its history with an
    export (K6), and d7tui reads no export back."""
    target = path.resolve()
    if store_path is not None:
        store = store_path.resolve()
        if target.parent == store.parent and target.name.startswith(store.name):
            raise WouldReplaceDatabase(f"{path} is d7tui's own database (or a file of it)")
    if not target.is_file():  # none there, or a FIFO or a device: never opened here
        return
    try:
        with open(target, "rb") as existing:
            head = existing.read(16)
    except OSError:  # not to be read: nothing of a database is at stake
        return
    if head.startswith(_DATABASE_MAGIC):
        raise WouldReplaceDatabase(f"{path} is an SQLite database")


def export_to_file(
    store: Store,
    fmt: Format,
    path: Path | None = None,
    *,
    directory: Path | None = None,
    now: float | None = None,
    keep_text: bool = False,
) -> tuple[Path, ExportCounts]:
    """Export into a file (mode 0600: it holds phone numbers); where it went, and how much.

    Without `path`, a new `d7tui-export-<time>.<fmt>` in `directory` (default: the working
    directory). See `write_private_file`. WouldReplaceDatabase when `path` names a database.
    """
    if path is not None:
        check_not_a_database(path, store.path)
    return write_private_file(
        fmt,
        lambda out: export(store, fmt, out, now=now, keep_text=keep_text),
        path,
        directory=directory,
        now=now,
    )


def write_private_file(
    fmt: Format,
    write: Callable[[TextIO], T],
    path: Path | None = None,
    *,
    directory: Path | None = None,
    now: float | None = None,
    stem: str = "d7tui-export",
) -> tuple[Path, T]:
    """Write a file only its owner can read (mode 0600) with `write`; where it went, and what
    `write` returned. Without `path`, a new `<stem>-<time>.<fmt>` in `directory` (default: the
    working directory), never overwriting one. The file appears whole or not at all (written
    beside it, then renamed); a path that names a FIFO or a device is written through, and a
    symlink writes the file it points to. A CSV file starts with a UTF-8 byte order mark, without which
    Excel misreads non-ASCII text (a FIFO or a device does not: a program reads it)."""
    if path is None:
        base = directory or Path.cwd()
        path = base / default_name(fmt, now, stem)
        n = 1
        while path.exists():
            n += 1
            path = base / default_name(fmt, now, stem).replace(f".{fmt}", f"-{n}.{fmt}")
    encoding = "utf-8-sig" if fmt == "csv" else "utf-8"
    # A symlink is written where it points (replacing the link would cut it off from its
    # target); a FIFO, a device or anything else that is not a regular file is written through,
    # never replaced (`-o /dev/stdout`, `-o /dev/full` as root, a pipe to another program).
    if path.exists() and not path.is_file() and not path.is_dir():  # (symlinks followed)
        # A stream goes to another program, not to Excel: no byte order mark, as on stdout.
        with open(path, "w", encoding="utf-8", newline="") as out:
            result = write(out)
        return path, result
    target = path.resolve() if path.is_symlink() else path
    prefix = f".{stem}-{socket.gethostname()}-"
    _remove_left_behind(target.parent, prefix)
    fd, tmp = tempfile.mkstemp(prefix=f"{prefix}{os.getpid()}-", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="") as out:
            result = write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path, result


def _remove_left_behind(directory: Path, prefix: str) -> None:
    """The half-written files of exports killed (kill -9, a crash) on this machine, by the
    process named in their name, which no longer runs: each was as large as the export."""
    with contextlib.suppress(OSError):
        for left in directory.glob(f"{glob.escape(prefix)}*"):
            pid = left.name[len(prefix) :].split("-", 1)[0]
            if not pid.isdigit() or left.is_symlink() or not left.is_file():
                continue
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                with contextlib.suppress(OSError):
                    left.unlink()
            except (OSError, OverflowError):
                continue  # alive under another user, or no such number: left alone


# -- JSON --------------------------------------------------------------------------------------


def _watch_dict(w: WatchRecord, stored: StoredState | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "request_id": w.request_id,
        "channel": w.channel,
        "id_kind": w.id_kind.value,
        "label": w.label,
        "note": w.note,
        "added_at": w.added_at,
        "resolved_channel": w.resolved_channel,
        "archived_at": w.archived_at,
        "state": None,
    }
    if stored is not None:
        out["state"] = {
            "channel": stored.state.channel.value,
            "fields": stored.state.fields,
            "observed_at": stored.observed_at,
            "changed_at": stored.changed_at,
            "final_since": stored.final_since,
        }
    return out


def _write_json(contents: _Contents, out: TextIO, exported_at: float) -> None:
    """The document, written a record at a time (as json.dumps(indent=1) would lay it out): a
    whole document built first took ten times the file's size (K12: 813 MB for one Infobip bulk
    of 50,000 recipients, a 78 MB file)."""
    # ASCII-only JSON: any terminal or pipe encoding takes it, and programs read it the same.
    out.write(f'{{\n "d7tui_export": {strict_json(EXPORT_VERSION)},\n')
    out.write(f' "exported_at": {strict_json(exported_at)},\n')
    _write_array(out, "watchlist", (_watch_dict(w, stored) for w, stored in contents.heads()))
    out.write(",\n")
    _write_array(out, "recipients", _recipients_json(contents))
    out.write(",\n")
    _write_array(out, "transitions", map(codec.transition_to_dict, contents.timeline()))
    out.write("\n}\n")


def _write_array(out: TextIO, name: str, items: Iterable[Any]) -> None:
    """` "name": [...]` at the document's first level, one item at a time."""
    out.write(f" {strict_json(name)}: [")
    empty = True
    for item in items:
        out.write("\n  " if empty else ",\n  ")
        out.write(strict_json(item, indent=1).replace("\n", "\n  "))
        empty = False
    out.write("]" if empty else "\n ]")


def _recipients_json(contents: _Contents) -> Iterator[dict[str, Any]]:
    for stored in contents.states():
        state = stored.state
        for i, r in enumerate(state.recipients):
            explained = explain(state.channel, r)
            yield {
                "request_id": state.request_id,
                "position": i,
                **codec.recipient_to_dict(r),
                "explanation": explained.to_json() if explained is not None else None,
            }


# -- CSV ---------------------------------------------------------------------------------------


def safe_cell(text: str) -> str:
    """A text cell no spreadsheet will run as a formula (see the module's docstring)."""
    if text.startswith(_FORMULA_START) and not _NUMBERISH.fullmatch(text):
        return "'" + text
    return text


def csv_cell(column: str, value: Any) -> str:
    """One CSV cell: times in ISO 8601 UTC to the millisecond (`2026-11-30T15:26:28.720Z`), JSON
    for objects, never a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if column in TIME_COLUMNS:
        return datetime.fromtimestamp(value, UTC).strftime(TIME_FORMAT)[:-3] + "Z"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return safe_cell(strict_json(value, ensure_ascii=False)) if value else ""
    return safe_cell(str(value))


def _csv_rows(contents: _Contents) -> Iterator[dict[str, Any]]:
    for w, stored in contents.heads():
        row: dict[str, Any] = {"record": "watch", **_watch_dict(w, None)}
        del row["state"]
        if stored is not None:
            row.update(
                state_channel=stored.state.channel.value,
                observed_at=stored.observed_at,
                changed_at=stored.changed_at,
                final_since=stored.final_since,
                fields=stored.state.fields,
            )
        yield row
    for stored in contents.states():
        state = stored.state
        for i, r in enumerate(state.recipients):
            explained = explain(state.channel, r)
            yield {
                "record": "recipient",
                "request_id": state.request_id,
                "position": i,
                **codec.recipient_to_dict(r),
                **(
                    {
                        "outcome": explained.outcome.value,
                        "explanation": explained.meaning,
                        "next_step": explained.next_step,
                    }
                    if explained is not None
                    else {}
                ),
            }
    for t in contents.timeline():
        yield {"record": "transition", **codec.transition_to_dict(t)}


def _write_csv(contents: _Contents, out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in _csv_rows(contents):
        writer.writerow([csv_cell(c, row.get(c)) for c in CSV_COLUMNS])
