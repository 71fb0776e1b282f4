"""J18: what is held while the store cannot be written is on disk as it is held, not only at
quit: a kill -9 on a full disk (or with a read-only store) loses no id added and no label or
note typed, and the next start takes them in. When no disk takes them either, the line about
held writes says plainly that they are only in memory.

The full disk is a real tmpfs filled up (faultfs.py; without the right to mount, the store's
transaction refuses as SQLite does on ENOSPC, in the child as in the test); the read-only
directories are real (a read-only bind mount, or chmod). The kill is a real SIGKILL of a child
process, waited for on the lines it prints, never a sleep.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from pathlib import Path

import pytest
from faultfs import read_only, small_disk
from test_store_crash import Child

from d7tui.channels.infobip import parse_page
from d7tui.store import AsyncStore, Store, StoreError, Which, open_store
from d7tui.store.heldlog import HeldLog, places, private_dir
from d7tui.store.rescue import held_files

HELD_CHILD = r"""
import asyncio, sys
from pathlib import Path
from d7tui.channels.infobip import parse_page
from d7tui.store import AsyncStore, StoreError, StoreUnavailable, open_store
from d7tui.store.db import Database

path, mode = sys.argv[1], sys.argv[2]
if sys.argv[4:] == ["inject"]:  # no tmpfs could be mounted: the disk refuses as SQLite says
    def batch(db):
        raise StoreUnavailable(f"{db.path}: the disk is full (database or disk is full)")

if mode == "full":
    async def main():
        astore = AsyncStore(open_store(path, parse_report=parse_page), parse_report=parse_page)
        print("ready", flush=True)
        sys.stdin.readline()  # the disk is full now
        if sys.argv[4:] == ["inject"]:
            Database.batch = batch
        astore.add_watch("added-on-full-disk", label="ADDED")
        astore.set_label_note("one", "EDITED", "customer ticket 4711")
        print("kept", await astore.kept(), flush=True)
        sys.stdin.readline()  # killed while waiting here
    asyncio.run(main())

elif mode == "read-only":  # the monitor's store could not be opened for writing at all
    from d7tui.held_writes import HeldWrites
    from d7tui.models import Target
    held = HeldWrites(Path(path), StoreError(f"{path}: its directory is read-only"))
    print("ready", flush=True)
    held.add(Target("added-read-only"), "ADDED", 1.0)
    held.set_label_note("one", "EDITED", "customer ticket 4711")
    print("kept", held.written(), flush=True)
    sys.stdin.readline()
"""


def kept_watches(db: Path) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """What the next start on `db` finds (labels and notes by id), and what it said."""
    with open_store(db, parse_report=parse_page) as store:
        watches = {w.request_id: (w.label, w.note) for w in store.watches(Which.KEPT)}
        return watches, list(store.warnings)


def test_kill_9_on_a_full_disk_loses_no_id_added_nor_label_typed(tmp_path, monkeypatch):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))  # the next start looks where it wrote
    with small_disk(tmp_path / "disk", monkeypatch) as disk:
        db = tmp_path / "disk" / "d7tui.sqlite3"
        with Store.open(db) as store:
            store.add_watch("one", label="L1")
        inject = () if disk.real else ("inject",)
        child = Child(db, "full", 0, *inject, script=HELD_CHILD, env={"TMPDIR": str(tmp)})
        assert child.line() == "ready"
        disk.fill()
        child.tell("go")
        kept = Path(child.line().removeprefix("kept "))
        # The full disk refused the held file too: it went to the user's own directory in the
        # temporary directory.
        assert kept.parent == (private_dir() if disk.real else db.parent)
        assert b"customer ticket 4711" in kept.read_bytes()
        assert kept.stat().st_mode & 0o777 == 0o600
        child.kill()
        disk.free()
        watches, warnings = kept_watches(db)
    assert watches == {
        "one": ("EDITED", "customer ticket 4711"),
        "added-on-full-disk": ("ADDED", ""),
    }
    assert any("took in 2 held writes" in w and str(kept) in w for w in warnings)
    assert held_files(db) == []


def test_kill_9_with_a_read_only_store_loses_nothing_done_in_the_monitor(tmp_path, monkeypatch):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    db = tmp_path / "data" / "d7tui.sqlite3"
    db.parent.mkdir()
    with Store.open(db) as store:
        store.add_watch("one", label="L1")
    with read_only(db.parent):
        child = Child(db, "read-only", script=HELD_CHILD, env={"TMPDIR": str(tmp)})
        assert child.line() == "ready"
        kept = Path(child.line().removeprefix("kept "))
        assert kept.parent == tmp / f"d7tui-{os.getuid()}" == private_dir()
        assert kept.parent.stat().st_mode & 0o777 == 0o700  # the user's own (K2)
        child.kill()
    watches, warnings = kept_watches(db)
    assert watches == {"one": ("EDITED", "customer ticket 4711"), "added-read-only": ("ADDED", "")}
    assert any("took in 2 held writes" in w for w in warnings)
    assert held_files(db) == []


async def test_held_writes_are_appended_as_they_come_and_go_once_the_store_has_room(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    with small_disk(tmp_path / "disk", monkeypatch) as disk:
        db = tmp_path / "disk" / "d7tui.sqlite3"
        astore = AsyncStore(open_store(db))
        await astore.flush()
        disk.fill()
        astore.add_watch("a", label="first")
        path = await astore.kept()
        assert path is not None and path in held_files(db)
        before = path.read_bytes()
        inode = path.stat().st_ino
        astore.set_label("a", "second")
        assert await astore.kept() == path
        # One line more in the same file: an edit costs its own line, not the file again.
        after = path.read_bytes()
        assert path.stat().st_ino == inode and after.startswith(before)
        assert after[len(before) :].count(b"\n") == 1 and b"second" in after[len(before) :]
        assert (
            "written as it comes to" in astore.held_log.said()
            and str(path) in astore.held_log.said()
        )
        disk.free()
        astore.retry_now()
        await astore.flush()
        assert held_files(db) == []  # the store has them: nothing to take in twice
        await astore.aclose()
        with Store.open(db) as store:
            assert store.watch("a").label == "second"


async def test_when_no_disk_takes_the_held_writes_the_trouble_says_they_are_only_in_memory(
    tmp_path, monkeypatch
):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    with small_disk(tmp_path / "disk", monkeypatch) as disk:
        db = tmp_path / "disk" / "d7tui.sqlite3"
        told: list[str] = []
        astore = AsyncStore(open_store(db))
        astore.on_trouble = lambda error: told.append(astore.held_log.said() if error else "ok")
        await astore.flush()
        disk.fill()
        # The store's full disk refuses the held file; without a real one, its directory does.
        beside = read_only(db.parent) if not disk.real else contextlib.nullcontext()
        with read_only(tmp), beside:
            astore.add_watch("a", label="typed")
            with pytest.raises(StoreError):
                await astore.kept()  # never said kept: no disk took it
            assert told and told[-1].startswith("ONLY IN MEMORY") and "crash" in told[-1]
        disk.free()
        astore.retry_now()
        await astore.flush()
        assert told[-1] == "ok"
        await astore.aclose()
        with Store.open(db) as store:
            assert store.watch("a").label == "typed"


def test_a_held_file_its_d7tui_still_writes_is_left_to_it_and_a_torn_last_line_is_skipped(
    tmp_path,
):
    db = tmp_path / "d7tui.sqlite3"
    Store.open(db).close()
    log = HeldLog(db)
    log.append([("label_note", {"request_id": "x", "label": "mine", "note": None})])
    assert log.path is not None
    watches, _ = kept_watches(db)  # another d7tui opens the store meanwhile
    assert log.path.exists() and watches == {}
    add = b'{"kind": "add", "request_id": "x", "channel": "auto", "id_kind": "request_id"}\n'
    path = log.path
    log.close()  # its d7tui ended (a kill -9 drops the lock the same way) ...
    with path.open("ab") as fh:
        fh.write(b'{"kind": "add", "request_id": "torn", "chan')  # ... in the middle of a line
    path.write_bytes(add + path.read_bytes())
    watches, warnings = kept_watches(db)
    assert watches == {"x": ("mine", "")}
    assert any("took in 2 held writes" in w for w in warnings)
    assert not path.exists()


async def test_an_id_added_while_another_program_locks_the_store_is_in_the_held_file(tmp_path):
    """K9: the store locked by another program (a long exclusive transaction) holds writes
    like a full disk: the id added meanwhile is on disk at once, for the next start."""
    db = tmp_path / "d7tui.sqlite3"
    astore = AsyncStore(Store.open(db, busy_timeout=0.1))
    await astore.flush()
    locker = sqlite3.connect(db, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        astore.add_watch("added-while-locked", label="typed")
        kept = await astore.kept()
        assert kept is not None and b"added-while-locked" in kept.read_bytes()
        assert "locked" in str(astore.trouble)
    finally:
        locker.execute("COMMIT")
        locker.close()
    astore.retry_now()
    await astore.flush()
    assert held_files(db) == []
    await astore.aclose()
    with Store.open(db) as store:
        assert store.watch("added-while-locked").label == "typed"


def test_held_writes_go_to_a_directory_of_the_users_own_never_one_planted_for_them(
    tmp_path, monkeypatch
):
    """K2: the fallback was the shared temporary directory itself, where anyone can put a
    file under the name a store's held file has. Now it is a directory of the user's own in
    it (0700); a link planted where it would be is refused, and never looked in."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    tmp.chmod(0o1777)  # as /tmp is
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    db = tmp_path / "data" / "d7tui.sqlite3"
    db.parent.mkdir()
    Store.open(db).close()
    elsewhere = tmp / "someone-elses"
    elsewhere.mkdir()
    elsewhere.chmod(0o777)
    private_dir().symlink_to(elsewhere)
    planted = elsewhere / f"{places(db)[1][1]}20261130T000000-1-1.jsonl"
    planted.write_text('{"kind": "remove", "request_id": "x", "at": 1}\n')
    planted.chmod(0o600)
    with read_only(db.parent):
        log = HeldLog(db)
        assert not log.append([("label_note", {"request_id": "x", "label": "L", "note": None})])
        assert log.refused is not None and "not a directory" in log.refused
        assert held_files(db) == []  # the planted file is not looked at
        private_dir().unlink()
        assert log.append([])  # what it holds goes to the user's own, now made
        assert log.path is not None and log.path.parent == private_dir()
        assert private_dir().lstat().st_mode & 0o777 == 0o700
        assert held_files(db) == [log.path]
        log.close()
    assert [p.name for p in elsewhere.iterdir()] == [planted.name]
