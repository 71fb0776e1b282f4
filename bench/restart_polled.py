"""Restarts of the monitor on the store a polled session left, measured from outside (tmux),
A/B against another source tree on copies of the same store, turn about.

    .venv/bin/python bench/monitor.py --ids 100000 ... --keep-store /tmp/polled   # once
    .venv/bin/python bench/restart_polled.py --store /tmp/polled [--runs 5] [--against TREE]

`--store`: a data directory as `bench/monitor.py --keep-store` copies it after its first session
quit (the store after the first polls: transitions, timelines, the numbered news; not a store
built directly, as bench/restart.py's). Each run copies it afresh (a restart writes to it), starts
`d7tui` on the copy in a private tmux server, 120x40, and measures, from starting tmux (the
process start and the imports included, as bench/monitor.py's "restart: first painted rows"):
**first rows**, the first screen showing one of the watched ids; **all final**, the first
screen whose status line says everything is final (every remembered state read); and the
status requests a simulator received in `--seconds` after (every request in such a store is
final: none should be asked). `--against TREE` (a `git archive` or worktree of other code, run
with this venv) is measured in the same loop, alternating, so both meet the same load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fanout import start_simulator
from monitor import Terminal, private_env, proc_status, say, status_requests, wait_screen

ROOT = Path(__file__).resolve().parent.parent


def watched_shorts(store: Path) -> set[str]:
    """The first 8 characters of every watched id (the list shows short ids)."""
    db = next(store.rglob("d7tui.sqlite3"), None)
    if db is None:
        raise SystemExit(f"no d7tui.sqlite3 under {store}: keep one with bench/monitor.py")
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {row[0][:8] for row in conn.execute("SELECT request_id FROM watch")}
    finally:
        conn.close()


def one_restart(
    tree: Path, store: Path, base_url: str, shorts: set[str], seconds: float, profile: Path | None
) -> tuple[float, float, int, float]:
    """(first rows, all final, status requests asked, resident MB then) for one start of
    `tree` on a copy."""
    work = Path(tempfile.mkdtemp(prefix="d7tui-restart-polled-"))
    term = Terminal(work)
    try:
        shutil.copytree(store, work / "data")
        env = {**private_env(work, base_url), "PYTHONPATH": str(tree)}
        exports = " ".join(f"{k}={v!r}" for k, v in env.items())
        prof = f"-m cProfile -o {profile} " if profile else ""
        command = f"cd {str(tree)!r} && exec env {exports} {sys.executable} {prof}-m d7tui"
        asked = status_requests(base_url)
        start = time.perf_counter()
        term.start(command)
        shown, _ = wait_screen(term, lambda s: any(w[:8] in shorts for w in s.split()), 60, "rows")
        final, _ = wait_screen(term, lambda s: "all final" in s, 120, "all final")
        time.sleep(max(0.0, seconds - (time.perf_counter() - shown)))
        asked = status_requests(base_url) - asked
        pid = term.pid()
        rss = proc_status(pid)["VmRSS"] / 1024
        term.key("q")
        deadline = time.perf_counter() + 60
        while Path(f"/proc/{pid}").exists() and time.perf_counter() < deadline:
            time.sleep(0.05)
        return shown - start, final - start, asked, rss
    finally:
        term.close()
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", type=Path, required=True, help="bench/monitor.py --keep-store")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--against", type=Path, help="another source tree, measured turn about")
    parser.add_argument("--seconds", type=float, default=5.0, help="count requests this long")
    parser.add_argument("--profile", type=Path, help="one run of this tree under cProfile")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        raise SystemExit("bench/restart_polled.py needs tmux (apt-get install tmux)")
    shorts = watched_shorts(args.store)
    trees = {"this tree": ROOT}
    if args.against is not None:
        trees["against"] = args.against.resolve()
    found: dict[str, list[tuple[float, float, int, float]]] = {name: [] for name in trees}
    sim, base_url = start_simulator(0.0)
    try:
        if args.profile:
            rows, final, asked, _ = one_restart(
                ROOT, args.store, base_url, shorts, args.seconds, args.profile
            )
            say(f"profiled: first rows {rows:.2f} s, all final {final:.2f} s; {args.profile}")
            return 0
        for run in range(args.runs):
            for name, tree in trees.items():
                rows, final, asked, rss = one_restart(
                    tree, args.store, base_url, shorts, args.seconds, None
                )
                found[name].append((rows, final, asked, rss))
                say(
                    f"run {run + 1}, {name}: first rows {rows:.2f} s, all final {final:.2f} s, "
                    f"{asked} requests, {rss:.0f} MB resident"
                )
    finally:
        sim.terminate()
        sim.wait(10)
    print(f"{len(shorts):,} watched ids, {args.runs} restarts each, load {os.getloadavg()[0]:.1f}")
    for name, results in found.items():
        rows = [r[0] for r in results]
        finals = [r[1] for r in results]
        print(
            f"{name} ({trees[name]}): first rows median {statistics.median(rows):.2f} s "
            f"(each: {', '.join(f'{x:.2f}' for x in rows)}); all final median "
            f"{statistics.median(finals):.2f} s; requests asked {sum(r[2] for r in results)}; "
            f"resident then median {statistics.median(r[3] for r in results):.0f} MB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
