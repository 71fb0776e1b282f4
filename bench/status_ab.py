"""`d7tui status` of the same ids from two (or more) checkouts, alternated on one simulator.

    .venv/bin/python bench/status_ab.py OLD_CHECKOUT NEW_CHECKOUT [--ids 10000] [--rounds 5]

On a machine others share, one run of bench/fanout.py moves by a third from the next; running the
checkouts in turn against one simulator, and comparing the minimum and median of each, shows
whether a change made the engine dearer. Each checkout runs as `python -m d7tui` from its own
directory (so its own code, whatever is installed), 0 ms of simulator latency: the CPU is d7tui's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fanout import TOKEN, create_ids, publish, start_simulator


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkouts", nargs="+", type=Path)
    parser.add_argument("--ids", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    sim, base_url = start_simulator(0)
    runs: dict[Path, list[tuple[float, float]]] = {c: [] for c in args.checkouts}
    try:
        ids = "\n".join(asyncio.run(create_ids(base_url, args.ids)))
        env = {**os.environ, "D7_API_TOKEN": TOKEN, "D7_BASE_URL": base_url}
        command = [sys.executable, "-m", "d7tui", "status", "--channel", "sms", "--json", "-"]
        for _ in range(args.rounds):
            for checkout in args.checkouts:
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                proc = subprocess.run(
                    command, input=ids, capture_output=True, text=True, env=env, cwd=checkout
                )
                wall = time.perf_counter() - start
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                if proc.returncode != 0:
                    sys.stderr.write(f"{checkout}: exit {proc.returncode}: {proc.stderr[-300:]}\n")
                    return 1
                cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
                runs[checkout].append((wall, cpu))
    finally:
        sim.terminate()
        sim.wait(10)
    lines = [
        f"{args.ids:,} ids, 0 ms latency, {args.rounds} rounds alternated on one simulator.",
        "",
        "| checkout | CPU ms a request, min | median | wall s, min | median |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for checkout, rows in runs.items():
        cpus = sorted(cpu * 1000 / args.ids for _, cpu in rows)
        walls = sorted(wall for wall, _ in rows)
        middle = len(rows) // 2
        lines.append(
            f"| {checkout} | {cpus[0]:.3f} | {cpus[middle]:.3f} | {walls[0]:.2f} | "
            f"{walls[middle]:.2f} |"
        )
    publish("\n".join(lines), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
