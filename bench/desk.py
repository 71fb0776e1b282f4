"""A desk on one PostgreSQL database (issue 15): vendor calls, change-to-screen latency, takeover.

    .venv/bin/python bench/desk.py [--ids 10000] [--warmup 20] [--window 60]

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
import signal
import statistics
import subprocess
import sys
import tempfile
import time
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


async def desk(
    sim: Simulator, url: str, home: Path, warmup: float, window: float
) -> tuple[int, list[float], float]:
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
            await asyncio.sleep(window)
            counted = calls(sim) - before
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
    return counted, latencies, takeover


def pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ids", type=int, default=10_000)
    parser.add_argument("--warmup", type=float, default=20.0)
    parser.add_argument("--window", type=float, default=60.0)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="d7tui-desk-bench-"))
    server = PgServer.start()
    sim = Simulator(seed=1)
    sim.start()
    try:
        url = prepare(server, sim, args.ids)
        alone = start_peer(sim, url, home / "alone")
        try:
            wait_for(lambda: holder(url) == alone.pid)
            one = count_window(sim, args.warmup, args.window)
        finally:
            alone.kill()
            alone.wait()
        url = prepare(server, sim, args.ids)
        five, latencies, takeover = asyncio.run(desk(sim, url, home, args.warmup, args.window))
    finally:
        sim.stop()
        server.close()
    print("| ids | window | vendor calls, 1 monitor | vendor calls, 5 monitors | ratio |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    print(f"| {args.ids:,} | {args.window:.0f} s | {one:,} | {five:,} | {five / max(one, 1):.2f} |")
    print()
    print(
        f"change to screen at a follower: {len(latencies):,} transitions, "
        f"p50 {pct(latencies, 0.5) * 1000:.0f} ms, p95 {pct(latencies, 0.95) * 1000:.0f} ms, "
        f"max {max(latencies, default=float('nan')) * 1000:.0f} ms"
    )
    print(f"takeover after kill -9 of the leader: {takeover:.2f} s")
    if latencies:
        print(f"(mean {statistics.mean(latencies) * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
