"""The monitor's resident memory while the first polls of many ids come in: in-process,
headless (`run_test`, 120x40), nothing pressed, the RSS read from /proc every 5 s.

    .venv/bin/python bench/monitor_peak.py [--ids 100000] [--trace]

The simulator in its own process (latency 0, speed 600: every message final at its first poll),
the ids made through its send endpoints, half SMS and half Viber, and written to a store in a
process of their own (as `d7tui add` leaves them); then the app, in a process of its own, polls
them until nothing is left to poll. Shorter than bench/monitor.py (no tmux, keys, idle or
restart) and about the same peak: it is reached when the last answer is kept. `--trace`:
tracemalloc's largest lines at the end (slower, and more memory: not the number to quote).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fanout import TOKEN, create_ids, start_simulator


def memory() -> dict[str, float]:
    """VmRSS and VmHWM (the peak), in MB."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def build(path: Path, ids: list[tuple[str, str]]) -> None:
    from d7tui.channels.infobip import parse_page
    from d7tui.store import open_store

    store = open_store(path, parse_report=parse_page)
    with store.batch() as conn:
        conn.executemany(
            "INSERT INTO watch (request_id, channel, id_kind, label, note, added_at) "
            "VALUES (?, ?, 'request_id', '', '', ?)",
            [(rid, channel, time.time()) for rid, channel in ids],
        )
    store.close()


async def monitor(path: Path, base_url: str, trace: bool) -> None:
    from d7tui.config import Settings
    from d7tui.safety import Secret
    from d7tui.ui.app import make_app

    if trace:
        tracemalloc.start()
    app = make_app(Settings(d7_token=Secret(TOKEN), d7_base_url=base_url), store_path=path)
    start = last = time.perf_counter()
    async with app.run_test(size=(120, 40)) as pilot:
        while True:
            await asyncio.sleep(0.25)
            now = time.perf_counter()
            _, to_poll = app.poller.backlog()
            if now - last >= 5:
                last = now
                m = memory()
                print(
                    f"{now - start:6.1f} s: RSS {m['VmRSS']:.0f} MB (peak {m['VmHWM']:.0f}), "
                    f"{to_poll:,} to poll",
                    flush=True,
                )
            if now - start > 5 and not app.loading and to_poll == 0:
                break
        await pilot.pause(2)
        m = memory()
        print(
            f"nothing left to poll after {time.perf_counter() - start:.0f} s: "
            f"RSS {m['VmRSS']:.0f} MB, peak {m['VmHWM']:.0f} MB",
            flush=True,
        )
        if trace:
            for stat in tracemalloc.take_snapshot().statistics("lineno")[:25]:
                print(stat)


def run_monitor(path: Path, base_url: str, trace: bool) -> None:
    asyncio.run(monitor(path, base_url, trace))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ids", type=int, default=100_000)
    parser.add_argument("--trace", action="store_true")
    args = parser.parse_args()
    sim, base_url = start_simulator(0, ["--speed", "600"])
    work = Path(tempfile.mkdtemp(prefix="d7tui-peak-"))
    try:
        half = args.ids // 2
        sms = asyncio.run(create_ids(base_url, half, "/messages/v1/send"))
        viber = asyncio.run(create_ids(base_url, args.ids - half, "/viber/v1/send"))
        ids = [(i, "sms") for i in sms] + [(i, "viber") for i in viber]
        path = work / "d7tui.sqlite3"
        spawn = multiprocessing.get_context("spawn")
        for target, targs in ((build, (path, ids)), (run_monitor, (path, base_url, args.trace))):
            process = spawn.Process(target=target, args=targs)
            process.start()
            process.join()
    finally:
        sim.terminate()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
