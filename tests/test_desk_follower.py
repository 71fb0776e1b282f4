"""What a follower (of a desk's PostgreSQL database, or of the monitor leading one SQLite file)
takes from the store is told as the store has it.

Fresh-eyes F1 (t7): a follower that was stopped (`kill -STOP`, a laptop asleep), or a stopped
leader that ran again as a follower, showed every change at the moment it read it, not when the
leader stored it: two monitors of one desk disagreed on when a message failed, and a laptop that
slept overnight showed the night's failures as "just now". Here the test leads the store and
stores changes dated hours before the follower reads them: what a follower reads after a sleep.

Fresh-eyes F8 (t7): the desk's database stopped, a follower's read of it was said as the vendor
being unreachable (`✗ Cannot reach 127.0.0.1 (sms, whatsapp, viber)`, `⚠ 1 unreachable`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pgserver import PgServer
from test_desk import following, leading_here, poll_saved, sms
from ui_kit import entry, list_lines, screen_text, sim_settings, until

from d7tui.clock import ManualClock
from d7tui.safety import Secret
from d7tui.simulator import Simulator
from d7tui.ui import desk as desk_link
from d7tui.ui.app import D7App, make_app
from d7tui.ui.format import format_clock

SIZE = (120, 40)
HOUR = 3600.0


def follower(sim: Simulator, clock: ManualClock, location: Path | str) -> D7App:
    if isinstance(location, Path):
        return make_app(sim_settings(sim), clock=clock, store_path=location)
    return make_app(sim_settings(sim, database_url=Secret(location)), clock=clock)


def since(app: D7App, label: str) -> str:
    """The Since column of the row labelled `label`, as the screen shows it."""
    lines = list_lines(app)
    column = lines[0].index("Since")
    row = next(line for line in lines[1:] if label in line)
    return row[column : column + 5].strip()


async def test_a_follower_tells_each_change_when_the_leader_stored_it_not_when_it_read_it(
    sim: Simulator, clock: ManualClock, store_location: Path | str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(desk_link, "SILENT_AFTER", 10 * HOUR)  # the test's lead has no heartbeat
    if isinstance(store_location, Path):
        store_location.parent.mkdir(parents=True, exist_ok=True)
    rid, later = "req-night", "req-added-elsewhere"
    then = ManualClock(clock.now() - 3 * HOUR)  # the leader's: it stored this hours ago
    with leading_here(store_location) as lead:  # type: ignore[arg-type]
        lead.add_watch(rid, "sms", label="night-shift", added_at=then.now())
        poll_saved(lead, then, sms(rid, "sent"))
        sent_at = then.now()
        app = follower(sim, clock, store_location)
        async with app.run_test(size=SIZE) as pilot:
            await following(pilot, app, [rid])
            assert entry(app, rid).last_change == sent_at  # as the store had it at start
            # A read that changes no status (the cost alone) leaves the row's Since as it was:
            # it said since when the id was added.
            then.advance(HOUR)
            poll_saved(lead, then, sms(rid, "sent", cost=0.01))
            await until(pilot, lambda: entry(app, rid).costs.get("AED") == 0.01)
            assert entry(app, rid).last_change == sent_at
            # It failed an hour later, and this monitor reads it an hour after that.
            then.advance(HOUR)
            failed_at = then.now()
            poll_saved(lead, then, sms(rid, "undelivered", cost=0.01))
            await until(pilot, lambda: entry(app, rid).latest_status == "undelivered")
            row = entry(app, rid)
            assert (row.timeline[-1].at, row.last_change) == (failed_at, failed_at)
            now = clock.now()
            failed = format_clock(failed_at, now)
            await until(pilot, lambda: since(app, "night-shift") == "1h")
            # The event strip says when it failed, not when this monitor read it.
            assert [e.at for e in app.events if "undelivered" in e.text] == [failed]
            await until(pilot, lambda: f"{failed} ✗ " in screen_text(app))
            # The leader polled it then, too.
            await until(pilot, lambda: f"leader polled {failed}" in screen_text(app))
            # The timeline in the detail, both changes at their stored times.
            await pilot.press("enter")
            await until(pilot, lambda: "sent → ✗ undelivered" in screen_text(app))
            text = screen_text(app)
            assert format_clock(sent_at, now) in text and failed in text
            await pilot.press("escape")
            # An id added elsewhere, polled by the leader before this monitor picks it up: its
            # times are the store's too, after this monitor's own read of it.
            lead.add_watch(later, "sms", label="added-elsewhere", added_at=then.now())
            poll_saved(lead, then, sms(later, "delivered"))
            await until(pilot, lambda: later in app.live, timeout=30)
            await until(
                pilot, lambda: entry(app, later).polls > 0 and entry(app, later).state is not None
            )
            picked = entry(app, later)
            assert picked.last_change == failed_at
            assert [t.at for t in picked.timeline] == [failed_at]
            await until(pilot, lambda: since(app, "added-elsewhere") == "1h")
            assert app.desk is not None and app.desk.fetcher.vendor_calls == 0


async def test_a_followers_read_of_a_database_away_is_no_vendor_outage_on_its_rows(
    sim: Simulator, clock: ManualClock, own_server: PgServer
):
    url = own_server.create_database()
    rid, unpolled = "req-outage", "req-not-polled-yet"
    with leading_here(url) as lead:
        lead.add_watch(rid, "sms", label="outage")
        poll_saved(lead, clock, sms(rid, "sent"))
        lead.add_watch(unpolled, "auto")  # the leader has not answered for it yet
        app = follower(sim, clock, url)
        async with app.run_test(size=SIZE) as pilot:
            await following(pilot, app, [rid])
            desk = app.desk
            assert desk is not None
            # Read before the leader answered for it: waiting, as on the leader, in no error
            # (it was "⚠ API error: waiting for the first answer").
            await until(pilot, lambda: unpolled in app.live)
            read = desk.fetcher.ids_read
            app.poller.refresh()
            await until(pilot, lambda: desk.fetcher.ids_read >= read + 2 and app.poller.idle())
            await pilot.pause()
            assert entry(app, unpolled).error is None
            assert entry(app, unpolled).status_text() == "waiting…"
            own_server.stop()
            await until(pilot, lambda: any("database cannot be reached" in n for n in app.notices))
            # A read of what the leader stored (news, `r`), while the database is away.
            reads = desk.fetcher.database_reads
            app.poller.refresh()
            await until(pilot, lambda: desk.fetcher.database_reads > reads)
            await until(pilot, app.poller.idle)
            await pilot.pause()
            # The row keeps what it had, in no error; the banner names the database, no vendor.
            row = entry(app, rid)
            assert row.error is None and row.state is not None
            text = screen_text(app)
            assert "The desk's database cannot be reached" in text
            assert "Cannot reach" not in text and "sms, whatsapp, viber" not in text
            assert "unreachable" not in text and "⚠" not in text
            assert desk.fetcher.vendor_calls == 0
