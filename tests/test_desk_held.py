"""A desk's database away when the monitor starts (fresh-eyes finding L12): the monitor ran,
said "nothing new is saved", and at quit dropped every id added and label typed without a line.
Now what is done is held as on a read-only SQLite store: written as it is done to a held file
under the database's own name in the data directory, said at quit, and taken in by the next
d7tui that reaches the database."""

from __future__ import annotations

import pytest
from pgserver import PgServer
from test_ui import paste
from ui_kit import entry, idle, said, screen_text, sim_settings, until

from d7tui.channels.infobip import parse_page
from d7tui.cli import main
from d7tui.clock import ManualClock
from d7tui.safety import Secret
from d7tui.simulator import Simulator, Step
from d7tui.store import open_store
from d7tui.store.pg import local_path
from d7tui.store.rescue import held_files
from d7tui.ui import app as app_module
from d7tui.ui.app import farewell_text, make_app
from d7tui.ui.screens.add import AddDialog
from d7tui.ui.screens.label import LabelDialog

SIZE = (120, 40)
PASSWORD = "S3cr3tPW-desk"


async def test_a_monitor_started_while_the_desk_is_away_holds_says_and_hands_over_what_was_done(
    sim: Simulator,
    clock: ManualClock,
    own_server: PgServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
):
    url = own_server.create_database().replace("postgres@", f"postgres:{PASSWORD}@")
    own_server.stop()
    rid = sim.create_request("sms", ["+971500000001"], [Step(0, "accepted"), Step(4, "delivered")])
    app = make_app(sim_settings(sim, database_url=Secret(url)), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: any("Not remembering" in n for n in app.notices))
        [notice] = [n for n in app.notices if "Not remembering" in n]
        assert "the database cannot be reached" in notice
        assert "held and written as you go to a file the next d7tui that reaches" in notice
        await pilot.press("a")
        assert isinstance(app.screen, AddDialog)
        await paste(pilot, app, rid)
        await pilot.press("enter")
        await until(pilot, lambda: rid in app.live)
        assert said(app)[-1].startswith("Held, not saved")
        await pilot.press("l")
        assert isinstance(app.screen, LabelDialog)
        await pilot.press(*"vip", "tab", *"called back")
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, LabelDialog))
        clock.advance(5)
        app.poller.refresh()
        await idle(pilot, app)
        assert entry(app, rid).latest_status == "delivered"  # polled all the same
        # On disk as it was done, before any quit: a kill -9 now loses none of it.
        written = app.monitor.held.written()  # type: ignore[union-attr]
        assert written is not None and written.parent == local_path(url).parent
        assert PASSWORD not in screen_text(app)
    # One line on the terminal: what was not saved, why, and where it is kept.
    [line] = app.farewell
    assert line.startswith("1 id added, 1 label or note edit and ")
    assert "could not be saved" in line and "cannot be reached" in line
    assert f"kept in {written}" in line
    assert PASSWORD not in farewell_text(app.farewell) + " ".join(said(app) + app.notices)
    # With the database still away, `d7tui add` says in one line that it added nothing.
    monkeypatch.setenv("D7TUI_DATABASE_URL", url)
    capsys.readouterr()
    assert main(["add", "another-id-1"]) == 5
    err = capsys.readouterr().err
    assert err.startswith("d7tui add: nothing was added: postgresql://postgres@127.0.0.1:")
    assert len(err.splitlines()) == 1 and PASSWORD not in err
    # The database back: the next d7tui that reaches it takes everything in, and says so.
    own_server.start_again()
    with open_store(url, parse_report=parse_page) as store:
        assert any("took in" in warning for warning in store.warnings)
        [watch] = store.watches()
        assert (watch.request_id, watch.label, watch.note) == (rid, "vip", "called back")
        assert [t.new_status for t in store.transitions(rid)] == ["accepted", "delivered"]
        assert held_files(store.path) == []


async def add_id(pilot, app, rid: str) -> None:
    await pilot.press("a")
    assert isinstance(app.screen, AddDialog)
    await paste(pilot, app, rid)
    await pilot.press("enter")
    await until(pilot, lambda: rid in app.live)


@pytest.mark.long
async def test_the_desk_back_while_the_monitor_runs_gets_what_was_held_and_the_monitor_joins_it(
    sim: Simulator, clock: ManualClock, own_server: PgServer, monkeypatch: pytest.MonkeyPatch
):
    """L12: the database coming back while a monitor started without it runs: what was held
    is written to it at once, and the monitor joins the desk as one started with it (it kept
    polling on its own and needed a restart to join): it leads (nobody else does), and what is
    done next goes to the database as on any monitor of the desk; away again, held again and
    kept at quit; nothing twice, nothing lost."""
    monkeypatch.setattr(app_module, "DESK_RETRY", 0.2)
    url = own_server.create_database()
    own_server.stop()
    ids = [
        sim.create_request("sms", [f"+97150000000{n}"], [Step(0, "accepted")]) for n in (1, 2, 3)
    ]
    ids[1] = sim.create_request(
        "sms", ["+971500000005"], [Step(0, "accepted"), Step(4, "delivered")]
    )
    app = make_app(sim_settings(sim, database_url=Secret(url)), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: any("Not remembering" in n for n in app.notices))
        assert app.desk is None
        await add_id(pilot, app, ids[0])
        await until(pilot, lambda: entry(app, ids[0]).state is not None)
        own_server.start_again()
        await until(pilot, lambda: any("answers again: 1 id added" in t for t in said(app)))
        await until(pilot, lambda: any(t.startswith("Joined the desk: ") for t in said(app)))
        assert app.desk is not None and app.desk.leading and app.memory is not None
        assert "this monitor leads it" in next(t for t in said(app) if t.startswith("Joined"))
        assert not any(
            "Not remembering" in n or n.startswith("The desk's database answers again")
            for n in app.notices
        )
        # What is done now goes to the database as on any monitor of the desk.
        await add_id(pilot, app, ids[1])
        assert not any(t.startswith("Held") for t in said(app)[-2:])
        sim.advance(5)
        await pilot.press("r")
        await until(pilot, lambda: entry(app, ids[1]).latest_status == "delivered")
        with open_store(url, parse_report=parse_page) as desk:

            def stored() -> str | None:
                kept = desk.load_state(ids[1])
                return kept.state.recipients[0].status if kept is not None else None

            await until(pilot, lambda: stored() == "delivered")
        # Away again: as for any monitor of the desk, the banner says so and what is done is held.
        own_server.stop()
        await until(pilot, lambda: any("cannot be reached" in n for n in app.notices))
        await add_id(pilot, app, ids[2])
    own_server.start_again()
    with open_store(url, parse_report=parse_page) as store:
        assert sorted(w.request_id for w in store.watches()) == sorted(ids)
        for rid in ids:
            delivered = ["delivered"] if rid == ids[1] else []
            assert [t.new_status for t in store.transitions(rid)] == ["accepted", *delivered]


async def test_a_monitor_started_while_the_desk_was_away_follows_its_leader_once_it_is_back(
    sim: Simulator, clock: ManualClock, own_server: PgServer, monkeypatch: pytest.MonkeyPatch
):
    """The rejoin: a monitor started without its desk's database, which comes back with a
    leader on it, follows that leader (it polls nothing more) and shows the desk's list, with
    what it held written to the desk."""
    monkeypatch.setattr(app_module, "DESK_RETRY", 3600.0)  # tried when the test says, below
    url = own_server.create_database()
    own_server.stop()
    mine = sim.create_request("sms", ["+971500000001"], [Step(0, "accepted")])
    theirs = sim.create_request("sms", ["+971500000002"], [Step(0, "accepted")])
    app = make_app(sim_settings(sim, database_url=Secret(url)), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: any("Not remembering" in n for n in app.notices))
        await add_id(pilot, app, mine)
        await until(pilot, lambda: entry(app, mine).state is not None)
        own_server.start_again()
        with open_store(url, parse_report=parse_page, user="lead") as lead:
            assert lead.report_lock.try_acquire()
            lead.add_watch(theirs, "sms")
            await app._hand_over_held()  # what the retry every 5 s does
            assert app.desk is not None and not app.desk.leading
            assert any(t.startswith("Joined the desk: this monitor follows") for t in said(app))
            await until(pilot, lambda: theirs in app.live)
            assert lead.watch(mine) is not None  # what it held is the desk's
            calls = app.desk.fetcher.vendor_calls
            app.poller.refresh()
            await idle(pilot, app)
            assert app.desk.fetcher.vendor_calls == calls  # it asks the vendors nothing
