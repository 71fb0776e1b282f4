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
async def test_the_desk_back_while_the_monitor_runs_gets_what_was_held_and_more_as_it_comes(
    sim: Simulator, clock: ManualClock, own_server: PgServer, monkeypatch: pytest.MonkeyPatch
):
    """L12: the database coming back while a monitor started without it runs: what was held
    is written to it at once, and what is done next within seconds; away again, held again
    and kept at quit; nothing twice, nothing lost."""
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
        await add_id(pilot, app, ids[0])
        await until(pilot, lambda: entry(app, ids[0]).state is not None)
        own_server.start_again()
        await until(pilot, lambda: any("answers again: 1 id added" in t for t in said(app)))
        assert any(
            n.startswith("The desk's database answers again: what you add") for n in app.notices
        )
        assert not any("Not remembering" in n for n in app.notices)
        # What is done now reaches it within seconds.
        await add_id(pilot, app, ids[1])
        assert any(t.startswith("Held for a moment: 1 id added so far") for t in said(app))
        await until(
            pilot, lambda: any("Written to the desk's database: 1 id added" in t for t in said(app))
        )
        # What the polls learn goes to it as quietly as on any store: no line each time (F4:
        # "Written to the desk's database: 1 poll result." every few seconds).
        sim.advance(5)
        await pilot.press("r")
        await until(pilot, lambda: entry(app, ids[1]).latest_status == "delivered")
        with open_store(url, parse_report=parse_page) as desk:

            def stored() -> str | None:
                kept = desk.load_state(ids[1])
                return kept.state.recipients[0].status if kept is not None else None

            await until(pilot, lambda: stored() == "delivered")
        assert not any("poll result" in t for t in said(app) if t.startswith("Written to"))
        # Away again: held again, the banner says so, and it is kept at quit.
        own_server.stop()
        await until(pilot, lambda: any("Not remembering" in n for n in app.notices))
        await add_id(pilot, app, ids[2])
        assert said(app)[-1].startswith("Held, not saved")
    [line] = app.farewell
    assert line.startswith("1 id added") and "kept in" in line
    own_server.start_again()
    with open_store(url, parse_report=parse_page) as store:
        assert sorted(w.request_id for w in store.watches()) == sorted(ids)
        for rid in ids:
            delivered = ["delivered"] if rid == ids[1] else []
            assert [t.new_status for t in store.transitions(rid)] == ["accepted", *delivered]
