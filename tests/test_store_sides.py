"""SQLite's files beside the store touched under a running monitor (findings L9, L14, L15).

The `-shm` emptied (every process mapping it died of SIGBUS), the `-wal` emptied (states and
transitions gone at the next start, nothing said), the `-shm` deleted (ids `d7tui add` said it
added, lost): each done for real to the files of a monitor driven with the pilot; `d7tui add`
run as the separate process it is (in this process it would share the monitor's index).
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from test_ui_memory import DELIVERS, SIZE, build
from ui_kit import entry, idle, screen_text, until

from d7tui.cli import main
from d7tui.models import Target
from d7tui.store import Store, Which, sides
from d7tui.store.sides import wait_for_one_index


def shown(app) -> str:
    return " ".join(screen_text(app).split())


async def polled(pilot, app, clock) -> None:
    """One more poll, committed."""
    clock.advance(5)
    app.poller.refresh()
    await idle(pilot, app)
    await app.memory.astore.flush()


async def test_the_shm_emptied_under_a_monitor_is_lengthened_again_and_nothing_is_lost(
    sim, clock, tmp_path
):
    """L9: `: > d7tui.sqlite3-shm`; the monitor's next read or write went through its mapping of
    the emptied file and the process died of SIGBUS (exit 135, terminal raw, nothing kept)."""
    db = tmp_path / "data" / "d7tui.sqlite3"
    one = sim.create_request("sms", ["+971500000001"], DELIVERS)
    app = build(sim, clock, db, [Target(one)], labels={one: "keepme"})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await idle(pilot, app)
        await app.memory.astore.flush()
        os.truncate(f"{db}-shm", 0)
        await polled(pilot, app, clock)  # reads and writes the store
        await app.pick_up_added()
        await until(pilot, lambda: "-shm (SQLite's index of the WAL) was emptied" in shown(app))
        assert "nothing was lost" in shown(app)
        # Again: the banner says it once, with a count (F3: it stacked the same lines).
        os.truncate(f"{db}-shm", 0)
        await polled(pilot, app, clock)
        await until(pilot, lambda: "nothing was lost (2 times)" in " ".join(app.notices))
        assert sum("was emptied" in n for n in app.notices) == 1
        app.set_label_note(one, "after", "a note")
        await app.memory.astore.flush()
        assert entry(app, one).label == "after"
    with Store.open(db) as store:
        assert store.integrity_check() == "ok"
        [watch] = store.watches(Which.KEPT)
        assert (watch.label, watch.note) == ("after", "a note")
        assert store.load_state(one).state.recipients[0].status == "delivered"


async def test_the_wal_emptied_under_a_monitor_is_said_and_what_it_shows_is_kept(
    sim, clock, tmp_path
):
    """L14: `: > d7tui.sqlite3-wal` took every state and transition committed since the last
    checkpoint; the monitor said nothing, went on writing into the emptied file and quit 0,
    and the next start found the store damaged, its states and history gone."""
    db = tmp_path / "data" / "d7tui.sqlite3"
    one = sim.create_request("sms", ["+971500000001"], DELIVERS)
    two = sim.create_request("sms", ["+971500000002"], DELIVERS)
    app = build(sim, clock, db, [Target(one), Target(two)], labels={one: "WL"})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await idle(pilot, app)
        await polled(pilot, app, clock)  # delivered: in the WAL, not in the file yet
        os.truncate(f"{db}-wal", 0)
        app.set_label_note(two, "after", "")  # the next write looks first
        await until(
            pilot, lambda: any("-wal was emptied while d7tui ran" in n for n in app.notices)
        )
        text = shown(app)
        assert "-wal was emptied while d7tui ran" in text
        assert "internal error" not in text
        [notice] = [n for n in app.notices if "-wal was emptied" in n]
        assert "kept as d7tui.sqlite3.kept-" in notice
        assert "2 requests with labels and notes, 2 last states, 4 transitions" in notice
    assert app.farewell == []
    with Store.open(db) as store:  # the next start: nothing the monitor showed is missing
        assert store.notices == []
        assert store.integrity_check() == "ok"
        labels = {w.request_id: w.label for w in store.watches(Which.KEPT)}
        assert labels == {one: "WL", two: "after"}
        for rid in (one, two):
            assert store.load_state(rid).state.recipients[0].status == "delivered"
            assert [t.new_status for t in store.transitions(rid)] == ["accepted", "delivered"]
    kept = re.search(r"kept as (d7tui\.sqlite3\.kept-[0-9T]+),", notice)
    # The file as it was before, for whoever looks.
    assert kept is not None and (db.parent / kept[1]).is_file()


async def test_the_wal_deleted_under_a_monitor_is_written_back_whole_from_its_own_copy(
    sim, clock, tmp_path
):
    """`rm d7tui.sqlite3-wal`: SQLite goes on with the deleted file, and all of it was gone at
    quit. The monitor still has it open: the store is written back from that, whole."""
    db = tmp_path / "data" / "d7tui.sqlite3"
    one = sim.create_request("sms", ["+971500000001"], DELIVERS)
    app = build(sim, clock, db, [Target(one)], labels={one: "WL"})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await idle(pilot, app)
        await polled(pilot, app, clock)
        Path(f"{db}-wal").unlink()
        app.set_label_note(one, "after", "")
        await until(
            pilot, lambda: any("-wal was deleted while d7tui ran" in n for n in app.notices)
        )
        [notice] = [n for n in app.notices if "-wal was deleted" in n]
        assert "written back whole and checked" in notice and "nothing is lost" in notice
    with Store.open(db) as store:
        [watch] = store.watches(Which.KEPT)
        assert watch.label == "after"
        assert [t.new_status for t in store.transitions(one)] == ["accepted", "delivered"]


async def d7tui_add(*argv: str) -> tuple[int, str, str]:
    """`d7tui add` from another shell: a process of its own (XDG_DATA_HOME: conftest's)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "d7tui",
        "add",
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "D7_API_TOKEN": "tok"},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_ids_added_from_a_shell_after_the_shm_was_deleted_reach_the_monitor(
    sim, clock, tmp_path
):
    """L15: `rm d7tui.sqlite3-shm`; the monitor kept its index of the deleted file, `d7tui add`
    made a new one, and each wrote the WAL without seeing the other: the add said "added", the
    monitor never showed the ids, and its next commits overwrote them."""
    db = tmp_path / "xdg-data" / "d7tui" / "d7tui.sqlite3"  # where `d7tui add` writes too
    one = sim.create_request("sms", ["+971500000001"], DELIVERS)
    later = [sim.create_request("sms", [f"+97150000001{n}"], DELIVERS) for n in range(2)]
    app = build(sim, clock, db, [Target(one)], labels={one: "SH"})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await idle(pilot, app)
        await app.memory.astore.flush()
        Path(f"{db}-shm").unlink()
        adding = asyncio.ensure_future(d7tui_add("--channel", "sms", "--label", "ADD", *later))
        await app.pick_up_added()  # the monitor's next look at the store
        code, out, err = await adding
        assert (code, out.strip()) == (0, "added 2, already watched 0"), err
        await until(pilot, lambda: "-shm (SQLite's index of the WAL) was deleted" in shown(app))
        await app.pick_up_added()
        everyone = {one: "SH"} | dict.fromkeys(later, "ADD")
        assert {e.request_id: e.label for e in app.live} == everyone
        await polled(pilot, app, clock)  # the monitor's own commits after them
    with Store.open(db) as store:
        assert {w.request_id: w.label for w in store.watches(Which.KEPT)} == everyone
        assert store.integrity_check() == "ok"


HOLDER = """\
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("UPDATE watch SET note = 'held' WHERE request_id = 'r1'")  # a frame in the WAL
print("ready", flush=True)
sys.stdin.read()  # holds the store open until the test is done
"""


async def another_process_holding(db: Path) -> asyncio.subprocess.Process:
    """A process with the store open through SQLite (as an older d7tui that does not look at
    the files beside it would have): its index is mapped, its frames in the WAL."""
    with Store.open(db) as store:
        store.add_watch("r1", "sms")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        HOLDER,
        str(db),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"ready\n"
    return proc


async def test_an_add_never_writes_beside_a_process_still_on_a_deleted_shm(tmp_path):
    """What makes `d7tui add` (any d7tui opening the store to write) wait, then refuse with a
    line naming the other process, instead of reporting ids added that the other overwrites."""
    db = tmp_path / "d7tui.sqlite3"
    holder = await another_process_holding(db)
    try:
        assert wait_for_one_index(db, timeout=0) is None
        Path(f"{db}-shm").unlink()
        said = wait_for_one_index(db, timeout=0)
        assert (
            said is not None
            and f"-shm was deleted or replaced under another d7tui (pid {holder.pid})" in said
        )
    finally:
        holder.stdin.close()
        await holder.wait()


async def test_d7tui_add_beside_a_process_still_on_a_deleted_shm_adds_nothing_and_says_so(
    tmp_path, monkeypatch, capsys
):
    """L15, end to end: the other process never opens the store again (an older d7tui): the
    add waits for it, then refuses in one line; it never says "added" for ids that are lost."""
    db = tmp_path / "xdg-data" / "d7tui" / "d7tui.sqlite3"  # where `d7tui add` writes
    db.parent.mkdir(parents=True)
    holder = await another_process_holding(db)
    try:
        Path(f"{db}-shm").unlink()
        monkeypatch.setattr(sides, "OPEN_WAIT", 0.3)
        code = await asyncio.to_thread(
            main, ["add", "--channel", "sms", "33333333-2222-4333-8444-555555555555"]
        )
        out, err = capsys.readouterr()
        assert code == 5 and "added" not in out  # 5: the store cannot be used now
        assert f"under another d7tui (pid {holder.pid})" in err and "nothing was changed" in err
        assert len(err.splitlines()) == 1
    finally:
        holder.stdin.close()
        await holder.wait()
    with Store.open(db) as store:
        assert [w.request_id for w in store.watches(Which.KEPT)] == ["r1"]


async def test_an_add_never_writes_beside_a_process_whose_wal_was_emptied(tmp_path):
    db = tmp_path / "d7tui.sqlite3"
    holder = await another_process_holding(db)
    try:
        os.truncate(f"{db}-wal", 0)
        said = wait_for_one_index(db, timeout=0)
        assert (
            said is not None and f"-wal was emptied under another d7tui (pid {holder.pid})" in said
        )
    finally:
        holder.stdin.close()
        await holder.wait()
