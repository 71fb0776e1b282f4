"""The watchlist rows a database's WAL still holds once the database file itself is gone.

Emptied in place (`: > d7tui.sqlite3`), a store can be written again only from what the process
holds in memory (moved.py); what another process committed that this one had not read yet (an
id `d7tui add` added a second before) is in no memory. It is still in the WAL set aside with the
damaged file: a WAL holds whole page images of every page a commit since the last checkpoint
changed, the watch table's leaf page among them when an id was added or relabelled. SQLite does
not open a WAL without its database, so its pages are read here: the frames of the WAL's current
generation (its salts) up to its last commit, checksums checked; the newest image of each page;
table-leaf pages decoded into records; and the records shaped like a watch row kept (an id, a
channel, an id kind, a label, when it was added). A row whose payload spilled onto a page the
WAL does not hold is counted in `unread`: its id cannot be told.
"""

from __future__ import annotations

import contextlib
import struct
from pathlib import Path
from typing import Any, NamedTuple

from d7tui.models import CHANNEL_CHOICES, IdKind
from d7tui.store.records import WatchRecord

_MAGIC = (0x377F0682, 0x377F0683)  # little- or big-endian checksums
_KINDS = {kind.value for kind in IdKind}
_TABLE_LEAF = 0x0D
# The watch table's columns in the order a file of this schema has them (schema.py: the table,
# then each version's ALTER TABLE ... ADD COLUMN); tests/test_walread.py checks it.
WATCH_COLUMNS = (
    "request_id",
    "channel",
    "id_kind",
    "label",
    "added_at",
    "resolved_channel",
    "note",
    "archived_at",
    "removed_at",
    "added_by",
    "noted_by",
    "noted_at",
    "archived_by",
)


def wal_of(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def watched_in_wal(path: Path) -> tuple[list[WatchRecord], int]:
    """The ids on the watchlist (not removed) that the WAL of the database at `path` holds,
    with label and note; and how many rows of it could not be read whole."""
    found = watch_rows(wal_of(path), list(WATCH_COLUMNS))
    records = []
    for row in found.rows:
        if row["removed_at"] is not None:
            continue
        with contextlib.suppress(TypeError, ValueError):
            records.append(
                WatchRecord(
                    request_id=row["request_id"],
                    channel=row["channel"],
                    id_kind=IdKind(row["id_kind"]),
                    label=row["label"],
                    note=row["note"] or "",
                    added_at=float(row["added_at"]),
                    resolved_channel=row["resolved_channel"],
                    archived_at=row["archived_at"],
                    removed_at=None,
                    seq=0,
                    added_by=row["added_by"],
                    noted_by=row["noted_by"],
                    noted_at=row["noted_at"],
                    archived_by=row["archived_by"],
                )
            )
    return records, found.unread


class WalRows(NamedTuple):
    rows: list[dict[str, Any]]  # each watch row found, by column name, newest image first wins
    unread: int  # cells that spilled onto pages the WAL lacks


def watch_rows(wal: Path, columns: list[str]) -> WalRows:
    """The watch rows (`columns`: the watch table's, in order) in the WAL file `wal`; nothing
    if it cannot be read or is no WAL."""
    try:
        data = wal.read_bytes()
    except OSError:
        return WalRows([], 0)
    pages, size = _pages(data)
    found: dict[str, dict[str, Any]] = {}
    unread = 0
    for number in sorted(pages, key=lambda n: pages[n][1]):  # older images first
        page = pages[number][0]
        for values in _leaf_records(page, number, size, pages):
            if values is None:
                unread += 1
                continue
            row = _as_watch(values, columns)
            if row is not None:
                found[row["request_id"]] = row  # a newer image of the row wins
    return WalRows(list(found.values()), unread)


def _checksum(data: bytes, s0: int, s1: int, big: bool) -> tuple[int, int]:
    words = struct.unpack(f"{'>' if big else '<'}{len(data) // 4}I", data)
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
    return s0, s1


def _pages(data: bytes) -> tuple[dict[int, tuple[bytes, int]], int]:
    """The newest committed image of each page, with its frame number; the page size."""
    if len(data) < 32:
        return {}, 0
    magic, _, size, _, salt1, salt2, c1, c2 = struct.unpack(">8I", data[:32])
    if magic not in _MAGIC or size < 512 or size & (size - 1):
        return {}, 0
    big = magic == _MAGIC[1]
    s = _checksum(data[:24], 0, 0, big)
    if s != (c1, c2):
        return {}, 0
    committed: dict[int, tuple[bytes, int]] = {}
    pending: dict[int, tuple[bytes, int]] = {}
    at, frame = 32, 0
    while at + 24 + size <= len(data):
        number, commit, f1, f2, k1, k2 = struct.unpack(">6I", data[at : at + 24])
        page = data[at + 24 : at + 24 + size]
        if (f1, f2) != (salt1, salt2):
            break  # a frame of an older generation: what follows is not this one's
        s = _checksum(data[at : at + 8] + page, *s, big)
        if s != (k1, k2):
            break  # torn: never committed
        frame += 1
        pending[number] = (page, frame)
        if commit:
            committed.update(pending)
            pending = {}
        at += 24 + size
    return committed, size


def _varint(buf: bytes, at: int) -> tuple[int, int]:
    value = 0
    for i in range(8):
        byte = buf[at + i]
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, at + i + 1
    return (value << 8) | buf[at + 8], at + 9


def _leaf_records(
    page: bytes, number: int, size: int, pages: dict[int, tuple[bytes, int]]
) -> list[list[Any] | None]:
    """The records of a table-leaf page (None for one whose overflow pages are missing)."""
    start = 100 if number == 1 else 0
    if len(page) < start + 8 or page[start] != _TABLE_LEAF:
        return []
    (cells,) = struct.unpack(">H", page[start + 3 : start + 5])
    usable = size
    records: list[list[Any] | None] = []
    for i in range(cells):
        with contextlib.suppress(IndexError, struct.error, ValueError, UnicodeDecodeError):
            (cell,) = struct.unpack(">H", page[start + 8 + 2 * i : start + 10 + 2 * i])
            length, at = _varint(page, cell)
            _, at = _varint(page, at)  # the rowid
            payload = _payload(page, at, length, usable, pages)
            records.append(None if payload is None else _record(payload))
    return records


def _payload(
    page: bytes, at: int, length: int, usable: int, pages: dict[int, tuple[bytes, int]]
) -> bytes | None:
    most = usable - 35
    if length <= most:
        return page[at : at + length]
    least = (usable - 12) * 32 // 255 - 23
    local = least + (length - least) % (usable - 4)
    if local > most:
        local = least
    parts = [page[at : at + local]]
    (nxt,) = struct.unpack(">I", page[at + local : at + local + 4])
    left = length - local
    while left > 0:
        found = pages.get(nxt)
        if found is None:
            return None
        overflow = found[0]
        take = min(left, usable - 4)
        parts.append(overflow[4 : 4 + take])
        left -= take
        (nxt,) = struct.unpack(">I", overflow[:4])
    return b"".join(parts)


def _record(payload: bytes) -> list[Any]:
    header, at = _varint(payload, 0)
    types = []
    while at < header:
        kind, at = _varint(payload, at)
        types.append(kind)
    values: list[Any] = []
    at = header
    for kind in types:
        if kind == 0:
            values.append(None)
        elif 1 <= kind <= 6:
            width = (1, 2, 3, 4, 6, 8)[kind - 1]
            values.append(int.from_bytes(payload[at : at + width], "big", signed=True))
            at += width
        elif kind == 7:
            values.append(struct.unpack(">d", payload[at : at + 8])[0])
            at += 8
        elif kind in (8, 9):
            values.append(kind - 8)
        elif kind >= 12:
            width = (kind - 12) // 2 if kind % 2 == 0 else (kind - 13) // 2
            chunk = payload[at : at + width]
            values.append(chunk.decode() if kind % 2 else chunk)
            at += width
        else:
            raise ValueError("reserved serial type")
    return values


def _as_watch(values: list[Any], columns: list[str]) -> dict[str, Any] | None:
    """A record as a watch row, if it is shaped like one (older rows lack the newer columns)."""
    if not 6 <= len(values) <= len(columns):
        return None
    rid, channel, kind, label, added = values[:5]
    if not (isinstance(rid, str) and rid and isinstance(label, str)):
        return None
    if channel not in CHANNEL_CHOICES or kind not in _KINDS:
        return None
    if not isinstance(added, (int, float)) or isinstance(added, bool):
        return None
    row = dict.fromkeys(columns)
    row.update(zip(columns, values, strict=False))
    return row
