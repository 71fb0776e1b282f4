"""One-time Infobip reports that could not be committed before d7tui ended: kept in a file, and
taken into the store at the next open.

A reports body is pulled once and never again; if the disk is still full when the monitor (or
`d7tui status`) ends, the bodies it holds are written as JSON Lines beside the database, or, if
that disk cannot take them either, in the temporary directory, named after the database so the
next open finds them. `open_store` commits them and only then deletes the file.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from d7tui.store.core import Store
from d7tui.store.errors import StoreError
from d7tui.store.reports import ReportParser


def _places(db: Path) -> list[tuple[Path, str]]:
    # Beside the database; else the temporary directory, under a name only this database uses.
    tag = hashlib.sha256(str(db.resolve()).encode()).hexdigest()[:12]
    return [(db.parent, f"{db.name}.held-"), (Path(tempfile.gettempdir()), f"d7tui-held-{tag}-")]


def keep_elsewhere(db: Path, bodies: Sequence[tuple[str, bytes]]) -> Path | None:
    """Write `(ident, body)` pairs to a file the next open of `db` takes in; its path, or None
    if no place could take them."""
    lines = "".join(
        json.dumps({"ident": ident, "body": base64.b64encode(body).decode()}) + "\n"
        for ident, body in bodies
    )
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for directory, prefix in _places(db):
        path = directory / f"{prefix}{stamp}-{os.getpid()}.jsonl"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(lines)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError:
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        return path
    return None


def held_files(db: Path) -> list[Path]:
    return sorted(
        found for directory, prefix in _places(db) for found in directory.glob(f"{prefix}*.jsonl")
    )


def _read(path: Path) -> Iterable[tuple[str, bytes]]:
    for line in path.read_text(encoding="ascii").splitlines():
        item = json.loads(line)
        yield str(item["ident"]), base64.b64decode(item["body"])


def take_in(store: Store, parse: ReportParser) -> int:
    """Commit the bodies of every held file of this store, each file then deleted; how many
    bodies. A file that cannot be read is left where it is."""
    taken = 0
    for path in held_files(store.path):
        try:
            bodies = list(_read(path))
        except (OSError, ValueError, KeyError):
            continue
        for ident, body in bodies:
            store.ingest_report(ident, body, parse)  # raises StoreError: the file stays
        with contextlib.suppress(OSError):
            path.unlink()
        taken += len(bodies)
    return taken


def farewell(db: Path, bodies: Sequence[tuple[str, bytes]], why: StoreError | None) -> str:
    """The line said when d7tui ends with report bodies it could not commit."""
    kept = keep_elsewhere(db, bodies)
    because = f" ({why})" if why is not None else ""
    what = (
        "1 Infobip reports page" if len(bodies) == 1 else f"{len(bodies):,} Infobip reports pages"
    )
    if kept is None:
        return (
            f"{what} could not be stored{because}, nor written anywhere else: their reports "
            "were shown, and are lost now"
        )
    return (
        f"{what} could not be stored{because}: kept in {kept}, which the next d7tui started "
        "on this store takes in"
    )
