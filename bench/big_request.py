"""One D7 request of 20,000 recipients (a ~3 MB answer) among 20 small ones, polled while the
cursor moves: the screen's loop stays responsive, and the request is not called unreachable
(finding H19: keys took 1-7 s and the 10 s deadline ran out inside d7tui). In-process
(`run_test`, 120x40), against `d7tui simulate` in its own process.

    .venv/bin/python bench/big_request.py [--recipients 20000] [--seconds 20]

It measures, while every request is polled: the lateness of a 10 ms timer on the screen's loop
(what a key waits before it is even read), and the time a Down takes to move the cursor and
show the next request in the detail (onto the big one, and any other), ten a second.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fanout import TOKEN, create_ids, start_simulator

from d7tui.config import Settings
from d7tui.models import Target
from d7tui.safety import Secret
from d7tui.ui.app import make_app
from d7tui.ui.widgets.watchlist_table import WatchlistTable
from d7tui.watchlist import SortKey


async def big_request(base_url: str, recipients: int) -> str:
    numbers = [f"+9715{i:08d}" for i in range(recipients)]
    body = {
        "messages": [{"channel": "sms", "recipients": numbers, "content": "bench"}],
        "message_globals": {"originator": "bench"},
    }
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.post(f"{base_url}/messages/v1/send", json=body) as reply,
    ):
        reply.raise_for_status()
        return str((await reply.json())["request_id"])


def ms(values: list[float], q: float) -> str:
    ordered = sorted(values)
    return f"{1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]:.0f}"


async def measure(path: Path, base_url: str, big: str, small: list[str], seconds: float) -> None:
    settings = Settings(d7_token=Secret(TOKEN), d7_base_url=base_url)
    app = make_app(settings, store_path=path, ids=[Target(i, "sms") for i in [*small, big]])
    async with app.run_test(size=(120, 40)) as pilot:
        while not app.screen.query(WatchlistTable) or not app.query_one(WatchlistTable).row_count:
            await asyncio.sleep(0.05)
        table = app.query_one(WatchlistTable)
        await pilot.pause(0.5)
        app.watchlist.sort = SortKey.ADDED  # the big one comes by every 21 presses
        app.screen.refresh_all()  # type: ignore[attr-defined]
        lags: list[float] = []
        onto: list[float] = []
        other: list[float] = []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            for _ in range(10):
                start = time.perf_counter()
                await asyncio.sleep(0.01)
                lags.append(time.perf_counter() - start - 0.01)
            start = time.perf_counter()
            if table.cursor >= table.row_count - 1:
                table.action_first()
            else:
                table.action_cursor_down()
            (onto if table.selected == big else other).append(time.perf_counter() - start)
        entry = app.watchlist.get(big)
        assert entry is not None
        count = len(entry.state.recipients) if entry.state is not None else 0
        print(f"the big request: {count:,} recipients, {entry.polls} polls, error: {entry.error}")
        print(
            f"screen loop lateness: median {ms(lags, 0.5)} ms, p95 {ms(lags, 0.95)} ms, "
            f"p99 {ms(lags, 0.99)} ms, max {ms(lags, 1.0)} ms ({len(lags)} looks)"
        )
        print(f"Down onto the big request, ms: {[round(1000 * x) for x in onto]}")
        print(f"Down onto another: median {ms(other, 0.5)} ms, max {ms(other, 1.0)} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="d7tui-big-"))
    sim, base_url = start_simulator(0.0)
    try:
        big = asyncio.run(big_request(base_url, args.recipients))
        small = asyncio.run(create_ids(base_url, 20))
        asyncio.run(measure(work / "d7tui.sqlite3", base_url, big, small, args.seconds))
    finally:
        sim.terminate()
        sim.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
