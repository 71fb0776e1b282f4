"""The monitor driven by random interleavings of what a user does while the APIs answer: after
every step the app is alive and the rows on screen are exactly the model's visible list, in its
order, each saying its request's current status.

Hypothesis' stateful testing drives the real app through Textual's Pilot, against the simulator
over loopback (time is the test's clock: poll results arrive when a step moves it). The app runs
in an event loop of its own thread; each step is handed to it and waited for.

Derandomised in CI (a few hundred steps). A longer, random run:
    D7TUI_STATEFUL_EXAMPLES=200 D7TUI_STATEFUL_STEPS=100 .venv/bin/python -m pytest -q \
        tests/test_ui_stateful.py
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from textual.pilot import Pilot
from ui_kit import idle, list_lines, sim_settings, start_simulator

from d7tui.clock import ManualClock
from d7tui.models import Target
from d7tui.pollstate import PollConfig
from d7tui.simulator import Simulator, Step
from d7tui.ui.app import D7App, make_app
from d7tui.ui.screens.monitor import MonitorScreen
from d7tui.ui.widgets.watchlist_table import WatchlistTable, status_cell

EXAMPLES = int(os.environ.get("D7TUI_STATEFUL_EXAMPLES", "4"))
STEPS = int(os.environ.get("D7TUI_STATEFUL_STEPS", "40"))
RANDOM = "D7TUI_STATEFUL_EXAMPLES" in os.environ
pytestmark = pytest.mark.long

START_IDS = 36  # more than an 80x24 list shows: pgdn, pgdn has somewhere to go

# Lifecycles of different lengths, so that a step of time changes some rows and not others.
SCRIPTS = [
    [Step(0, "accepted"), Step(4, "delivered")],
    [Step(0, "sent"), Step(9, "un_delivered", "Absent subscriber")],
    [Step(0, "sent"), Step(30, "delivered")],
    [Step(0, "scheduled"), Step(15, "sent"), Step(40, "delivered")],
    [Step(0, "delivered")],
]
FILTER_KEYS = [*list("abcdefilnrstuv0123456789"), "underscore", "minus"]


class Session:
    """The app under test, running in an event loop of its own thread. `do` hands it one step
    (a coroutine taking the pilot) and waits for it: steps run inside the app's own task, as
    a test's body would."""

    def __init__(self, app: D7App, size: tuple[int, int]) -> None:
        self.app = app
        self._jobs: asyncio.Queue[Any] | None = None
        self._ready = threading.Event()
        self._ended: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, args=(size,), daemon=True)
        self._thread.start()
        self._ready.wait(60)

    def _run(self, size: tuple[int, int]) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._session(size))
            self._ended.set_result(None)
        except BaseException as exc:
            self._ended.set_exception(exc)
            self._ready.set()
        finally:
            self._loop.close()

    async def _session(self, size: tuple[int, int]) -> None:
        self._jobs = asyncio.Queue()
        async with self.app.run_test(size=size) as pilot:
            self._ready.set()
            while True:
                job = await self._jobs.get()
                if job is None:
                    break
                step, done = job
                try:
                    done.set_result(await step(pilot))
                except BaseException as exc:
                    done.set_exception(exc)

    def do(self, step: Callable[[Pilot[Any]], Awaitable[Any]]) -> Any:
        if self._ended.done():
            self._ended.result()  # the app ended: say why
            raise AssertionError("the app is no longer running")
        done: concurrent.futures.Future[Any] = concurrent.futures.Future()
        assert self._jobs is not None
        self._loop.call_soon_threadsafe(self._jobs.put_nowait, (step, done))
        return done.result(timeout=120)

    def close(self) -> None:
        if not self._ended.done() and self._jobs is not None:
            self._loop.call_soon_threadsafe(self._jobs.put_nowait, None)
        self._thread.join(60)


class MonitorMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.sim: Simulator = start_simulator(self.clock)
        self.made = 0
        ids = [self._new_request() for _ in range(START_IDS)]
        app = make_app(
            sim_settings(self.sim),
            ids=[Target(i) for i in ids],
            clock=self.clock,
            poll_config=PollConfig(workers=4),
            bell=False,
            persist=False,
        )
        self.session = Session(app, (80, 24))
        self.app = app
        self.session.do(lambda pilot: idle(pilot, app))

    def teardown(self) -> None:
        self.session.close()
        self.sim.stop()

    def _new_request(self) -> str:
        self.made += 1
        script = SCRIPTS[self.made % len(SCRIPTS)]
        return self.sim.create_request("sms", [f"+9715{self.made:08d}"], script)

    def press(self, *keys: str) -> None:
        self.session.do(lambda pilot: pilot.press(*keys))

    @property
    def on_main(self) -> bool:
        return isinstance(self.app.screen, MonitorScreen)

    # -- what a user does --------------------------------------------------------------------

    @rule(
        key=st.sampled_from(["up", "down", "k", "j", "pageup", "pagedown", "home", "end"]),
        times=st.integers(1, 3),
    )
    def move(self, key: str, times: int) -> None:
        self.press(*[key] * times)

    @rule(letters=st.lists(st.sampled_from(FILTER_KEYS), min_size=1, max_size=3))
    def filter_typing(self, letters: list[str]) -> None:
        self.press("slash", *letters)

    @rule(keep=st.booleans())
    def filter_done(self, keep: bool) -> None:
        self.press("enter" if keep else "escape")

    @rule(key=st.sampled_from(["f", "s", "A", "m", "p", "r", "R", "d", "u", "g", "G"]))
    def key(self, key: str) -> None:
        self.press(key)

    @rule(text=st.sampled_from(["", "x"]))
    def label(self, text: str) -> None:
        keys = [("space" if c == " " else c) for c in text]
        self.press("l", *keys, "enter")

    @rule(width=st.integers(60, 200), height=st.integers(20, 50))
    def resize(self, width: int, height: int) -> None:
        self.session.do(lambda pilot: pilot.resize_terminal(width, height))

    @rule(count=st.integers(1, 3))
    def add_ids(self, count: int) -> None:
        # As `d7tui add` from another shell does (the add dialog is test_ui's), anywhere in
        # the list: the new rows come in at the top when sorted by last change.
        ids = [Target(self._new_request()) for _ in range(count)]

        async def add(pilot: Pilot[Any]) -> None:
            self.app.add_targets(ids, refresh=False)
            main = next(s for s in self.app.screen_stack if isinstance(s, MonitorScreen))
            main.refresh_all({t.request_id for t in ids})
            await pilot.pause()

        self.session.do(add)

    @rule(seconds=st.sampled_from([1, 3, 5, 10, 30]))
    def time_passes(self, seconds: int) -> None:
        # Poll results arrive for rows on screen and off it.
        self.clock.advance(seconds)
        self.session.do(lambda pilot: idle(pilot, self.app))

    @precondition(lambda self: not self.on_main)
    @rule()
    def back_to_the_list(self) -> None:
        self.press("escape")

    # -- what must hold after every step ---------------------------------------------------------

    @invariant()
    def rows_on_screen_are_the_models_visible_list(self) -> None:
        async def look(pilot: Pilot[Any]) -> tuple[list[str], list[str], list[str], int]:
            app = pilot.app
            screen = app.screen
            if isinstance(screen, MonitorScreen):
                screen.flush_all()  # poll news waits at most a second to be drawn
            await pilot.pause(0)  # drawn: every message handled, then a frame
            main = next(s for s in app.screen_stack if isinstance(s, MonitorScreen))
            view = main.query_one(WatchlistTable)
            shown = app.watchlist.visible()
            short = app.watchlist.short_ids.short
            expected = [f"{short(e.request_id)}" for e in shown]
            statuses = [status_cell(e, main.render_context().colours).plain for e in shown]
            lines = list_lines(app) if isinstance(screen, MonitorScreen) else []
            return expected, statuses, lines, view.page_rows

        assert self.app.is_running and self.app.return_code is None, "the app ended"
        expected, statuses, lines, page = self.session.do(look)
        if not lines:  # a dialog is open over the list: it is checked once closed
            return
        rows = [line for line in lines[1:] if line.strip()]
        shown_ids = [([*line.split(), "", ""])[1] for line in rows]  # after the symbol
        if not expected:
            assert rows == [] or all("Nothing" in r or not r.strip() for r in rows), rows
            return
        assert shown_ids, f"no rows on screen, {len(expected)} expected"
        start = expected.index(shown_ids[0])
        window = expected[start : start + len(shown_ids)]
        assert shown_ids == window, (shown_ids, window)
        assert len(shown_ids) == min(page, len(expected) - start)
        for line, status in zip(rows, statuses[start:], strict=False):
            assert status[:8] in line, (status, line)


MonitorMachine.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    derandomize=not RANDOM,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
test_the_monitor_under_random_use = MonitorMachine.TestCase
