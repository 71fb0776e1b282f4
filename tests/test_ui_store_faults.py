"""The monitor pulls Infobip's one-time reports only while it can keep them (issue 11, item 2).

A report handed out by `GET /sms/1/reports` is gone for everyone else, so each test ends with the
simulator's own count: every report it handed out is kept in the store (or, while it could not
be, held and then kept) and none was lost. The store's failures are real (faultfs.py): a
read-only directory, a full tmpfs, the file deleted under the running monitor.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from faultfs import read_only, small_disk
from test_ui_memory import INFOBIP_DELIVERS, SIZE, started
from test_ui_memory import build as build_with_logs
from ui_kit import entry, idle, said, screen_text, sim_settings, until

from d7tui.channels.infobip import parse_page
from d7tui.models import IdKind, InfobipSource, Target
from d7tui.simulator import Simulator
from d7tui.simulator.lifecycles import Step
from d7tui.store import Store, open_store
from d7tui.ui.app import D7App

DELIVERS = [Step(0, "accepted"), Step(4, "delivered")]


def build(sim: Simulator, *args: Any, **kw: Any) -> D7App:
    """The monitor on one-time reports, as a user who asked for them runs it."""
    settings = sim_settings(sim, infobip_source=InfobipSource.REPORTS)
    return build_with_logs(sim, *args, settings=settings, **kw)


def kept_reports(db: Path) -> set[tuple[str, str]]:
    """(messageId, status) of every one-time report the store kept."""
    with open_store(db, parse_report=parse_page) as store:
        bodies = {b.ident for b in store.report_bodies()}
        return {
            (r.recipient.msg_id or "", r.recipient.status or "")
            for ident in bodies
            for r in store.reports_for(ident)
        }


def assert_none_lost(sim: Simulator, db: Path) -> None:
    handed_out = sim.reports_handed_out
    assert handed_out, "the test pulled no report at all"
    assert set(handed_out) <= kept_reports(db)


async def test_a_store_that_cannot_be_opened_pulls_no_report_and_says_why(sim, clock, tmp_path):
    db = tmp_path / "data" / "d7tui.sqlite3"
    Store.open(db).close()
    bulk, _ = sim.create_infobip_bulk(["41793026727"], INFOBIP_DELIVERS)
    sms = sim.create_request("sms", ["+971500000001"], DELIVERS)
    with read_only(db.parent):
        app = build(sim, clock, db, [Target(bulk, "infobip", IdKind.BULK), Target(sms)])
        async with app.run_test(size=SIZE) as pilot:
            clock.advance(4)
            await idle(pilot, app)
            assert app.memory is None
            text = screen_text(app)
            assert "Not remembering this session" in text
            # The Infobip row says why nothing was pulled, and what to do instead.
            assert "reports not pulled" in str(entry(app, bulk).error)
            assert "logs" in str(entry(app, bulk).error)
            # D7 polling goes on (its next round may come after the first idle moment).
            await until(pilot, lambda: entry(app, sms).latest_status == "delivered")
    assert sim.reports_handed_out == []  # nothing was taken that could not be kept
    assert sim.counts["infobip_reports"] == 0


async def test_a_full_disk_stops_report_pulls_says_so_and_resumes_once_it_has_room(
    sim, clock, tmp_path, monkeypatch
):
    later = [Step(0, "PENDING_ACCEPTED"), Step(10, "DELIVERED_TO_HANDSET")]
    with small_disk(tmp_path / "disk", monkeypatch) as disk:
        db = tmp_path / "disk" / "d7tui.sqlite3"
        first, _ = sim.create_infobip_bulk(["41793026727", "41793026728"], INFOBIP_DELIVERS)
        second, _ = sim.create_infobip_bulk(["41793026729"], later)
        ids = [Target(first, "infobip", IdKind.BULK), Target(second, "infobip", IdKind.BULK)]
        app = build(sim, clock, db, ids)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await idle(pilot, app)
            clock.advance(4)
            app.poller.refresh()
            await idle(pilot, app)
            assert len(sim.reports_handed_out) == 2  # the first bulk's, kept
            disk.fill()
            clock.advance(10)
            app.poller.refresh()
            await idle(pilot, app)
            # The pull that could not be kept: shown, held in memory, the last one for now.
            assert entry(app, second).latest_status == "DELIVERED_TO_HANDSET"
            assert len(sim.reports_handed_out) == 3
            await until(pilot, lambda: any("Saving fails" in n for n in app.notices))
            assert "disk is full" in screen_text(app)
            # Where what is held is: on disk as it comes (J18), not only in memory.
            [trouble] = [n for n in app.notices if "Saving fails" in n]
            assert "What is not saved yet is written as it comes to " in trouble
            third, _ = sim.create_infobip_bulk(["41793026730"], INFOBIP_DELIVERS)
            app.add_targets([Target(third, "infobip", IdKind.BULK)])
            for _ in range(3):
                clock.advance(5)
                app.poller.refresh()
                await idle(pilot, app)
            assert len(sim.reports_handed_out) == 3  # nothing more was pulled meanwhile
            disk.free()
            app.memory.astore.retry_now()  # type: ignore[union-attr]
            await until(pilot, lambda: not any("Saving fails" in n for n in app.notices))
            assert any("Saving works again" in t for t in said(app))
            app.poller.refresh()
            await idle(pilot, app)
            assert entry(app, third).latest_status == "DELIVERED_TO_HANDSET"
            assert len(sim.reports_handed_out) == 4
        assert_none_lost(sim, db)


async def test_a_database_deleted_under_the_monitor_is_written_back_and_said(sim, clock, tmp_path):
    db = tmp_path / "data" / "d7tui.sqlite3"
    bulk, _ = sim.create_infobip_bulk(["41793026727"], INFOBIP_DELIVERS)
    app = build(sim, clock, db, [Target(bulk, "infobip", IdKind.BULK)], labels={bulk: "Order 7"})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await idle(pilot, app)
        for found in db.parent.iterdir():  # `rm -r` of the data directory
            found.unlink()
        db.parent.rmdir()
        clock.advance(4)
        app.poller.refresh()
        await idle(pilot, app)
        await until(pilot, lambda: any("was deleted" in n for n in app.notices))
        assert "was deleted" in screen_text(app)
    assert_none_lost(sim, db)
    again = build(sim, clock, db)
    async with again.run_test(size=SIZE) as pilot:
        await started(pilot, again, 1)
        assert entry(again, bulk).label == "Order 7"
        assert entry(again, bulk).latest_status == "DELIVERED_TO_HANDSET"


async def test_quitting_with_the_disk_still_full_keeps_the_reports_for_the_next_start(
    sim, clock, tmp_path, monkeypatch
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    with small_disk(tmp_path / "disk", monkeypatch) as disk:
        db = tmp_path / "disk" / "d7tui.sqlite3"
        bulk, _ = sim.create_infobip_bulk(["41793026727"], INFOBIP_DELIVERS)
        app = build(sim, clock, db, [Target(bulk, "infobip", IdKind.BULK)])
        async with app.run_test(size=SIZE) as pilot:
            await idle(pilot, app)
            disk.fill()
            clock.advance(4)
            app.poller.refresh()
            await idle(pilot, app)
            assert entry(app, bulk).latest_status == "DELIVERED_TO_HANDSET"  # shown, held
        # Said on the terminal once the screen is gone, and kept in a file ...
        [said, *_] = app.farewell
        assert "1 Infobip reports page and 1 poll result could not be saved" in said
        assert "disk is full" in said
        assert "takes in" in said
        disk.free()
        assert_none_lost(sim, db)  # ... which the next open took in


async def test_the_guard_lets_infobip_logs_through_in_lists(sim, clock, tmp_path):
    """Logs take nothing from anyone: the monitor asks them as before, many ids in one call."""
    slow = [Step(0, "PENDING_ACCEPTED"), Step(3600, "DELIVERED_TO_HANDSET")]
    bulks = [sim.create_infobip_bulk([f"4179{n:07d}"], slow)[0] for n in range(5)]
    app = build_with_logs(sim, clock, tmp_path / "d7tui.sqlite3")
    async with app.run_test(size=SIZE) as pilot:
        app.add_targets([Target(b, "infobip", IdKind.BULK) for b in bulks])
        await idle(pilot, app)
        assert all(entry(app, b).latest_status == "PENDING_ACCEPTED" for b in bulks)
        assert sum(sim.infobip_calls.values()) == 1 and sim.reports_handed_out == []
