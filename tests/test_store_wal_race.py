"""The store's `-wal` deleted again and again under a running monitor while `d7tui add` runs
(finding F2 of t7, and F2b): ids `d7tui add` said it added were in no store, an add took the
store for damaged (a read through the deleted `-wal`) and started a new, empty one, a full
copy of the store was kept at every deletion, and the store was made again readable by all.

The monitor is a process of its own here (`LOOKER`: the store opened by d7tui and looked at
as the monitor's writer looks when idle); the races are made to happen at the one moment they
need, each by doing at that moment what a cleanup job does (`rm -f d7tui.sqlite3-wal`).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from d7tui.store import Store, Which, core


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Where `d7tui add` writes (XDG_DATA_HOME: conftest's)."""
    path = tmp_path / "xdg-data" / "d7tui" / "d7tui.sqlite3"
    path.parent.mkdir(parents=True)
    return path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_store_gone_as_it_is_opened_is_made_again_whole_and_0600(db, monkeypatch):
    """F2b: the file set aside between the look at the path and the first connection: SQLite
    made a new, empty file there with the umask's mode (0644, the phone numbers readable by
    every local user), and its -wal and -shm with it."""
    with Store.open(db) as store:
        store.add_watch("r1", "sms")
    real = core.wait_for_one_index

    def then_gone(path, timeout=None):
        said = real(path, timeout)
        if db.exists():
            os.replace(db, db.with_name("elsewhere"))  # another d7tui set it aside
        return said

    monkeypatch.setattr(core, "wait_for_one_index", then_gone)
    umask = os.umask(0o022)
    try:
        with Store.open(db) as store:
            store.add_watch("r2", "sms")
            assert [w.request_id for w in store.watches(Which.KEPT)] == ["r2"]
            for name in ("", "-wal", "-shm"):
                assert mode(Path(f"{db}{name}")) == 0o600, name
    finally:
        os.umask(umask)
