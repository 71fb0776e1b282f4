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
import re
import select
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from d7tui.cli import main
from d7tui.store import Store, Which, commands, core
from d7tui.store.files import prune_aside

ONE = "33333333-2222-4333-8444-555555555555"

LOOKER = """\
import select, sys
from d7tui.store import Store
store = Store.open(sys.argv[1])
for n in range(int(sys.argv[2])):
    store.add_watch(f"held-{n}", "sms", label="mon")  # in the WAL, not checkpointed
print("ready", flush=True)
while not select.select([sys.stdin], [], [], 0.02)[0]:  # looks as the monitor does when idle
    said = store.check_file(lock=False)
    if said:
        print(" ".join(said.split()), flush=True)
store.close()
"""


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Where `d7tui add` writes (XDG_DATA_HOME: conftest's)."""
    path = tmp_path / "xdg-data" / "d7tui" / "d7tui.sqlite3"
    path.parent.mkdir(parents=True)
    return path


def said_by(proc: subprocess.Popen[str], timeout: float = 30) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "the monitor said nothing"
    return proc.stdout.readline().strip()


@pytest.fixture
def monitor(db: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", LOOKER, str(db), "5"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert said_by(proc) == "ready"
        yield proc
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(30)


def kept(db: Path) -> list[str]:
    return sorted(
        p.name for p in db.parent.iterdir() if ".kept-" in p.name or ".damaged-" in p.name
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_an_add_that_committed_into_a_store_written_back_under_it_adds_again(
    db, monitor, monkeypatch, capsys
):
    """The -wal deleted after `d7tui add` opened the store: the monitor wrote the store back
    from its own copy and set the old file aside, then the add committed into the old file and
    said "added 1": the id was in no store (found 12 of 60 ids so lost)."""
    real = commands.add_ids
    raced: list[str] = []

    def after_the_write_back(store, *args, **kwargs):
        if not raced:
            Path(f"{db}-wal").unlink()
            raced.append(said_by(monitor))  # written back before this commit
        return real(store, *args, **kwargs)

    monkeypatch.setattr(commands, "add_ids", after_the_write_back)
    code = main(["add", "--channel", "sms", "--label", "shell", ONE])
    out, err = capsys.readouterr()
    assert "-wal was deleted while d7tui ran" in raced[0]
    assert (code, out.strip(), err) == (0, "added 1, already watched 0", "")
    with Store.open(db) as store:
        labels = {w.request_id: w.label for w in store.watches(Which.KEPT)}
    assert labels == {ONE: "shell"} | {f"held-{n}": "mon" for n in range(5)}
    # Written back whole: no copy of it kept (a deletion a second kept a full copy a second).
    assert kept(db) == []


def test_an_open_reading_through_a_wal_deleted_that_moment_never_takes_the_store_for_damaged(
    db, monitor, monkeypatch
):
    """The -wal deleted between `d7tui add`'s look at the files and its first read: SQLite read
    the monitor's pages past the end of a new, empty -wal ("Page 20: unable to get the page.
    error code=522"), and the add set the live store aside as damaged and started a new, empty
    one, without the monitor's ids."""
    real = core.wait_for_one_index
    deleted: list[bool] = []

    def then_deleted(path, timeout=None):
        said = real(path, timeout)
        if not deleted:
            deleted.append(True)
            Path(f"{db}-wal").unlink()
        return said

    monkeypatch.setattr(core, "wait_for_one_index", then_deleted)
    with Store.open(db) as store:
        assert store.notices == []
        assert {w.request_id for w in store.watches(Which.KEPT)} == {f"held-{n}" for n in range(5)}
        store.add_watch(ONE, "sms")
    assert deleted and kept(db) == []
    assert re.search(r"-wal was (deleted|replaced) while d7tui ran", said_by(monitor))


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


def test_copies_set_aside_are_at_most_three_the_first_and_the_newest(tmp_path):
    db = tmp_path / "d7tui.sqlite3"
    names = [f"d7tui.sqlite3.kept-20261201T00390{n}" for n in range(6)]
    for name in names:
        for suffix in ("", "-wal", "-shm"):
            (tmp_path / f"{name}{suffix}").write_bytes(b"x")
    (tmp_path / "d7tui.sqlite3.damaged-20261201T003900").write_bytes(b"x")
    prune_aside(db, "kept")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(
        [f"{name}{suffix}" for name in (names[0], *names[-2:]) for suffix in ("", "-wal", "-shm")]
        + ["d7tui.sqlite3.damaged-20261201T003900"]
    )
