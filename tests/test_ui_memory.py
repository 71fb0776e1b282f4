"""The monitor remembers (issue "support-desk memory"): what a support agent watched, the
statuses and timelines it saw and the Infobip reports it pulled are there again after a restart,
even when the API cannot be reached; a second monitor on the same data directory leaves the
one-time reports to the first. Driven against the simulator over loopback, as test_ui does."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from storekit import remember_final
from textual import events
from textual.widgets import Input
from ui_kit import (
    entry,
    idle,
    list_lines,
    said,
    screen_text,
    sim_settings,
    start_simulator,
    status_requests,
    until,
)

from d7tui.cli import main
from d7tui.client import RetryPolicy
from d7tui.clock import ManualClock
from d7tui.config import Settings
from d7tui.memory import EarlyOpen
from d7tui.models import IdKind, InfobipSource, Target
from d7tui.monitor import Monitor
from d7tui.pollstate import PollConfig, WatchStatus
from d7tui.simulator import Simulator, Step
from d7tui.store import Store, Which, add_ids
from d7tui.ui import app as app_module
from d7tui.ui.app import D7App, make_app
from d7tui.ui.format import format_clock
from d7tui.ui.screens.add import AddDialog
from d7tui.ui.screens.label import LabelDialog
from d7tui.ui.screens.monitor import MonitorScreen
from d7tui.ui.widgets.watchlist_table import WatchlistTable

SIZE = (120, 40)
DELIVERS = [Step(0, "accepted"), Step(4, "delivered")]
INFOBIP_DELIVERS = [Step(0, "PENDING_ACCEPTED"), Step(3, "DELIVERED_TO_HANDSET")]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "support" / "d7tui.sqlite3"


def build(
    sim: Simulator,
    clock: ManualClock,
    db: Path,
    ids: list[Target] = (),  # type: ignore[assignment]
    settings: Settings | None = None,
    **kw: Any,
) -> D7App:
    return make_app(
        settings or sim_settings(sim),
        ids=list(ids),
        clock=clock,
        poll_config=PollConfig(workers=4),
        store_path=db,
        bell=False,
        **kw,
    )


def order(app: D7App) -> list[str]:
    return app.screen.query_one(WatchlistTable).order


async def started(pilot: Any, app: D7App, count: int) -> None:
    """Wait until the remembered requests are on screen (the store is read at mount: the list
    first, then the states)."""
    await until(pilot, lambda: len(app.watchlist) >= count and len(order(app)) >= count)
    await until(pilot, lambda: not app.loading)
    await pilot.pause()


async def test_a_restart_keeps_since_when_a_request_last_changed_through_polls_that_change_nothing(
    sim, clock, db
):
    """The first poll after a restart that found nothing new set the row's Since back to when
    the request was added (the poller was not told when it had last changed): 2h, not 2m."""
    rid = sim.create_request("sms", ["+971500000001"], [Step(0, "accepted"), Step(7200, "sent")])
    first = build(sim, clock, db, [Target(rid, "sms")])
    async with first.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: entry(first, rid).latest_status == "accepted")
        clock.advance(7200)
        await until(pilot, lambda: entry(first, rid).latest_status == "sent")
        changed = entry(first, rid).last_change
    clock.advance(120)
    again = build(sim, clock, db)
    async with again.run_test(size=SIZE) as pilot:
        await started(pilot, again, 1)
        await until(pilot, lambda: entry(again, rid).polls >= 1)  # asked again: still "sent"
        await idle(pilot, again)
        assert entry(again, rid).last_change == changed
        lines = list_lines(again)
        column = lines[0].index("Since")
        assert lines[1][column : column + 5].strip() == "2m"


async def test_a_restart_shows_what_was_watched_even_with_the_api_unreachable(sim, clock, db):
    delivered = sim.create_request("sms", ["+971500000001"], DELIVERS)
    waiting = sim.create_request("whatsapp", ["+919000000001"], [Step(0, "sent")])
    app = build(sim, clock, db, [Target(delivered)], labels={delivered: "Order 1182"})
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        app.add_targets([Target(waiting, "whatsapp")], label="refund")
        await idle(pilot, app)
        clock.advance(4)
        await idle(pilot, app)
        assert entry(app, delivered).latest_status == "delivered"
    with Store.open(db) as store:
        assert store.watch(delivered).resolved_channel == "sms"  # type: ignore[union-attr]
    sim.stop()  # the API is gone for the second run

    again = build(sim, clock, db)
    async with again.run_test(size=SIZE) as pilot:
        await started(pilot, again, 2)
        # On screen before any answer: rows, labels, statuses and the timeline.
        assert order(again) == [delivered, waiting]
        assert entry(again, delivered).label == "Order 1182"
        assert entry(again, delivered).channel == "sms"  # `auto` resolved in run 1
        assert entry(again, waiting).latest_status == "sent"
        assert entry(again, delivered).error is None
        text = screen_text(again)
        assert "Order 1182" in text and "refund" in text
        assert "accepted → ✓ delivered" in text  # the timeline of the selected request
        again.poller.client.engine.policy = RetryPolicy(attempts=1)  # type: ignore[union-attr]
        # The one still pending is asked, and cannot be reached; the final one is not asked.
        await until(pilot, lambda: entry(again, waiting).error is not None)
        await pilot.pause()
        assert "unreachable" in screen_text(again)
        assert entry(again, delivered).latest_status == "delivered"  # still known
        assert entry(again, delivered).error is None
        # Nothing first-seen was told again: no toast for the restored timeline.
        assert not any("accepted" in t for t in said(again))


async def test_remove_and_undo_are_remembered(sim, clock, db):
    ids = [sim.create_request("sms", [f"+97150000000{i}"], DELIVERS) for i in range(3)]
    app = build(sim, clock, db, [Target(i) for i in ids])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        await pilot.press("d")  # the first
        await pilot.press("down", "d")  # the third
        await pilot.press("u")  # the third comes back
        await idle(pilot, app)
    with Store.open(db) as store:
        assert [w.request_id for w in store.watches(Which.LIVE)] == [ids[1], ids[2]]
        assert [w.request_id for w in store.watches(Which.REMOVED)] == [ids[0]]


async def test_infobip_reports_pulled_in_one_run_are_shown_in_the_next(sim, clock, db):
    bulk, _ = sim.create_infobip_bulk(["41793026727"], INFOBIP_DELIVERS)
    target = Target(bulk, "infobip", IdKind.BULK)
    app = build(sim, clock, db, [target])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        clock.advance(4)
        await idle(pilot, app)
        assert entry(app, bulk).latest_status == "DELIVERED_TO_HANDSET"

    again = build(sim, clock, db)  # the reports were one-time: the API will not send them again
    async with again.run_test(size=SIZE) as pilot:
        await started(pilot, again, 1)
        assert entry(again, bulk).latest_status == "DELIVERED_TO_HANDSET"
        clock.advance(10)
        await idle(pilot, again)
        assert entry(again, bulk).latest_status == "DELIVERED_TO_HANDSET"
        assert "41793026727" in screen_text(again)


async def test_a_second_monitor_leaves_the_reports_and_the_polls_to_the_first(sim, clock, db):
    bulk, _ = sim.create_infobip_bulk(["41793026727"], INFOBIP_DELIVERS)
    sms = sim.create_request("sms", ["+971500000001"], DELIVERS)
    reports = sim_settings(sim, infobip_source=InfobipSource.REPORTS)
    first = build(sim, clock, db, [Target(bulk, "infobip", IdKind.BULK), Target(sms)], reports)
    second = build(sim, clock, db, settings=reports)
    async with first.run_test(size=SIZE) as pilot:
        await idle(pilot, first)
        assert first.memory is not None and first.memory.pulls_reports
        async with second.run_test(size=SIZE) as pilot2:
            await started(pilot2, second, 2)
            assert second.memory is not None and not second.memory.pulls_reports
            await until(pilot2, lambda: "◇ follows" in screen_text(second))  # one poller
            clock.advance(4)
            await idle(pilot, first)  # the first pulls the one-time reports and keeps them
            assert entry(first, bulk).latest_status == "DELIVERED_TO_HANDSET"
            # The second shows them from the store, and what the first polled of D7 too.
            await until(pilot2, lambda: entry(second, bulk).latest_status == "DELIVERED_TO_HANDSET")
            await until(pilot2, lambda: entry(second, sms).latest_status == "delivered")
            assert second.desk is not None and second.desk.fetcher.vendor_calls == 0


async def test_a_damaged_store_is_kept_aside_said_on_screen_and_a_new_one_remembers(
    sim, clock, tmp_path
):
    bad = tmp_path / "d7tui.sqlite3"
    bad.write_bytes(b"this is not a database at all, " * 200)
    rid = sim.create_request("sms", ["+971500000001"], DELIVERS)
    app = build(sim, clock, bad, [Target(rid)])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        assert app.memory is not None
        assert entry(app, rid).latest_status == "accepted"
        text = " ".join(screen_text(app).split())  # the banner wraps the long line
        assert "not a d7tui database" in text and "new, empty store" in text
    [aside] = [p for p in tmp_path.iterdir() if p.name.startswith("d7tui.sqlite3.damaged-")]
    assert aside.read_bytes() == b"this is not a database at all, " * 200
    with Store.open(bad) as store:
        assert [w.request_id for w in store.watches()] == [rid]


async def test_e_exports_to_a_json_file_and_says_where(sim, clock, db):
    rid = sim.create_request("sms", ["+971500000001"], DELIVERS)
    app = build(sim, clock, db, [Target(rid)], labels={rid: "Order [b]1182[/b]"})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await idle(pilot, app)
        clock.advance(4)
        await idle(pilot, app)
        await pilot.press("e")
        await until(pilot, lambda: any(t.startswith("Exported") for t in said(app)))
        toast = next(t for t in said(app) if t.startswith("Exported"))
        files = list(db.parent.glob("d7tui-export-*.json"))
        assert len(files) == 1
        assert str(files[0]) in toast
        data = json.loads(files[0].read_text())
        assert [w["request_id"] for w in data["watchlist"]] == [rid]
        assert data["watchlist"][0]["label"] == "Order [b]1182[/b]"
        assert [t["new_status"] for t in data["transitions"]] == ["accepted", "delivered"]


async def test_an_export_that_cannot_be_written_says_where_and_why_and_stays_in_sight(
    sim, clock, db, tmp_path, monkeypatch
):
    # In Python's words ("[Errno 30] … '.d7tui-export-ytr1op5u'") and pushed out of the event
    # strip by the next status changes within two seconds (J17).
    rid = sim.create_request("sms", ["+971500000001"], DELIVERS)
    app = build(sim, clock, db, [Target(rid)])
    missing = tmp_path / "gone"
    monkeypatch.setattr(app, "_export_directory", lambda: missing)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await idle(pilot, app)
        await pilot.press("e")
        line = (
            f"Export failed: cannot write in {missing}: no such file or directory; "
            "nothing was written (start d7tui in a directory you can write, or run d7tui "
            "export -o FILE)"
        )
        await until(pilot, lambda: line in said(app))
        for _ in range(5):  # the strip moves on; the banner keeps it
            app.say("a status change")
        await idle(pilot, app)
        assert line in " ".join(screen_text(app).split())
        missing.mkdir()  # put right: the next export is written and the banner line goes
        await pilot.press("e")
        await until(pilot, lambda: any(t.startswith("Exported to") for t in said(app)))
        await idle(pilot, app)
        assert "Export failed" not in screen_text(app)


async def test_the_demo_exports_to_the_home_directory_when_its_working_directory_is_gone(
    sim, clock, db, tmp_path, monkeypatch
):
    rid = sim.create_request("sms", ["+971500000001"], DELIVERS)
    app = build(sim, clock, db, [Target(rid)])
    app.data_dir = str(tmp_path / "demo")  # as the demo: exports go to the working directory
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await idle(pilot, app)
        await pilot.press("e")
        await until(pilot, lambda: any(t.startswith("Exported to") for t in said(app)))
        assert len(list(home.glob("d7tui-export-*.json"))) == 1


async def test_l_edits_label_and_note_and_the_filter_finds_the_note(sim, clock, db):
    ids = [sim.create_request("sms", [f"+97150000000{i}"], DELIVERS) for i in range(2)]
    app = build(sim, clock, db, [Target(i) for i in ids])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        await pilot.press("down", "l")
        assert isinstance(app.screen, LabelDialog)
        await pilot.press(*"VIP")
        await pilot.press("tab", *"called [twice]")
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, LabelDialog))
        assert entry(app, ids[1]).label == "VIP"
        assert entry(app, ids[1]).note == "called [twice]"
        assert "VIP" in screen_text(app)
        await pilot.press("slash", *"twice", "enter")
        assert order(app) == [ids[1]]
        await pilot.press("escape")
        await pilot.press("l", "escape")  # esc cancels
        assert entry(app, ids[1]).label == "VIP"
    with Store.open(db) as store:
        record = next(w for w in store.watches() if w.request_id == ids[1])
        assert (record.label, record.note) == ("VIP", "called [twice]")


async def test_a_label_edit_leaves_a_long_note_it_did_not_touch_whole(sim, clock, db):
    rid = sim.create_request("sms", ["+971500000003"], DELIVERS)
    with Store.open(db) as store:  # as an older d7tui kept a 10,003-character note: cut once
        store.add_watch(rid, "sms", IdKind.REQUEST, label="", note="M" * 10_000 + "END")
        kept = next(w.note for w in store.watches())
    assert kept.endswith("… (10,003 characters)")
    app = build(sim, clock, db)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app, 1)
        await pilot.press("l", *"lab", "enter")
        await until(pilot, lambda: not isinstance(app.screen, LabelDialog))
        assert entry(app, rid).label == "lab" and entry(app, rid).note == kept
    with Store.open(db) as store:
        record = next(w for w in store.watches() if w.request_id == rid)
        assert (record.label, record.note) == ("lab", kept)  # the note not cut a second time


async def test_a_finished_request_is_archived_and_comes_back(sim, clock, db):
    done = sim.create_request("sms", ["+971500000001"], [Step(0, "delivered")])
    busy = sim.create_request("sms", ["+971500000002"], [Step(0, "accepted")])
    app = build(sim, clock, db, [Target(done), Target(busy)], archive_after=3600)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await idle(pilot, app)
        clock.advance(2)
        await idle(pilot, app)
        assert await app.archive_finished() == []  # final, but not for long enough
        clock.advance(3600)
        await idle(pilot, app)
        assert await app.archive_finished() == [done]
        await pilot.pause()
        assert order(app) == [busy]
        assert done not in app.poller  # not polled any more
        await pilot.press("A")
        assert order(app) == [done]
        assert "archive" in screen_text(app)
        assert entry(app, done).latest_status == "delivered"  # history kept
        assert said(app)[-1] == (
            "Archive: 1 request, not polled. A or esc goes back, U brings the selected one back."
        )
        await pilot.press("u")
        assert order(app) == []
        await pilot.press("escape")  # esc steps back to the live list, as A does
        assert not app.showing_archive
        assert order(app) == [busy, done]
        assert done in app.poller
    with Store.open(db) as store:
        assert store.watches(Which.ARCHIVED) == []


async def test_an_archived_request_stays_archived_after_a_restart(sim, clock, db):
    done = sim.create_request("sms", ["+971500000001"], [Step(0, "delivered")])
    app = build(sim, clock, db, [Target(done)], archive_after=60)
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        clock.advance(120)
        await idle(pilot, app)
        assert await app.archive_finished() == [done]
    requests = status_requests(sim)
    again = build(sim, clock, db)
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await until(pilot, lambda: done in again.archived)
        assert order(again) == []
        await pilot.press("A")
        assert order(again) == [done]
        await idle(pilot, again)
        assert status_requests(sim) == requests


async def test_when_the_first_monitor_ends_the_second_takes_over_the_reports(sim, clock, db):
    bulk, _ = sim.create_infobip_bulk(["41793026727"], INFOBIP_DELIVERS)
    first = Store.open(db)  # the lock of another monitor, which leads
    assert first.try_acquire_report_lock()
    reports = sim_settings(sim, infobip_source=InfobipSource.REPORTS)
    second = build(sim, clock, db, [Target(bulk, "infobip", IdKind.BULK)], reports)
    try:
        async with second.run_test(size=SIZE, notifications=True) as pilot:
            await until(pilot, lambda: second.desk is not None and second.memory is not None)
            assert second.desk is not None and not second.desk.leading
            assert not second.memory.pulls_reports  # type: ignore[union-attr]
            first.close()
            # Within seconds (its look at the lead, once a second) it leads, and pulls them.
            await until(pilot, lambda: second.desk.leading)  # type: ignore[union-attr]
            assert second.memory.pulls_reports  # type: ignore[union-attr]
            assert any("leads the desk now" in t for t in said(second))
            clock.advance(4)
            second.poller.refresh()
            await idle(pilot, second)
            assert entry(second, bulk).latest_status == "DELIVERED_TO_HANDSET"
    finally:
        first.close()


async def test_the_token_is_nowhere_a_user_or_a_file_could_see_it(clock, db, caplog):
    """A run with a distinctive token and key: neither shows on the screen, in a screenshot, in
    an export, in the store's files, nor in anything logged."""
    import logging

    token, key = "tok-SECRET-7f3a9c1e", "key-SECRET-44be10d2"
    sim = start_simulator(clock, token=token, infobip_key=key)
    try:
        rid = sim.create_request("sms", ["+971500000001"], DELIVERS)
        bulk, _ = sim.create_infobip_bulk(["41793026727"], INFOBIP_DELIVERS)
        settings = sim.settings(max_in_flight=8)
        caplog.set_level(logging.DEBUG)
        app = make_app(
            settings,
            ids=[Target(rid), Target(bulk, "infobip", IdKind.BULK)],
            clock=clock,
            poll_config=PollConfig(workers=4),
            store_path=db,
            bell=False,
        )
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await idle(pilot, app)
            clock.advance(4)
            await idle(pilot, app)
            assert entry(app, rid).state is not None  # the token did work
            await pilot.press("e")
            await until(pilot, lambda: any(t.startswith("Exported") for t in said(app)))
            shown = screen_text(app) + "".join(said(app))
            svg = app.export_screenshot()
        seen = [shown, svg, caplog.text, repr(settings), repr(app)]
        files = [p for p in db.parent.iterdir() if p.is_file()]
        assert {p.suffix for p in files} >= {".sqlite3", ".json"}  # the store and the export
        seen += [p.read_bytes().decode("latin-1") for p in files]
        for text in seen:
            assert token not in text and key not in text
    finally:
        sim.stop()


async def test_ids_added_from_the_command_line_join_a_running_monitor(sim, clock, db):
    first = sim.create_request("sms", ["+971500000001"], DELIVERS)
    app = build(sim, clock, db, [Target(first)])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await idle(pilot, app)
        # Another shell runs `d7tui add` on the same data directory.
        later = sim.create_request("sms", ["+971500000002"], DELIVERS)
        with Store.open(db) as other:
            other.add_watch(later, "auto", label="added from the shell")
        assert await app.pick_up_added() == 1
        await idle(pilot, app)
        assert entry(app, later).label == "added from the shell"
        assert entry(app, later).state is not None  # and it is polled
        assert any("added elsewhere (d7tui add, or another monitor" in t for t in said(app))
        assert await app.pick_up_added() == 0  # once only
        # The whole watchlist is never read again to find what is new (a monitor of 100,000
        # ids polling would otherwise read them all every few seconds): only the rows changed
        # since the last look (the store numbers its changes), an id back from a shell too.
        assert app.memory is not None
        full_reads = 0
        read_watches = app.memory.astore.watches

        async def counted(*args: Any) -> Any:
            nonlocal full_reads
            full_reads += 1
            return await read_watches(*args)

        app.memory.astore.watches = counted  # type: ignore[method-assign]
        clock.advance(4)  # polls commit their results meanwhile
        await idle(pilot, app)
        await app.memory.astore.flush()
        assert await app.pick_up_added() == 0
        with Store.open(db) as other:
            other.add_watch(sim.create_request("sms", ["+971500000003"]), "auto")
        assert await app.pick_up_added() == 1
        assert full_reads == 0
        app.screen.query_one(WatchlistTable).select(first)
        await pilot.press("d")  # removed here ...
        await app.memory.astore.flush()
        assert first not in app.watchlist
        with Store.open(db) as other:  # ... and added again from a shell
            other.add_watch(first, "auto")
        assert await app.pick_up_added() == 1
        assert first in app.watchlist
        assert full_reads == 0


async def test_labels_notes_removals_and_the_archive_made_elsewhere_reach_a_running_monitor(
    sim, clock, tmp_path
):
    db = tmp_path / "xdg-data" / "d7tui" / "d7tui.sqlite3"  # where `d7tui add` writes
    one, two, three = (sim.create_request("sms", [f"+97150000000{n}"], DELIVERS) for n in (1, 2, 3))
    app = build(sim, clock, db, [Target(one), Target(two), Target(three)], labels={one: "two"})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await idle(pilot, app)
        await app.memory.astore.flush()
        assert await app.pick_up_added() == 0
        # `d7tui add` on ids already watched, from another shell ...
        assert main(["add", one, "--label", "relabeled", "--note", "from cli"]) == 0
        assert main(["add", two, "--note", "customer called 3 times, escalate to NOC"]) == 0
        with Store.open(db) as other:  # ... and another monitor on the same store removes one
            other.remove_watch(three)
        assert await app.pick_up_added() == 3
        assert (entry(app, one).label, entry(app, one).note) == ("relabeled", "from cli")
        assert entry(app, two).note == "customer called 3 times, escalate to NOC"
        assert three not in app.watchlist and app.poller.get(three) is None
        await pilot.pause()
        assert "relabeled" in screen_text(app)
        assert any(
            "Changed from another d7tui: 2 requests with a new label" in t for t in said(app)
        )
        app.screen.query_one(WatchlistTable).select(two)
        await pilot.press("l")  # the note as it is now, to edit
        assert isinstance(app.screen, LabelDialog)
        assert "escalate to NOC" in screen_text(app)
        await pilot.press("escape")
        with Store.open(db) as other:  # brought back, and archived, elsewhere
            other.restore_watch(three)
            other.archive(two)
        assert await app.pick_up_added() == 2
        assert three in app.live and app.poller.get(three) is not None
        assert two in app.archived and app.poller.get(two) is None
        assert await app.pick_up_added() == 0  # once only
        # Brought back with what it had (fresh-eyes finding H13): its history on screen, and its
        # next poll is no first sight, so nothing is written twice.
        assert entry(app, three).state is not None and entry(app, three).timeline
        clock.advance(60)
        await idle(pilot, app)
        await app.memory.astore.flush()
    with Store.open(db) as store:
        timeline = [(t.recipient_key, t.new_status) for t in store.transitions(three)]
    assert timeline and len(timeline) == len(set(timeline)), timeline


async def test_a_label_dialog_opened_before_another_writers_edit_saves_only_what_was_typed(
    sim, clock, db
):
    """Finding K5: the dialog wrote back the label and note it opened with, over a colleague's."""
    one, two = (sim.create_request("sms", [f"+97150000000{n}"], DELIVERS) for n in (1, 2))
    app = build(sim, clock, db, [Target(one), Target(two)])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        for rid in (one, two):
            app.set_label_note(rid, "NEW-LABEL", "NEWNOTE")
        await app.memory.astore.flush()
        for rid, picked_up in ((one, True), (two, False)):
            app.screen.query_one(WatchlistTable).select(rid)
            await pilot.press("l")
            assert isinstance(app.screen, LabelDialog)
            with Store.open(db) as other:  # `d7tui add --label --note` from another shell
                add_ids(other, [rid], label="A-EDIT", note="A-NOTE: customer called twice")
            if picked_up:  # the monitor has seen it (its pick-up runs every few seconds)
                assert await app.pick_up_added() == 1
            await pilot.press("tab", "end", *" +B", "enter")  # the note, as the dialog shows it
            assert not isinstance(app.screen, LabelDialog)
        await app.memory.astore.flush()
        await pilot.pause()  # what the write found is told on the loop
        events = said(app)
    with Store.open(db) as store:
        kept = {rid: (store.watch(rid).label, store.watch(rid).note) for rid in (one, two)}
    # The label nobody typed in the dialog is the colleague's; the note typed is the user's ...
    assert kept == {one: ("A-EDIT", "NEWNOTE +B"), two: ("A-EDIT", "NEWNOTE +B")}
    # ... and what it replaced is said as `d7tui add` says it: seen on screen before the save,
    # or found in the store as the save was written, before the monitor's pick-up brought it.
    for rid in (one, two):
        was = f"{rid}: note replaced: was 'A-NOTE: customer called twice', now 'NEWNOTE +B'"
        assert events.count(was) == 1, events
    assert not any("label replaced" in line for line in events)


async def test_a_label_typed_while_another_monitor_removed_the_request_is_kept_and_said(
    sim, clock, db
):
    """L5: the text typed was dropped without a word when the request went meanwhile."""
    rid = sim.create_request("sms", ["+971500000001"], DELIVERS)
    app = build(sim, clock, db, [Target(rid)])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        await pilot.press("l")
        assert isinstance(app.screen, LabelDialog)
        await pilot.press(*"typed ")
        with Store.open(db) as other:  # the other monitor's `d`
            other.remove_watch(rid)
        await app.pick_up_added()
        assert rid not in app.watchlist
        await pilot.press(*"after", "enter")
        assert not isinstance(app.screen, LabelDialog)
        await app.memory.astore.flush()
        assert any(f"{rid} was removed meanwhile" in line for line in said(app))
    with Store.open(db) as store:
        assert store.watch(rid).label == "typed after"  # kept with the removed id ...
    again = build(sim, clock, db)
    async with again.run_test(size=SIZE) as pilot:
        await idle(pilot, again)
        with Store.open(db) as store:
            add_ids(store, [rid])  # ... and back with it when added again
        await again.pick_up_added()
        assert entry(again, rid).label == "typed after"


async def test_a_row_read_before_the_monitors_own_edit_is_written_does_not_undo_it(sim, clock, db):
    rid = sim.create_request("sms", ["+971500000001"], DELIVERS)
    app = build(sim, clock, db, [Target(rid)])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        app.set_label_note(rid, "first", "")
        await app.memory.astore.flush()
        other = sqlite3.connect(db, isolation_level=None)  # another process writing a while
        other.execute("BEGIN IMMEDIATE")
        try:
            app.set_label_note(rid, "second", "")  # queued behind it
            assert await app.pick_up_added() == 0  # the row still says "first"
            assert entry(app, rid).label == "second"
        finally:
            other.execute("ROLLBACK")
            other.close()
        await app.memory.astore.flush()
        assert await app.pick_up_added() == 0
        assert entry(app, rid).label == "second"


async def test_a_restart_polls_nothing_already_final(sim, clock, db):
    done = sim.create_request("sms", ["+971500000001"], [Step(0, "delivered")])
    going = sim.create_request("sms", ["+971500000002"], DELIVERS)
    app = build(sim, clock, db, [Target(done), Target(going)])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
    again = build(sim, clock, db)
    before = status_requests(sim)
    async with again.run_test(size=SIZE) as pilot:
        await started(pilot, again, 2)
        await idle(pilot, again)
        assert entry(again, done).status is WatchStatus.DONE
        assert status_requests(sim) - before == 1  # the one still pending, not the final one
        for _ in range(2):  # delivered, then confirmed
            clock.advance(3600)
            await idle(pilot, again)
        assert entry(again, going).latest_status == "delivered"
        assert "✓ all final" in screen_text(again)
        asked = status_requests(sim)
        clock.advance(3600)
        await idle(pilot, again)
        assert status_requests(sim) == asked


async def test_a_long_restart_paints_the_newest_rows_first_then_all_and_asks_nothing(
    sim, clock, db, monkeypatch
):
    monkeypatch.setattr(app_module, "FIRST_ROWS", 5)  # as 100,000 ids with a screenful drawn
    ids = remember_final(db, 30, archived=3)
    monkeypatch.setattr(app_module, "SKETCH_PART", 4)  # the rest a few rows a turn
    first_paint: list[list[str]] = []
    listed: list[int] = []  # how many rows were made before each part
    draw_more = Monitor.sketch_more

    def painted_then_the_rest(monitor: Monitor, budget: int | None) -> bool:
        if monitor.sketching and not first_paint:
            first_paint.append(list(order(app)))
        listed.append(len(monitor.live) + len(monitor.archived))
        # Not all made yet: the status line does not say all is final (nor stopped).
        assert "all final" not in screen_text(app) and "stopped" not in screen_text(app)
        return draw_more(monitor, budget)

    monkeypatch.setattr(Monitor, "sketch_more", painted_then_the_rest)
    app = build(sim, clock, db)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app, 27)
        await idle(pilot, app)
        # The first rows on screen were the newest changes, before the rest of the list was made,
        # and the rest came in parts, the screen's loop free in between.
        assert first_paint == [ids[:-6:-1]]
        assert listed[:3] == [5, 9, 13]
        assert order(app) == ids[:2:-1]  # then every live one, newest first
        assert [e.request_id for e in app.archived] == ids[:3]
        assert all(entry(app, rid).latest_status == "delivered" for rid in ids[3:])
        assert "✓ all final" in screen_text(app)
    assert status_requests(sim) == 0  # every one final: nothing asked


async def test_a_restart_paints_its_first_rows_before_the_whole_list_is_read(
    sim, clock, db, monkeypatch
):
    # The cause of a slow first paint at 100,000 ids: every row of the list was read and made
    # into objects before the first rows could be drawn. Here the whole list's read is held
    # back: the newest rows are on screen all the same, and nothing says the work is done.
    monkeypatch.setattr(app_module, "FIRST_ROWS", 5)
    ids = remember_final(db, 30, archived=3)
    held = threading.Event()
    read_whole = Store.watch_summaries

    def held_back(store: Store, which: Which = Which.KEPT) -> list[Any]:
        held.wait(30)
        return read_whole(store, which)

    monkeypatch.setattr(Store, "watch_summaries", held_back)
    app = build(sim, clock, db)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(order(app)) == 5)
        assert order(app) == ids[:-6:-1]  # the newest changes first
        text = screen_text(app)
        # The status line counts every remembered live request, not only those drawn.
        assert "reading 27 remembered" in text and "all final" not in text
        assert app.loading
        held.set()
        await started(pilot, app, 27)
        await idle(pilot, app)
        assert order(app) == ids[:2:-1]
        assert [e.request_id for e in app.archived] == ids[:3]
        assert "✓ all final" in screen_text(app)
    assert status_requests(sim) == 0  # every one final: nothing asked


async def test_ids_added_while_the_list_is_still_read_do_not_hold_the_keys(
    sim, clock, db, monkeypatch
):
    # The first second of a restart of 100,000 ids: ids added then waited, the screen's loop
    # blocked, for the whole list's read (and every entry made at once) before the key was
    # answered. Here the read is held back: the add is answered at once, the ids come once the
    # list is in, and an id of the unread rest is known as watched (it keeps its label).
    monkeypatch.setattr(app_module, "FIRST_ROWS", 5)
    ids = remember_final(db, 30)
    held = threading.Event()
    timed_out: list[bool] = []
    read_whole = Store.watch_summaries

    def held_back(store: Store, which: Which = Which.KEPT) -> list[Any]:
        timed_out.append(not held.wait(10))
        return read_whole(store, which)

    monkeypatch.setattr(Store, "watch_summaries", held_back)
    new = "22222222-2222-4333-8444-555555555555"
    app = build(sim, clock, db)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(order(app)) == 5)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, AddDialog))
        app.screen.query_one("#add-ids", Input).value = f"{new} {ids[3]}"  # ids[3]: not drawn yet
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, MonitorScreen))
        assert timed_out == []  # answered while the read is still held back
        held.set()
        await until(pilot, lambda: new in app.live)
        await started(pilot, app, 31)
        await idle(pilot, app)
        assert entry(app, ids[3]).label == "kept"  # the remembered one, not a new one
        assert entry(app, ids[3]).latest_status == "delivered"
    assert timed_out == [False]  # the read was let go by the test, not by a wait that gave up
    with Store.open(db) as store:
        assert {w.request_id for w in store.watches()} == {*ids, new}


async def test_a_restart_with_only_archived_requests_lists_them_in_the_archive(
    sim, clock, db, monkeypatch
):
    # No live id among the first rows: the whole list is read all the same (not left for
    # the next look for ids added elsewhere, which draws what is left: every 5 s; here never).
    monkeypatch.setattr(app_module, "FIRST_ROWS", 2)
    monkeypatch.setattr(app_module, "PICK_UP_CHECK", 3600.0)
    ids = remember_final(db, 4, archived=4)
    app = build(sim, clock, db)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(app.archived) == 4 and not app.loading)
        await idle(pilot, app)
        assert [e.request_id for e in app.archived] == ids
        assert len(app.live) == 0
    assert status_requests(sim) == 0


async def test_a_store_opened_before_the_screen_is_the_one_shown(sim, clock, db):
    # `d7tui` opens the store and reads its first rows while the screen's code is imported
    # (EarlyOpen); the monitor then shows that store, as if it had opened it itself.
    ids = remember_final(db, 12, archived=2)
    app = build(sim, clock, db, early=EarlyOpen(db, None))
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app, 10)
        await idle(pilot, app)
        assert order(app) == ids[:1:-1]
        assert "✓ all final" in screen_text(app)
        assert app.memory is not None and app.memory.path == db
    assert status_requests(sim) == 0


async def test_a_store_that_failed_to_open_early_is_said_as_at_any_start(sim, clock, db):
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as conn:  # somebody else's database: left as it is
        conn.execute("CREATE TABLE theirs (x)")
    app = build(sim, clock, db, early=EarlyOpen(db, None))
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        assert app.memory is None
        assert "Not remembering this session" in screen_text(app)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("theirs",)]


def test_a_store_opened_early_and_not_taken_is_closed(db):
    early = EarlyOpen(db, None)
    early.discard()
    with Store.open(db) as store:  # closed: nothing of it holds the file
        assert store.watches() == []


async def test_a_restart_with_every_row_final_says_when_they_were_polled(sim, clock, db):
    done = sim.create_request("sms", ["+971500000001"], [Step(0, "delivered")])
    app = build(sim, clock, db, [Target(done)])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        polled = entry(app, done).last_poll
    assert polled is not None
    clock.advance(600)
    again = build(sim, clock, db)
    async with again.run_test(size=SIZE) as pilot:
        await started(pilot, again, 1)
        await idle(pilot, again)
        shown = screen_text(again)
        # Not `refreshed -` (H12.3): the rows shown were polled then, by the run before.
        assert f"refreshed {format_clock(polled, clock.now())}" in shown, shown
        assert "✓ all final" in shown


async def test_an_infobip_bulk_past_48_hours_is_shown_from_memory_and_not_polled(sim, clock, db):
    import time

    from d7tui.channels import infobip
    from d7tui.models import Channel, RequestStatus, observe

    # What a monitor stored two days ago of a bulk still waiting at the operator.
    sent = infobip.format_time(int((time.time() - 50 * 3600) * 1000))
    item = {
        "bulkId": "B-OLD",
        "messageId": "m-1",
        "destination": "41793026727",
        "sentAt": sent,
        "status": {"groupName": "DELIVERED", "name": "DELIVERED_TO_OPERATOR"},
    }
    with Store.open(db) as store:
        store.add_watch("B-OLD", "infobip", IdKind.BULK, added_at=time.time() - 50 * 3600)
        state = RequestStatus("B-OLD", Channel.INFOBIP, (infobip.parse_item(item, 0),))
        store.save_observation(*observe(None, state, 1.0))
    app = build(sim, clock, db)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app, 1)
        await idle(pilot, app)
        assert entry(app, "B-OLD").status_text() == "from memory · DELIVERED_TO_OPERATOR"
        assert "from memory" in screen_text(app)
        clock.advance(120)
        await idle(pilot, app)
        assert sim.infobip_calls == {}  # Infobip has forgotten it: never asked in vain


async def test_a_label_or_note_too_long_to_keep_is_refused_in_the_dialog_never_dropped(
    sim, clock, db
):
    """Fresh-eyes finding H17: the `l` dialog took 60 characters while `d7tui add --label` takes
    200; a longer paste vanished whole, and typing past 60 was dropped, without a word."""
    rid = sim.create_request("sms", ["+971500000003"], DELIVERS)
    app = build(sim, clock, db, [Target(rid)])
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app, 1)
        await pilot.press("l")
        label = app.screen.query_one("#label-label", Input)
        label.post_message(events.Paste("L" * 150))  # as a terminal's bracketed paste
        await pilot.pause()
        assert label.value == "L" * 150  # taken whole: the store keeps 200
        label.post_message(events.Paste("M" * 60))
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, LabelDialog)  # not saved, nothing cut
        assert label.value == "L" * 150 + "M" * 60
        assert "The label is 210 characters; at most 200 are kept: shorten it to save." in (
            screen_text(app)
        )
        await pilot.press(*["backspace"] * 10, "enter")
        await until(pilot, lambda: not isinstance(app.screen, LabelDialog))
        assert entry(app, rid).label == "L" * 150 + "M" * 50
