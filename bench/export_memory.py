"""The peak memory of `d7tui export` as the store grows (K12): the store is read a part at a time
as the file is written, so the peak should stay about flat from 10,000 to 100,000 ids.

    .venv/bin/python bench/export_memory.py [--ids 10000 100000] [--format json csv]
        [--against OLD_TREE]

Each store is built in a temporary directory by bench/restart.py's builder (SMS requests, each
delivered with its first-seen transition, written through the store's own save path), then
`d7tui export --format F -o FILE` runs on it as a user would run it, in a process of its own
with a private HOME and XDG directories, and the line reports its seconds, the file's size and
its peak resident memory (that process's own ru_maxrss, from wait4).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from restart import build


def export_once(work: Path, fmt: str, tree: Path | None) -> tuple[float, int, float]:
    """Seconds, the file's bytes, the peak resident MB of one `d7tui export` (of the d7tui in
    `tree`, a source tree such as `git archive` of another commit, else this one)."""
    out = work / f"export.{fmt}"
    env = {
        **os.environ,
        "HOME": str(work),
        "XDG_CONFIG_HOME": str(work / "c"),
        "XDG_DATA_HOME": str(work / "d"),
        "XDG_STATE_HOME": str(work / "s"),
    }
    for name in ("D7TUI_DATABASE_URL", "D7TUI_MESSAGE_TEXT"):
        env.pop(name, None)
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "d7tui", "export", "--format", fmt, "-o", str(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        cwd=tree,  # `-m` looks in the working directory first
    )
    # wait4: this child's own peak (RUSAGE_CHILDREN would be the largest of every child so
    # far, the store's builder with them).
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"d7tui export exited with {child.returncode}")
    return seconds, out.stat().st_size, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ids", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--format", nargs="+", default=["json", "csv"], choices=["json", "csv"])
    parser.add_argument(
        "--against", type=Path, help="another source tree: each export run there too, after"
    )
    args = parser.parse_args()
    trees = {"this tree": None, **({str(args.against): args.against} if args.against else {})}
    for count in sorted(args.ids):
        work = Path(tempfile.mkdtemp(prefix="d7tui-export-bench-"))
        try:
            path = work / "d" / "d7tui" / "d7tui.sqlite3"  # the default store of that XDG home
            path.parent.mkdir(parents=True)
            maker = multiprocessing.get_context("spawn").Process(target=build, args=(path, count))
            maker.start()
            maker.join()
            for fmt in args.format:
                for name, tree in trees.items():
                    seconds, size, peak = export_once(work, fmt, tree)
                    print(
                        f"export {fmt}, {count:,} requests, {name}: {seconds:.2f} s, "
                        f"{size / 1e6:.1f} MB written, peak RSS {peak:.0f} MB"
                    )
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
