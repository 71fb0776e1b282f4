"""Nothing the monitor holds is lost when its store is lost under it (issue 11, "nothing lost").

The store file emptied in place, replaced by another d7tui's new file, the disk full at quit:
each time the monitor still has everything on screen, and it writes all of it to a store (a new
one, or a kept copy) and says truthfully what was and was not saved. Real files, real faults
(faultfs.py); the monitor driven with the pilot against the simulator, as a user runs it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from export_reader import read_json
from faultfs import read_only, small_disk
from hostile import HostileServer, aimed_at, answering, monitor_app
from test_ui import paste
from test_ui_memory import DELIVERS, SIZE, build
from ui_kit import entry, idle, said, screen_text, until

from d7tui.channels.infobip import parse_page
from d7tui.cli import main
from d7tui.config import Settings
from d7tui.export import export
from d7tui.models import Phase, Target
from d7tui.simulator import Step
from d7tui.store import Store, Which, open_store
from d7tui.store.heldlog import private_dir
from d7tui.store.rescue import held_files
from d7tui.ui.app import farewell_text, make_app
from d7tui.ui.screens.add import AddDialog
from d7tui.ui.screens.label import LabelDialog


def labels_and_notes(db: Path) -> dict[str, tuple[str, str]]:
    """What the store at `db` keeps, as the next d7tui started on it finds it."""
    with open_store(db, parse_report=parse_page) as store:
        return {w.request_id: (w.label, w.note) for w in store.watches(Which.KEPT)}


async def polled_again_then_emptied(pilot, app, clock, db: Path) -> None:
    """One more poll, saved; then the store file emptied in place (`: > d7tui.sqlite3`: the
    same file, emptied)."""
    clock.advance(5)
    app.poller.refresh()
    await idle(pilot, app)
    await app.memory.astore.flush()
    os.truncate(db, 0)


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory whose path is short whatever the test runner's temporary directory (a
    parallel worker's is longer): a notice naming a store in it fits its one line whole."""
    path = Path(tempfile.mkdtemp(prefix="d7-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_a_store_emptied_in_place_is_written_again_from_what_the_monitor_holds(
    sim, clock, short_dir
):
    db = short_dir / "data" / "d7tui.sqlite3"
    one = sim.create_request("sms", ["+971500000001"], DELIVERS)
    two = sim.create_request("sms", ["+971500000002"], DELIVERS)
    app = build(sim, clock, db, [Target(one), Target(two)], labels={one: "keepme"})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await idle(pilot, app)
        app.set_label_note(one, "keepme", "important note")
        await polled_again_then_emptied(pilot, app, clock, db)
        app.set_label_note(two, "after", "")  # the next write notices it first
        await until(pilot, lambda: any("was emptied while" in n for n in app.notices))

        # Said on screen (not "internal error"), with what was written and what was not.
        def shown() -> str:
            return " ".join(screen_text(app).split())

        await until(pilot, lambda: "was emptied while d7tui ran (kept as" in shown())
        text = shown()
        assert "d7tui.sqlite3.damaged-" in text
        assert "internal error" not in text
        [notice] = [n for n in app.notices if "was emptied" in n]
        assert "2 requests with labels and notes, 2 last states, 4 transitions" in notice
        assert "only the old file had" in notice  # (cut to one line beyond)
    assert app.farewell == []
    assert labels_and_notes(db) == {one: ("keepme", "important note"), two: ("after", "")}
    with Store.open(db) as store:
        assert store.load_state(two).state.recipients[0].status == "delivered"
        assert [t.new_status for t in store.transitions(one)] == ["accepted", "delivered"]
    names = sorted(p.name for p in db.parent.iterdir())
    # The store and the lock of its one poller (empty once it quit), nothing else.
    kept = [n for n in names if not n.startswith("d7tui.sqlite3.damaged-")]
    assert kept == ["d7tui.sqlite3", "d7tui.sqlite3.lock"]
    assert not (db.parent / "d7tui-errors.log").exists()  # no traceback every few seconds


async def test_a_store_deleted_then_started_anew_by_d7tui_add_gets_all_the_monitor_shows(
    sim, clock, tmp_path
):
    """J6: the store deleted (a cleanup script), then `d7tui add` in another shell starts a new
    one before the monitor looks: the new one gets every request the monitor had, and after a
    restart nothing that was on screen is missing."""
    db = tmp_path / "xdg-data" / "d7tui" / "d7tui.sqlite3"  # where `d7tui add` writes too
    ids = [sim.create_request("sms", [f"+97150000000{n}"], DELIVERS) for n in range(1, 4)]
    three = sim.create_request("sms", ["+971500000009"], DELIVERS)
    app = build(sim, clock, db, [Target(i) for i in ids], labels={ids[0]: "keepme"})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await idle(pilot, app)
        app.set_label_note(ids[1], "", "a note")
        clock.advance(5)
        app.poller.refresh()
        await idle(pilot, app)
        await app.memory.astore.flush()
        for suffix in ("", "-wal", "-shm"):  # rm -f d7tui.sqlite3*
            Path(f"{db}{suffix}").unlink()
        assert main(["add", three, "--label", "after-rm"]) == 0
        app.set_label_note(ids[2], "after", "")  # the next write notices it first
        await until(pilot, lambda: any("while d7tui ran" in n for n in app.notices))
        await app.pick_up_added()
        assert entry(app, three).label == "after-rm"
        shown = {e.request_id: (e.label, e.note) for e in app.live}
    assert app.farewell == []
    assert (
        labels_and_notes(db)
        == shown
        == {
            ids[0]: ("keepme", ""),
            ids[1]: ("", "a note"),
            ids[2]: ("after", ""),
            three: ("after-rm", ""),
        }
    )
    with Store.open(db) as store:
        for rid in ids:
            assert [t.new_status for t in store.transitions(rid)] == ["accepted", "delivered"]


async def test_a_store_emptied_then_replaced_by_another_d7tui_gets_what_the_monitor_held(
    sim, clock, tmp_path
):
    db = tmp_path / "xdg-data" / "d7tui" / "d7tui.sqlite3"  # where `d7tui add` writes too
    one = sim.create_request("sms", ["+971500000001"], DELIVERS)
    two = sim.create_request("sms", ["+971500000002"], DELIVERS)
    three = sim.create_request("sms", ["+971500000003"], DELIVERS)
    app = build(sim, clock, db, [Target(one), Target(two)], labels={one: "keepme"})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await idle(pilot, app)
        await polled_again_then_emptied(pilot, app, clock, db)
        # Another d7tui in another shell: it sets the emptied file aside, starts a new store.
        assert main(["add", three, "--label", "from the shell"]) == 0
        app.set_label_note(two, "after", "")  # the next write notices it first
        await until(pilot, lambda: any("replaced by a new store" in n for n in app.notices))
        [notice] = [n for n in app.notices if "replaced by a new store" in n]
        # The new store had both ids already, from the emptied file's WAL (J16); what the
        # monitor held gave their states and the label typed meanwhile.
        assert (
            "(0 requests with labels and notes, 2 last states, 4 transitions, 1 label or note "
            "it lacked)" in notice
        )
        await app.pick_up_added()
        assert entry(app, three).label == "from the shell"
        assert entry(app, one).latest_status == "delivered"
    assert app.farewell == []
    assert labels_and_notes(db) == {
        one: ("keepme", ""),
        two: ("after", ""),
        three: ("from the shell", ""),
    }
    # No empty copies left behind (one every few seconds, before).
    assert not [p for p in db.parent.iterdir() if ".kept-" in p.name]
    with Store.open(db) as store:
        assert store.load_state(one).state.recipients[0].status == "delivered"
        assert [t.new_status for t in store.transitions(one)] == ["accepted", "delivered"]


async def test_ids_added_and_labels_edited_on_a_full_disk_are_kept_at_quit_and_taken_in(
    sim, clock, tmp_path, monkeypatch
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    watched = sim.create_request("sms", ["+971500000001"], DELIVERS)
    new = sim.create_request("sms", ["+971500000002"], DELIVERS)
    with small_disk(tmp_path / "disk", monkeypatch) as disk:
        db = tmp_path / "disk" / "d7tui.sqlite3"
        app = build(sim, clock, db, [Target(watched)], labels={watched: "L2full"})
        async with app.run_test(size=SIZE) as pilot:
            await idle(pilot, app)
            await app.memory.astore.flush()
            disk.fill()
            await pilot.press("l")  # the label, as the user edits it
            assert isinstance(app.screen, LabelDialog)
            await pilot.press("ctrl+u", *"L3full", "tab", *"called")
            await pilot.press("enter")
            await until(pilot, lambda: not isinstance(app.screen, LabelDialog))
            await pilot.press("a")  # an id pasted
            assert isinstance(app.screen, AddDialog)
            await paste(pilot, app, new)
            await pilot.press("enter")
            await until(pilot, lambda: not isinstance(app.screen, AddDialog))
            clock.advance(5)
            app.poller.refresh()
            await idle(pilot, app)
            await until(pilot, lambda: any("Saving fails" in n for n in app.notices))
            assert entry(app, watched).label == "L3full"
        # One line on the terminal says what was not saved, all of it, and where it is kept.
        [line] = app.farewell
        assert "1 label or note edit" in line and "1 id added" in line and "poll result" in line
        assert "disk is full" in line and "kept in" in line and "takes in" in line
        assert "polled again" not in line
        # Printed whole on the terminal: the sentence saying what happens next too.
        [held] = held_files(db)
        printed = farewell_text(app.farewell)
        assert str(held) in printed
        assert printed.endswith("which the next d7tui started on this store takes in\n")
        disk.free()
        # An export meanwhile says they wait, and that it lacks them.
        with open_store(db, readonly=True) as store:
            [warning] = store.warnings
        assert str(held) in warning and "not in the store yet, nor in this export" in warning
        # The next monitor takes them in, and says so in its event strip.
        again = build(sim, clock, db)
        async with again.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: any("took in" in t for t in said(again)))
            [taken] = [t for t in said(again) if "took in" in t]
            assert taken.endswith(f"from {held}")
            await until(pilot, lambda: watched in again.watchlist and new in again.watchlist)
            assert entry(again, watched).label == "L3full" and new in again.live
        assert held_files(db) == []
        # Any later start finds it all in the store.
        assert labels_and_notes(db) == {watched: ("L3full", "called"), new: ("", "")}
        with Store.open(db) as store:
            assert store.load_state(new) is not None
            assert [t.new_status for t in store.transitions(watched)] == ["accepted", "delivered"]


async def test_a_store_emptied_where_no_new_one_can_be_written_is_kept_at_quit_and_taken_in(
    sim, clock, tmp_path, monkeypatch
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    db = tmp_path / "data" / "d7tui.sqlite3"
    one = sim.create_request("sms", ["+971500000001"], DELIVERS)
    two = sim.create_request("sms", ["+971500000002"], DELIVERS)
    app = build(sim, clock, db, [Target(one), Target(two)], labels={one: "keepme"})
    with contextlib.ExitStack() as unwritable:
        async with app.run_test(size=SIZE) as pilot:
            await idle(pilot, app)
            await polled_again_then_emptied(pilot, app, clock, db)
            unwritable.enter_context(read_only(db.parent))  # until after the quit
            app.set_label_note(two, "after", "")
            await until(pilot, lambda: any("cannot be put back yet" in n for n in app.notices))
            await pilot.press("q")
        [line] = app.farewell
    assert "1 copy of all the monitor held" in line and "1 label or note edit" in line
    assert "kept in" in line and str(private_dir()) in line
    assert labels_and_notes(db) == {one: ("keepme", ""), two: ("after", "")}
    with Store.open(db) as store:
        assert [t.new_status for t in store.transitions(one)] == ["accepted", "delivered"]


async def test_a_read_only_store_holds_what_is_added_and_edited_and_keeps_it_at_quit(
    sim, clock, tmp_path, monkeypatch
):
    """J5: on a read-only data directory the monitor shows the store and polls; what the user
    adds and edits meanwhile is held (said at once), kept at quit in a file (said on the
    terminal), and taken in by the next start on the writable store: nothing is lost."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    db = tmp_path / "xdg-data" / "d7tui" / "d7tui.sqlite3"  # where `d7tui add` writes
    rid = sim.create_request("sms", ["+971500000001"], DELIVERS)
    new = sim.create_request("sms", ["+971500000002"], DELIVERS)
    assert main(["add", rid, "--label", "ro"]) == 0
    with read_only(db.parent):
        app = build(sim, clock, db)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: rid in app.live)
            await idle(pilot, app)
            assert entry(app, rid).label == "ro"
            assert entry(app, rid).latest_status == "accepted"  # polled as ever
            text = " ".join(screen_text(app).split())
            assert "Nothing watched yet" not in text
            assert "is read-only" in text and "its 1 request shown" in text
            [notice] = [n for n in app.notices if "Not remembering" in n]
            assert "what you add or edit is held and written as you go to a file" in notice
            await pilot.press("l")  # the label, as the user edits it
            assert isinstance(app.screen, LabelDialog)
            await pilot.press("ctrl+u", *"ro2", "tab", *"called")
            await pilot.press("enter")
            await until(pilot, lambda: not isinstance(app.screen, LabelDialog))
            assert said(app)[-1].startswith("Held, not saved (the store cannot be written): 1")
            await pilot.press("a")  # an id pasted
            assert isinstance(app.screen, AddDialog)
            await paste(pilot, app, new)
            await pilot.press("enter")
            await until(pilot, lambda: not isinstance(app.screen, AddDialog))
            assert "1 label or note edit and 1 id added so far" in said(app)[-1]
            # On disk as it was done (J18), before any quit: a kill -9 now loses none of it.
            written = app.monitor.held.written()  # type: ignore[union-attr]
            assert written is not None and written.parent == private_dir()
            assert b"called" in written.read_bytes() and new.encode() in written.read_bytes()
            clock.advance(5)
            app.poller.refresh()
            await idle(pilot, app)
            assert entry(app, new).latest_status == "delivered"
        # One line on the terminal says what was not saved, why, and where it is kept.
        [line] = app.farewell
        assert line.startswith("1 label or note edit, 1 id added and ")
        assert "poll results could not be saved" in line
        assert "read-only" in line and "kept in" in line and str(private_dir()) in line
    [held] = held_files(db)
    assert held == written  # the same file, the polls' results added at quit
    assert str(held) in farewell_text(app.farewell)
    assert b"sim-token" not in held.read_bytes() and b"sim-infobip-key" not in held.read_bytes()
    # The next monitor on the writable store takes them in, and says so.
    again = build(sim, clock, db)
    async with again.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: any("took in" in t for t in said(again)))
        await until(pilot, lambda: new in again.live and rid in again.live)
        assert entry(again, rid).label == "ro2"
    assert held_files(db) == []
    assert labels_and_notes(db) == {rid: ("ro2", "called"), new: ("", "")}
    with Store.open(db) as store:
        for each in (rid, new):
            assert [t.new_status for t in store.transitions(each)] == ["accepted", "delivered"]


async def test_an_export_made_in_the_demo_survives_the_demo(tmp_path, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    app = make_app(Settings(), demo=True, bell=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(app.live) > 0 and app.memory is not None)
        await idle(pilot, app)
        temporary = Path(app.data_dir)
        await pilot.press("e")
        await until(pilot, lambda: any(t.startswith("Exported") for t in said(app)))
    assert not temporary.exists()  # the demo's own store goes with it ...
    [export] = cwd.iterdir()  # ... its export stays where the user is
    assert export.name.startswith("d7tui-export-") and export.suffix == ".json"
    assert any(str(export) in t for t in said(app))  # the strip names where it went


def d7_answer(rid: str, numbers: list[str]) -> bytes:
    messages = [
        {"msg_id": f"m-{n}", "recipient": n, "status": "sent", "sms_cost": 0.001, "country": "DE"}
        for n in numbers
    ]
    return json.dumps({"request_id": rid, "channel": "sms", "messages": messages}).encode()


async def test_a_recipient_the_api_stops_listing_is_kept_marked_and_told(clock, tmp_path):
    rid = "dddddddd-2222-4333-8444-555555555555"
    numbers = ["+491510000000", "+491510000001", "+491510000002"]
    listed = {"count": 3}

    def answer(method: str, target: str, credential: str) -> bytes | None:
        if rid not in target:
            return None
        return d7_answer(rid, numbers[: listed["count"]])

    db = tmp_path / "data" / "d7tui.sqlite3"
    with HostileServer(answering(answer)) as server:
        app = monitor_app(
            aimed_at(server.base_url), [Target(rid, "sms")], db, clock=clock, bell=False
        )
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: getattr(app.live.get(rid), "state", None) is not None)
            listed["count"] = 2  # the API forgets the third (Infobip's logs after 48 hours)
            await pilot.press("R")
            await until(pilot, lambda: any("no longer listed" in t for t in said(app)))
            state = entry(app, rid).state
            # All three, the third as it was last known, marked; counted and costed as before.
            assert [r.recipient for r in state.recipients] == numbers
            assert state.recipients[2].status == "sent" and "no longer lists" in (
                state.recipients[2].problem or ""
            )
            assert state.phase_counts()[Phase.PENDING] == 3
            assert state.total_cost()[0] == pytest.approx(0.003)
            # The detail's recipients table says which one is kept from memory.
            await until(pilot, lambda: "sent* · no longer listed" in screen_text(app))
            await pilot.press("R")  # told once, not at every poll
            await idle(pilot, app)
            assert sum("no longer listed" in t for t in said(app)) == 1
    # ... and in the store and the export, the next day too.
    with Store.open(db) as store:
        kept = store.load_state(rid).state.recipients
        assert [r.recipient for r in kept] == numbers
        exported = io.StringIO()
        export(store, "json", exported)
    recipients = json.loads(exported.getvalue())["recipients"]
    assert sorted(r["recipient"] for r in recipients) == numbers


async def test_a_store_deleted_under_a_restarted_monitor_is_written_back_whole(
    sim, clock, tmp_path
):
    db = tmp_path / "xdg-data" / "d7tui" / "d7tui.sqlite3"  # where `d7tui export` reads
    one = sim.create_request("sms", ["+971500000001"], DELIVERS)
    two = sim.create_request("sms", ["+971500000002"], DELIVERS)
    done = sim.create_request("sms", ["+971500000003"], [Step(0, "delivered")])
    first = build(sim, clock, db, [Target(one), Target(two), Target(done)], archive_after=60)
    async with first.run_test(size=SIZE) as pilot:
        await idle(pilot, first)
        first.set_label_note(one, "L1", "n1")
        clock.advance(120)
        first.poller.refresh()
        await idle(pilot, first)
        assert await first.archive_finished() == [done]
    # Restarted on the store the first one left; everything it shows was read from the file,
    # nothing written since (what the first monitor after the store's creation never is).
    again = build(sim, clock, db, archive_after=3600)
    async with again.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: len(again.live) == 2 and done in again.archived)
        await idle(pilot, again)
        await again.memory.astore.flush()
        for suffix in ("", "-wal", "-shm"):  # `rm d7tui.sqlite3*`
            db.with_name(db.name + suffix).unlink(missing_ok=True)
        again.set_label_note(two, "after", "")  # the next write notices it first
        await until(pilot, lambda: any("was deleted while" in n for n in again.notices))
        [notice] = [n for n in again.notices if "was deleted while" in n]
        assert "3 requests" in notice and "nothing is lost" in notice
        await pilot.press("q")
    # A new process finds all of it: ids, labels, notes, states, transitions, the archive.
    proc = subprocess.run(
        [sys.executable, "-m", "d7tui", "export"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    exported = read_json(proc.stdout)
    watches = {w.request_id: w for w in exported.watches}
    assert sorted(watches) == sorted([one, two, done])
    assert (watches[one].label, watches[one].note) == ("L1", "n1")
    assert watches[two].label == "after"
    assert watches[done].archived_at is not None and watches[one].archived_at is None
    assert {rid: s.state.recipients[0].status for rid, s in exported.states.items()} == {
        one: "delivered",
        two: "delivered",
        done: "delivered",
    }
    assert sorted(t.new_status for t in exported.transitions if t.request_id == one) == [
        "accepted",
        "delivered",
    ]


async def test_an_id_added_elsewhere_just_before_the_store_is_emptied_is_in_the_new_store(
    sim, clock, short_dir, monkeypatch
):
    """J16: `d7tui add` in another shell said `added 1`; a moment later, before the monitor
    looked, the store is emptied in place. The monitor writes a new store from what it holds,
    which lacks that id: it is taken from the old file's WAL (kept aside with it), with its
    label and note, shown, and the line says so."""
    monkeypatch.setenv("XDG_DATA_HOME", str(short_dir))
    db = short_dir / "d7tui" / "d7tui.sqlite3"  # where `d7tui add` writes too
    first = sim.create_request("sms", ["+971500000001"], DELIVERS)
    second = sim.create_request("sms", ["+971500000002"], DELIVERS)
    assert main(["add", first, "--label", "first"]) == 0
    app = build(sim, clock, db)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: first in app.live)
        await idle(pilot, app)
        assert main(["add", second, "--label", "second", "--note", "customer ticket 4711"]) == 0
        assert second not in app.live  # the monitor has not looked yet
        os.truncate(db, 0)
        app.set_label_note(first, "first", "typed after")  # the next write notices it first
        await until(pilot, lambda: any("was emptied while" in n for n in app.notices))
        [notice] = [n for n in app.notices if "was emptied" in n]
        # What it took from where, and what only the old file had: whole on its one line.
        assert "and from its WAL: 1 request added elsewhere (id, label, note)" in notice
        assert notice.endswith("what was written elsewhere and not kept in its WAL")
        await app.pick_up_added()
        await until(pilot, lambda: second in app.live)
        assert (entry(app, second).label, entry(app, second).note) == (
            "second",
            "customer ticket 4711",
        )
    assert labels_and_notes(db) == {
        first: ("first", "typed after"),
        second: ("second", "customer ticket 4711"),
    }
