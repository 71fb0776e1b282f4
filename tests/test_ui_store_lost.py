"""Nothing the monitor holds is lost when its store is lost under it (issue 11, "nothing lost").

The store file emptied in place, replaced by another d7tui's new file, the disk full at quit:
each time the monitor still has everything on screen, and it writes all of it to a store (a new
one, or a kept copy) and says truthfully what was and was not saved. Real files, real faults
(faultfs.py); the monitor driven with the pilot against the simulator, as a user runs it.
"""

from __future__ import annotations

import os
from pathlib import Path

from test_ui_memory import DELIVERS, SIZE, build
from ui_kit import entry, idle, screen_text, until

from d7tui.cli import main
from d7tui.models import Target
from d7tui.store import Store, Which


def labels_and_notes(db: Path) -> dict[str, tuple[str, str]]:
    with Store.open(db) as store:
        return {w.request_id: (w.label, w.note) for w in store.watches(Which.KEPT)}


async def test_a_store_emptied_in_place_is_written_again_from_what_the_monitor_holds(
    sim, clock, tmp_path
):
    db = tmp_path / "data" / "d7tui.sqlite3"
    one = sim.create_request("sms", ["+971500000001"], DELIVERS)
    two = sim.create_request("sms", ["+971500000002"], DELIVERS)
    app = build(sim, clock, db, [Target(one), Target(two)], labels={one: "keepme"})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await idle(pilot, app)
        app.set_label_note(one, "keepme", "important note")
        clock.advance(5)
        app.poller.refresh()
        await idle(pilot, app)
        await app.memory.astore.flush()
        os.truncate(db, 0)  # `: > d7tui.sqlite3`: the same file, emptied
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
    assert [n for n in names if not n.startswith("d7tui.sqlite3.damaged-")] == ["d7tui.sqlite3"]
    assert not (db.parent / "d7tui-errors.log").exists()  # no traceback every few seconds


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
        clock.advance(5)
        app.poller.refresh()
        await idle(pilot, app)
        await app.memory.astore.flush()
        os.truncate(db, 0)
        # Another d7tui in another shell: it sets the emptied file aside, starts a new store.
        assert main(["add", three, "--label", "from the shell"]) == 0
        app.set_label_note(two, "after", "")  # the next write notices it first
        await until(pilot, lambda: any("replaced by a new store" in n for n in app.notices))
        [notice] = [n for n in app.notices if "replaced by a new store" in n]
        assert "(2 requests with labels and notes, 2 last states, 4 transitions)" in notice
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
