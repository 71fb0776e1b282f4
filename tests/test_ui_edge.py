"""The app's edge: a bug in a handler, a timer or a worker is caught there. The monitor lives on
and keeps polling, a one-line banner names the file, and the file holds the traceback without
local variables, the token redacted and the recipients masked. Nothing reaches the terminal."""

from __future__ import annotations

import io
import re
import stat
from collections.abc import Iterator
from typing import Any

import pytest
from pollkit import until
from rich.traceback import Traceback
from ui_kit import entry, idle, screen_text, sim_settings, start_simulator

from d7tui.clock import ManualClock
from d7tui.models import Target
from d7tui.pollstate import PollConfig
from d7tui.simulator import Simulator, Step
from d7tui.ui.app import make_app
from d7tui.ui.edge import ERRORS_LOG, Edge, EdgeConsole, redact
from d7tui.ui.screens.monitor import MonitorScreen
from d7tui.watchlist import Watchlist

TOKEN = "sim-token-that-must-never-show"


@pytest.fixture
def sim(clock: ManualClock) -> Iterator[Simulator]:
    simulator = start_simulator(clock, token=TOKEN)
    yield simulator
    simulator.stop()


async def test_a_bug_in_a_key_handler_and_a_timer_is_caught_at_the_edge(
    sim, clock, tmp_path, monkeypatch: pytest.MonkeyPatch
):
    rid = sim.create_request("sms", ["+971509752626"], [Step(0, "sent"), Step(4, "delivered")])
    db = tmp_path / "data" / "d7tui.sqlite3"
    app = make_app(
        sim_settings(sim, token=TOKEN),
        ids=[Target(rid)],
        clock=clock,
        poll_config=PollConfig(workers=2),
        store_path=db,
        bell=False,
    )

    def broken_sort(self: Watchlist) -> Any:
        recipient = "+971509752626"  # a local variable Textual's traceback would print
        secret = TOKEN
        raise RuntimeError(f"sort bug near {recipient} with {secret}")

    async with app.run_test(size=(120, 40)) as pilot:
        await idle(pilot, app)
        monkeypatch.setattr(Watchlist, "cycle_sort", broken_sort)
        await pilot.press("s")  # a key's handler fails
        await pilot.pause()
        assert app.is_running
        log = db.parent / ERRORS_LOG
        banner = f"internal error — details in {log}"
        assert banner in " ".join(screen_text(app).split())  # the path may take a line of its own

        monkeypatch.setattr(MonitorScreen, "render_context", lambda self: 1 / 0)
        app.screen.set_timer(0.01, app.screen._tick)  # the clock's timer fails too

        def failed_twice() -> bool:
            # Twice at least: the clock's own once-a-second tick may fail too meanwhile.
            times = re.search(r"internal error \((\d+) times\)", screen_text(app))
            return times is not None and int(times[1]) >= 2

        await until(pilot, failed_twice)
        monkeypatch.undo()
        assert app.is_running

        clock.advance(4)  # polling went on
        await idle(pilot, app)
        assert entry(app, rid).latest_status == "delivered"
        assert "delivered" in screen_text(app)
    assert app.return_code in (0, None)

    written = log.read_text()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600  # owner only, as the database beside it
    assert "RuntimeError: sort bug near +97150•••••26 with [redacted]" in written
    assert "ZeroDivisionError" in written and "in broken_sort" in written
    assert TOKEN not in written and "+971509752626" not in written
    assert "secret =" not in written and "recipient =" not in written  # no locals


def test_what_escapes_every_guard_prints_one_line_not_textuals_traceback(tmp_path):
    out = io.StringIO()
    edge = Edge(lambda: tmp_path, lambda: [TOKEN], lambda edge: None)
    console = EdgeConsole(edge, file=out)
    try:
        secret = TOKEN  # noqa: F841 (a local a traceback with locals would show)
        raise ValueError("+971509752626")
    except ValueError:
        console.print(Traceback(show_locals=True))
        console.print("NOTE: 1 error shown above.")
    printed = out.getvalue()
    assert printed.strip() == f"d7tui stopped on an internal error — details in {edge.path}"
    assert TOKEN not in (tmp_path / ERRORS_LOG).read_text()


def test_redaction_masks_numbers_and_tokens_but_not_request_ids():
    text = (
        "token abcd1234 for +971509752626 and 41793026727 in 9d056a09-0fc4-4f68-9058-3846d58aa244"
    )
    assert redact(text, ["abcd1234"]) == (
        "token [redacted] for +97150•••••26 and 41793••••27 in 9d056a09-0fc4-4f68-9058-3846d58aa244"
    )
