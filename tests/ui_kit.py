"""Helpers for the screen tests: read the screen as text, wait for a condition (bounded, never a
bare sleep), and a harness that builds the app with `make_app` exactly as the CLI does."""

from __future__ import annotations

import html
import re
from typing import Any

from pollkit import until
from rich.cells import cell_len
from textual.pilot import Pilot

from d7tui.clock import ManualClock
from d7tui.config import Settings
from d7tui.safety import Secret
from d7tui.simulator import Simulator
from d7tui.ui.app import D7App
from d7tui.watchlist import Entry

_SVG_TEXT = re.compile(
    r'<text class="[^"]*" x="([\d.]+)" y="[\d.]+" textLength="([\d.]+)" '
    r'clip-path="url\(#[^)]*-line-(\d+)\)">(.*?)</text>'
)


def screen_text(app: D7App) -> str:
    """What the terminal shows, as plain text: the top screen over those below it (a dialog
    over the monitor), read from the app's own SVG screenshot (public API: the same picture
    `save_screenshot` writes)."""
    width, height = app.size
    rows: list[list[str]] = [[" "] * width for _ in range(height)]
    for x, length, line, raw in _SVG_TEXT.findall(app.export_screenshot()):
        text = html.unescape(raw).replace("\xa0", " ")
        cells = cell_len(text)
        if not cells or int(line) >= height:
            continue
        column = round(float(x) / (float(length) / cells))
        row = rows[int(line)]
        for char in text:
            if column >= width:
                break
            row[column] = char
            if cell_len(char) == 2 and column + 1 < width:
                row[column + 1] = ""
                column += 1
            column += 1
    return "\n".join("".join(row).rstrip() for row in rows)


def list_lines(app: D7App) -> list[str]:
    """The list pane's lines as the screen shows them (the header first)."""
    from d7tui.ui.widgets.watchlist_table import WatchlistTable

    region = app.screen.query_one(WatchlistTable).region
    lines = screen_text(app).splitlines()
    lines += [""] * (region.bottom - len(lines))
    return [line[region.x : region.right] for line in lines[region.y : region.bottom]]


def said(app: D7App) -> list[str]:
    """Every line the event strip was given so far, oldest first."""
    return [event.text for event in app.events]


BALANCE_PATHS = ("/messages/v1/balance", "/account/1/balance")


def status_requests(sim: Simulator) -> int:
    """Requests the simulator served, but the balance reads (one of each when the app starts,
    then one every few minutes): what the tests of polling count."""
    return sim.request_count - sim.counts["balance"]


def balances_read(app: D7App) -> bool:
    """The balances the app reads when it starts (and every few minutes) were read."""
    return all(w.is_finished for w in app.workers if w.group == "balance")


async def idle(pilot: Pilot[Any], app: D7App) -> None:
    """Wait until the remembered states are read, the poller has nothing due or in flight, the
    balances are read, and the screen has drawn its news."""
    await until(pilot, lambda: not app.loading)
    await until(pilot, app.poller.idle)
    await until(pilot, lambda: balances_read(app))
    await pilot.pause()
    # The news of the last poll may still be a message in the screen's queue: wait until it
    # was taken, so that the flush below draws it (else a redraw timer would, a moment later).
    await until(pilot, lambda: not app.news_waiting)
    screen = app.screen
    flush = getattr(screen, "flush_all", None)
    if flush is not None:
        flush()
    # A status line that took another line (the balances came) resizes the panes above it,
    # and a resized list fits its columns again: each a frame of its own. `pause(0)` is one:
    # every message queued is handled and the screen drawn, without `pause()`'s wait for the
    # process to go quiet (that wait was had above, and costs 20 ms or more each time).
    for _ in range(3):
        await pilot.pause(0)


def entry(app: D7App, request_id: str) -> Entry:
    found = app.watchlist.get(request_id)
    assert found is not None, f"{request_id} is not watched"
    return found


# ---------------------------------------------------------------------------------------------
# The simulator on loopback, its time tied to the test's clock.


def start_simulator(clock: ManualClock, **kwargs: Any) -> Simulator:
    """A started simulator whose time moves only with `clock` (and `sim.advance`)."""
    sim = Simulator(seed=kwargs.pop("seed", 0), clock=clock.now, **kwargs)
    sim.start()
    return sim


def sim_settings(sim: Simulator, *, token: str = "sim-token", **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "d7_token": Secret(token),
        "d7_base_url": sim.base_url,
        "infobip_key": Secret("sim-infobip-key"),
        "infobip_base_url": sim.base_url,
        "max_in_flight": 8,
    }
    values.update(overrides)
    return Settings(**values)
