"""Write screenshots/*.svg from the real app in demo mode, after the demo's statuses have moved.

    .venv/bin/python scripts/screenshots.py [output-dir] [name...]

Nothing here is drawn by hand: each file is `App.save_screenshot()` of `make_app(demo=True)`,
the same factory `d7tui --demo` uses. The simulator's time is moved forward (instead of waiting)
so that transitions have happened and show in the rows, the timeline and the toasts.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot

from d7tui.config import Settings
from d7tui.ui.app import D7App, make_app
from d7tui.ui.theme import LIGHT
from d7tui.ui.widgets.watchlist_table import WatchlistTable

ROOT = Path(__file__).resolve().parent.parent


async def wait(pilot: Pilot[object], app: D7App, tries: int = 500) -> None:
    """Until every watched request has answered and nothing is in flight."""
    for _ in range(tries):
        if (
            len(app.watchlist)
            and app.poller.idle()
            and all(e.polls for e in app.watchlist)
            and app.poller.busy == 0
        ):
            break
        await pilot.pause(0.02)
    await pilot.pause(0.3)  # the screen draws its news at most every 0.2 s


async def moved(pilot: Pilot[object], app: D7App, seconds: float) -> None:
    """Let the demo's time run `seconds` further and poll everything once more."""
    assert app.simulator is not None
    app.simulator.advance(seconds)
    app.poller.refresh()
    await wait(pilot, app)


async def shoot(
    out: Path,
    name: str,
    size: tuple[int, int],
    steps: Callable[[Pilot[object], D7App], Awaitable[None]],
) -> Path:
    app = make_app(Settings(), demo=True, bell=False)
    async with app.run_test(size=size, notifications=True) as pilot:
        await wait(pilot, app)
        await steps(pilot, app)
        await pilot.pause(0.2)
        path = Path(app.save_screenshot(filename=f"{name}.svg", path=str(out)))
    return path


async def monitor(pilot: Pilot[object], app: D7App) -> None:
    await moved(pilot, app, 9)


async def later(pilot: Pilot[object], app: D7App) -> None:
    await moved(pilot, app, 9)
    await moved(pilot, app, 8)
    select(app, "Order shipped (template)")
    await pilot.pause(0.2)


def select(app: D7App, label: str) -> None:
    """Put the cursor on the demo request with this label."""
    rid = next(e.request_id for e in app.watchlist if e.label == label)
    app.screen.query_one(WatchlistTable).select(rid)


async def detail(pilot: Pilot[object], app: D7App) -> None:
    await moved(pilot, app, 16)
    select(app, "Infobip campaign")
    await pilot.pause(0.1)
    await pilot.press("enter", "down", "down")  # the failed message: its error and action


async def light(pilot: Pilot[object], app: D7App) -> None:
    await moved(pilot, app, 12)
    app.theme = LIGHT
    await pilot.press("m")  # privacy mode, as for sharing a screen


async def help_screen(pilot: Pilot[object], app: D7App) -> None:
    await pilot.press("question_mark")


async def add_dialog(pilot: Pilot[object], app: D7App) -> None:
    await pilot.press("a")
    await pilot.press(*"9d056a09-0fc4-4f68-9058-3846d58aa24")
    await pilot.press("enter")


async def insights(pilot: Pilot[object], app: D7App) -> None:
    await moved(pilot, app, 9)
    await moved(pilot, app, 8)
    await pilot.press("i")


async def send_dialog(pilot: Pilot[object], app: D7App) -> None:
    await pilot.press("S")
    await pilot.press(*"+971501234567", "tab", *"Shop", "tab", *"Your code is 123456")
    await pilot.press("enter")  # checked: the confirmation says what it costs


SHOTS: list[tuple[str, tuple[int, int], Callable[[Pilot[object], D7App], Awaitable[None]]]] = [
    ("monitor-120x40", (120, 40), monitor),
    ("monitor-80x24", (80, 24), monitor),
    ("monitor-100x30", (100, 30), monitor),
    ("monitor-200x50", (200, 50), later),
    ("detail-infobip-80x24", (80, 24), detail),
    ("light-theme-masked-120x40", (120, 40), light),
    ("help-100x34", (100, 34), help_screen),
    ("add-dialog-80x24", (80, 24), add_dialog),
    ("insights-100x40", (100, 40), insights),
    ("send-dialog-100x30", (100, 30), send_dialog),
]


async def main(out: Path, names: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, size, steps in SHOTS:
        if names and name not in names:
            continue
        path = await shoot(out, name, size, steps)
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


if __name__ == "__main__":
    asyncio.run(
        main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "screenshots", sys.argv[2:])
    )
