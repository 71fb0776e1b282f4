"""A restart of the monitor on a store of many final requests, measured in-process (headless).

    .venv/bin/python bench/restart.py [--ids 100000] [--fresh]

Builds a store in a temporary directory (in a process of its own: the peak memory reported is
the monitor's alone) with `--ids` SMS requests, each delivered (final) with its first-seen
transition, or with `--fresh` only watched (as `d7tui add` leaves them, nothing polled yet), then
starts the app on it (`make_app(...).run_test`, 120x40) and reports: the seconds until the first
rows are on screen, until every remembered state is in, how many polls were queued for requests
already final (none should be; with `--fresh` every id is queued), and the peak resident memory.
The times start when the app is made: the process's start and imports (about a second) are not
in them; bench/monitor.py measures those from outside.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from d7tui.channels.infobip import parse_page
from d7tui.config import Settings
from d7tui.models import Channel, Phase, Recipient, RequestStatus, observe
from d7tui.safety import Secret
from d7tui.store import open_store
from d7tui.ui.app import make_app
from d7tui.ui.widgets.watchlist_table import WatchlistTable


def build(path: Path, count: int, fresh: bool = False) -> None:
    store = open_store(path, parse_report=parse_page)
    at = time.time() - 3600
    ids = [str(uuid.uuid4()) for _ in range(count)]
    with store.batch() as conn:
        conn.executemany(
            "INSERT INTO watch (request_id, channel, id_kind, label, note, added_at) "
            "VALUES (?, 'sms', 'request_id', '', '', ?)",
            [(rid, at) for rid in ids],
        )
    if fresh:
        store.close()
        return
    batch = []
    for n, rid in enumerate(ids):
        r = Recipient(f"m-{n}", f"+9715{n:08d}", "delivered", Phase.DELIVERED, True, cost=0.0004)
        state, transitions = observe(None, RequestStatus(rid, Channel.SMS, (r,)), at + 5)
        batch.append((state, transitions, at + 5))
        if len(batch) == 5000:
            store.save_observations(batch)
            batch = []
    if batch:
        store.save_observations(batch)
    store.close()


async def restart(path: Path) -> str:
    settings = Settings(d7_token=Secret("t"), d7_base_url="http://127.0.0.1:9")
    start = time.perf_counter()
    app = make_app(settings, store_path=path)
    async with app.run_test(size=(120, 40)) as pilot:
        while True:
            await asyncio.sleep(0.01)
            tables = list(app.screen.query(WatchlistTable))
            if tables and tables[0].row_count:
                break
        rows = time.perf_counter() - start
        while app.loading:
            await asyncio.sleep(0.05)
        states = time.perf_counter() - start
        await pilot.pause(1)
        queued = app.poller.queued()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return (
        f"first rows {rows:.2f} s, every state in {states:.2f} s, "
        f"polls queued {queued:,}, peak RSS {peak:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ids", type=int, default=100_000)
    parser.add_argument("--fresh", action="store_true", help="watched ids, nothing polled yet")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="d7tui-restart-"))
    try:
        path = work / "d7tui.sqlite3"
        maker = multiprocessing.get_context("spawn").Process(
            target=build, args=(path, args.ids, args.fresh)
        )
        maker.start()
        maker.join()
        kind = "watched, never polled" if args.fresh else "final"
        print(f"{args.ids:,} requests {kind}: {asyncio.run(restart(path))}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
