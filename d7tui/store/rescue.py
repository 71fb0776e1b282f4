"""What could not be committed before d7tui ended: kept in a file, and taken into the store at
the next open.

A reports body is pulled once and never again, and an id added or a label typed exists nowhere
else; if the disk is still full when the monitor (or `d7tui status`) ends, every write it still
holds (journal.py: report pages, ids added, labels and notes, poll results ...) is written as
JSON Lines beside the database, or, if that disk cannot take them either, in the temporary
directory, named after the database so the next open finds them. `open_store` replays them in
order, in one transaction per file, and only then deletes the file.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from d7tui.store.core import Store
from d7tui.store.errors import StoreError
from d7tui.store.heldlog import HeldLog, check_private, in_use, legacy_place, places
from d7tui.store.journal import NAMES, Action, counted, replay
from d7tui.store.reports import ReportParser


def keep_elsewhere(db: Path, actions: Sequence[Action]) -> Path | None:
    """Write `actions` (journal.py) to a file the next open of `db` replays; its path, or None
    if no place could take them."""
    log = HeldLog(db)  # a new file, whole or not at all, under a name no other file has
    try:
        return log.path if log.append(actions) else None
    finally:
        log.close()


def report_actions(bodies: Sequence[tuple[str, bytes]]) -> list[Action]:
    return [("report", {"ident": ident, "body": body}) for ident, body in bodies]


NOT_YOURS = "another user's file: never taken in"
OPEN_TO_OTHERS = "other users may write it: never taken in"
_NAMED = 3  # files of the user's own named in the line that says they cannot be taken in
# Directories whose held files that are not the user's were said already: once a process is
# enough for what the user cannot change (they are another user's, in a directory where only
# their owner or an admin can delete them), and 300 of them made a 5 KB warning at every start.
_said_not_yours: set[Path] = set()


def held_files(db: Path) -> list[Path]:
    """The held files of `db`: beside it, in the user's own directory (not if it is not private:
    nothing there is the user's alone), and where an older d7tui put them (its files are taken
    in only if they are the user's own, `_load`)."""
    beside, private = places(db)
    where = [beside, legacy_place(db)]
    with contextlib.suppress(OSError):
        check_private(private[0])
        where.append(private)
    return sorted(
        {path for directory, prefix in where for path in directory.glob(f"{prefix}*.jsonl")}
    )


def _load(path: Path) -> list[dict[str, Any]] | str:
    """The writes a held file holds, or why it cannot be taken in. Only a plain file of this
    user's that no one else may write: the temporary directory is everyone's, and a file
    planted there under the name this store's held file has must not write into the store."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC)
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return "not a plain file"
        if hasattr(os, "getuid") and st.st_uid != os.getuid():
            return NOT_YOURS
        if st.st_mode & 0o022:
            return OPEN_TO_OTHERS
        with os.fdopen(os.dup(fd), "rb") as fh:
            data = fh.read()
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    finally:
        os.close(fd)
    # A last line without its newline is one a killed d7tui was writing: never said kept.
    try:
        lines = [json.loads(line.decode("ascii")) for line in data.split(b"\n")[:-1] if line]
    except ValueError:  # UnicodeDecodeError too
        return "a line is not JSON"
    if not all(isinstance(line, dict) and line.get("kind", "report") in NAMES for line in lines):
        return "not writes this d7tui knows"
    return lines


class Found(NamedTuple):
    waiting: list[tuple[Path, int]]  # each file to be taken in, with how many writes
    left: list[tuple[Path, str]]  # each file that cannot be, and why


def waiting(db: Path) -> Found:
    """The held files of `db` not taken in yet: those the next open takes in, each with how
    many writes it holds, and those it cannot, with why."""
    found = Found([], [])
    for path in held_files(db):
        loaded = _load(path)
        if isinstance(loaded, str):
            found.left.append((path, loaded))
        else:
            found.waiting.append((path, len(loaded)))
    return found


def said_taken(taken: Sequence[tuple[Path, int]]) -> str:
    """The line saying what `take_in` took in, from which files."""
    writes, files = _held_writes(taken)
    return (
        f"took in {writes} (ids, labels, notes, results, report pages a previous d7tui could "
        f"not save) from {files}"
    )


def said_waiting(held: Sequence[tuple[Path, int]]) -> str:
    """The line saying that writes are held, not in the store yet (an export lacks them)."""
    writes, files = _held_writes(held)
    one = sum(n for _, n in held) == 1
    return (
        f"{writes} (what a d7tui could not save before it ended) in {files} "
        f"{'is' if one else 'are'} not in the store yet, nor in this export: the next d7tui "
        f"that writes to this store (the monitor, d7tui add) takes {'it' if one else 'them'} in"
    )


def _held_writes(held: Sequence[tuple[Path, int]]) -> tuple[str, str]:
    count = sum(n for _, n in held)
    return f"{count:,} held write{'' if count == 1 else 's'}", ", ".join(str(p) for p, _ in held)


class Intake(NamedTuple):
    taken: list[tuple[Path, int]]  # each file taken in, with how many writes
    left: list[tuple[Path, str]]  # each file that could not be, and why: kept as it is


def take_in(store: Store, parse: ReportParser) -> Intake:
    """Replay every held file of this store, each in one transaction, each file then deleted.
    A file that cannot be read is left where it is, untouched, for whoever looks (`said_left`):
    it may hold the only copy of what someone typed."""
    intake = Intake([], [])
    for path in held_files(store.path):
        if in_use(path):
            continue  # a running d7tui is writing it: its own, until it ends
        lines = _load(path)
        if isinstance(lines, str):
            intake.left.append((path, lines))
            continue
        try:
            with store.batch():  # raises StoreError: the file stays, nothing half-done
                for line in lines:
                    replay(store, line, parse)
        except (KeyError, TypeError, ValueError, AttributeError):
            intake.left.append((path, "not writes this d7tui knows"))
            continue
        with contextlib.suppress(OSError):
            path.unlink()
        intake.taken.append((path, len(lines)))
    return intake


def said_left(left: Sequence[tuple[Path, str]]) -> str | None:
    """The line saying which held files could not be taken in, each kept as it is: the user's
    own by name (a few, then how many more), those that are not theirs by how many and where,
    once a process. None when there is nothing new to say."""
    own = [(path, why) for path, why in left if why not in (NOT_YOURS, OPEN_TO_OTHERS)]
    planted: dict[Path, int] = {}
    for path, why in left:
        if why in (NOT_YOURS, OPEN_TO_OTHERS):
            planted[path.parent] = planted.get(path.parent, 0) + 1
    parts = []
    if own:
        files = "; ".join(f"{path} ({why})" for path, why in own[:_NAMED])
        more = f"; and {len(own) - _NAMED:,} more" if len(own) > _NAMED else ""
        parts.append(
            f"held writes (what a d7tui could not save before it ended) cannot be taken in from "
            f"{files}{more}: kept as they are, for you to look at (move them away to be rid of "
            "this line)"
        )
    for directory, count in sorted(planted.items()):
        if directory not in _said_not_yours:
            _said_not_yours.add(directory)
            parts.append(
                f"{count:,} file{'' if count == 1 else 's'} named as this store's held writes in "
                f"{directory} {'is' if count == 1 else 'are'} not yours (another user's, or "
                "writable by others): ignored; an admin can remove them"
            )
    return "; ".join(parts) or None


def farewell(
    db: Path, actions: Sequence[Action], why: StoreError | None, log: HeldLog | None = None
) -> str:
    """The line said when d7tui ends with writes it could not commit. `log`: where they were
    kept as they were held; if it holds them all, it is the file, else they are written whole
    to a new one and it goes."""
    kept = log.path if log is not None and log.complete else None
    if kept is None:
        kept = keep_elsewhere(db, actions)
        if kept is not None and log is not None:
            log.discard()
    partial = log.path if log is not None and kept is None else None
    if log is not None:
        log.close()
    because = f" ({why})" if why is not None else ""
    what = counted(kind for kind, _ in actions)
    if kept is None:
        some = f" (the first of them are kept in {partial}, which the next start takes in)"
        return (
            f"{what} could not be saved{because}, nor written anywhere else: they were shown, "
            f"and are lost now{some if partial is not None else ''}"
        )
    return (
        f"{what} could not be saved{because}: kept in {kept}, which the next d7tui started "
        "on this store takes in"
    )
