"""A desk on one PostgreSQL database (issue 15): vendor calls, change-to-screen latency, takeover.

    .venv/bin/python bench/desk.py [--ids 1000,10000] [--warmup 15] [--window 30]

One command for the whole table of BENCHMARKS.md §8 (one row per size in `--ids`).

On a throwaway local PostgreSQL (tests/pgserver.py) and the simulator in this process (real
time: its messages move on as the seconds pass, accepted then delivered or failed):

1. **alone**: one monitor (a headless `d7tui` in its own process, tests/desk_peer.py) watches
   `--ids` ids; after `--warmup` seconds, the simulator counts the status requests it serves
   over `--window` seconds.
2. **desk**: the same on a fresh database and fresh ids, with five monitors: the leader and
   three followers in processes of their own, and a fifth follower in this process (the real
   app, headless, run with Textual's `run_test`). Same count. Meanwhile the fifth monitor
   records, for every transition it shows, the time from the leader's poll that saw it
   (`Transition.at`) to the moment the follower had it (its poller's update): **change to
   screen** (the screen draws it at its next refresh, a frame later).
3. **takeover**: the leader is killed with -9; the time until another monitor holds the lock.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import psycopg
from desk_peer import peer_env
from pgserver import PgServer

from d7tui.config import load_settings
from d7tui.simulator import Simulator
from d7tui.store import open_store
from d7tui.store.pglock import LEADER_LOCK
from d7tui.ui.app import make_app

ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT / "tests" / "desk_peer.py"


def holder(url: str) -> int | None:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = %s",
            (LEADER_LOCK,),
        ).fetchone()
    return int(row[0].rsplit(" ", 1)[1]) if row else None


def wait_for(predicate, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("bench: timed out")
        time.sleep(0.05)


def prepare(server: PgServer, sim: Simulator, ids: int) -> str:
    url = server.create_database()
    rids = [sim.create_request("sms", [f"+9715{n:08d}"]) for n in range(ids)]
    with open_store(url) as store, store.batch():
        for rid in rids:
            store.add_watch(rid, "sms")
    return url


def start_peer(sim: Simulator, url: str, home: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(PEER)],
        env=peer_env(sim, url, home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def calls(sim: Simulator) -> int:
    return sim.request_count - sim.counts["balance"]


def count_window(sim: Simulator, warmup: float, window: float) -> int:
    time.sleep(warmup)
    before = calls(sim)
    time.sleep(window)
    return calls(sim) - before


@dataclass
class DeskRun:
    calls: int  # vendor calls over the window, five monitors
    latencies: list[float]  # change to screen at the fifth monitor, seconds
    takeover: float  # seconds from kill -9 of the leader to another holding the lock
    reads: int  # the fifth monitor's reads of the database over the window
    ids_read: int  # ... and of how many ids


async def desk(sim: Simulator, url: str, home: Path, warmup: float, window: float) -> DeskRun:
    leader = start_peer(sim, url, home / "leader")
    wait_for(lambda: holder(url) == leader.pid)
    followers = [start_peer(sim, url, home / f"f{n}") for n in range(3)]
    latencies: list[float] = []
    os.environ["XDG_DATA_HOME"] = str(home / "inproc")
    env = peer_env(sim, url, home / "inproc")
    app = make_app(load_settings(env, home / "none.toml"))

    seen: dict[tuple[str, str, str | None], float] = {}  # transition -> when this one had it

    def heard(update) -> None:  # type: ignore[no-untyped-def]
        now = time.time()
        for t in update.transitions:
            seen.setdefault((t.request_id, t.recipient_key, t.new_status), now)

    try:
        async with app.run_test(headless=True, size=(120, 40)):
            app.poller.hooks.on_update.append(heard)
            await asyncio.sleep(warmup)
            seen.clear()  # what the start read is no change
            started = time.time()
            before = calls(sim)
            assert app.desk is not None and not app.desk.leading
            fetcher = app.desk.fetcher
            reads, ids_read = fetcher.database_reads, fetcher.ids_read
            await asyncio.sleep(window)
            counted = calls(sim) - before
            reads, ids_read = fetcher.database_reads - reads, fetcher.ids_read - ids_read
            # The leader's own time of each change: when its poll saw it (the store's row).
            with open_store(url) as store:
                for t in store.transitions():
                    follower = seen.get((t.request_id, t.recipient_key, t.new_status))
                    if follower is not None and t.at >= started:
                        latencies.append(follower - t.at)
            killed = time.monotonic()
            os.kill(leader.pid, signal.SIGKILL)
            while (who := await asyncio.to_thread(holder, url)) in (None, leader.pid):
                await asyncio.sleep(0.05)
            takeover = time.monotonic() - killed
            print(f"bench: the lead went to pid {who}", file=sys.stderr)
    finally:
        for proc in [leader, *followers]:
            proc.kill()
            proc.wait()
    return DeskRun(counted, latencies, takeover, reads, ids_read)


def pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def one_size(server: PgServer, sim: Simulator, ids: int, args: argparse.Namespace) -> str:
    """One row of the table: `ids` watched by one monitor alone, then by five."""
    home = Path(tempfile.mkdtemp(prefix="d7tui-desk-bench-"))
    try:
        url = prepare(server, sim, ids)
        alone = start_peer(sim, url, home / "alone")
        try:
            wait_for(lambda: holder(url) == alone.pid)
            one = count_window(sim, args.warmup, args.window)
        finally:
            alone.kill()
            alone.wait()
        url = prepare(server, sim, ids)
        run = asyncio.run(desk(sim, url, home, args.warmup, args.window))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    lat = run.latencies
    print(
        f"bench: {ids:,} ids: {len(lat):,} changes seen by the fifth monitor, mean "
        f"{statistics.mean(lat) * 1000 if lat else float('nan'):.0f} ms, max "
        f"{max(lat, default=float('nan')) * 1000:.0f} ms; it read the database {run.reads:,} "
        f"times for {run.ids_read:,} ids; vendor calls 5/1 = {run.calls / max(one, 1):.2f}",
        file=sys.stderr,
    )
    return (
        f"| {ids:,} | {args.window:.0f} s | {one:,} | {run.calls:,} | "
        f"{pct(lat, 0.5) * 1000:,.0f} ms | {pct(lat, 0.95) * 1000:,.0f} ms | "
        f"{run.takeover:.1f} s |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", default="1000,10000", help="sizes, comma-separated")
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument("--window", type=float, default=30.0)
    args = parser.parse_args()
    sizes = [int(size) for size in args.ids.split(",")]
    server = PgServer.start()
    sim = Simulator(seed=1)
    sim.start()
    try:
        rows = [one_size(server, sim, ids, args) for ids in sizes]
    finally:
        sim.stop()
        server.close()
    print(
        "| ids | window | vendor calls, 1 monitor | vendor calls, 5 monitors "
        "| change to screen p50 | p95 | takeover |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
