"""Do the store's saves keep pace with the polls at 100,000 watched ids? (issue 11, item 6)

    .venv/bin/python bench/store_pace.py [--ids 100000] [--seconds 60] [--no-ui] [--out FILE]

What it does, in order:
1. starts `d7tui simulate` in its own process, with no added latency: 16 requests in flight
   answer as fast as the machine allows, so every id is polled flat out (the store's worst
   case), and creates the ids through its SMS send endpoint;
2. adds them to an empty store with `d7tui add` (a private XDG data directory);
3. runs the monitor on that store against the simulator, headless (Textual's `run_test`,
   120x40: the screen, the poller and the store in one process, as a user runs it), or with
   `--no-ui` the poller and the store alone;
4. for `--seconds`, samples every second the polls finished, the saves committed, the writes
   waiting for the disk (`AsyncStore.queued`) and the resident memory; and times every save from
   the moment the poll result is queued to its commit (the lag).

It prints one Markdown table row per run (and appends it to --out): polls and saves a second
after the first `--warm-up` seconds, the lag (p50, p95, max; saves still queued when the monitor
ends are committed as it closes, and counted then), the most writes waiting and those waiting at
the end, RSS at the end and its peak, and the process's CPU a poll (every thread of it: the
poller, the parsing, the writer; the simulator runs in its own process). The rates swing ±15 %
between runs of the same code on a 2-core machine where the simulator shares the cores; the CPU
a poll swings less, and is the column to compare two trees by.

`--contended N` measures the writer thread alone: N saves queued at once, with another thread
idle, then busy (as the screen keeps the interpreter busy), in saves committed a second. It runs against whatever `d7tui` is importable, so with
PYTHONPATH pointing at an older tree it measures that one ("before").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fanout import TOKEN, create_ids, publish, start_simulator

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Samples:
    started: float = field(default_factory=time.perf_counter)
    polls: int = 0
    queued: int = 0
    committed: int = 0
    lags: list[float] = field(default_factory=list)
    # (seconds since start, polls, committed, waiting, rss MB, CPU s) once a second
    rows: list[tuple[float, int, int, int, float, float]] = field(default_factory=list)


def rss_mb() -> tuple[float, float]:
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def watch_saves(astore: Any, samples: Samples) -> None:
    """Time every save from queueing to commit (wraps the instance's save_observation)."""
    save = astore.save_observation

    def timed(*args: Any, **kwargs: Any) -> Any:
        pending = save(*args, **kwargs)
        queued = time.perf_counter()
        samples.queued += 1

        def done(_: object) -> None:
            samples.committed += 1
            samples.lags.append(time.perf_counter() - queued)

        pending._future.add_done_callback(done)  # our own Pending: its future settles it
        return pending

    astore.save_observation = timed


async def sample(astore: Any, samples: Samples, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        await asyncio.sleep(1.0)
        waiting = getattr(astore, "queued", samples.queued - samples.committed)
        samples.rows.append(
            (
                time.perf_counter() - samples.started,
                samples.polls,
                samples.committed,
                waiting,
                rss_mb()[0],
                time.process_time(),
            )
        )


def settings_for(base_url: str) -> Any:
    from d7tui.config import Settings
    from d7tui.safety import Secret

    return Settings(d7_token=Secret(TOKEN), d7_base_url=base_url)


async def run_monitor(base_url: str, db: Path, seconds: float) -> Samples:
    from d7tui.ui.app import make_app

    app = make_app(settings_for(base_url), store_path=db, bell=False)
    samples = Samples()
    async with app.run_test(headless=True, size=(120, 40)) as pilot:
        while app.memory is None or len(app.poller) == 0:
            await pilot.pause(0.1)
        samples.started = time.perf_counter()
        watch_saves(app.memory.astore, samples)
        app.poller.hooks.on_update.append(lambda _: setattr(samples, "polls", samples.polls + 1))
        await sample(app.memory.astore, samples, seconds)
    return samples


async def run_poller(base_url: str, db: Path, seconds: float) -> Samples:
    from d7tui.channels.infobip import parse_page
    from d7tui.channels.status import StatusClient
    from d7tui.poller import Poller
    from d7tui.pollstate import PollConfig
    from d7tui.store import AsyncStore, Which, open_store

    astore = AsyncStore(open_store(db, parse_report=parse_page), parse_report=parse_page)
    records = await astore.watches(Which.LIVE)
    client = StatusClient(settings_for(base_url))
    samples = Samples()
    watch_saves(astore, samples)

    def saved(update: Any) -> None:
        samples.polls += 1
        if update.state is not None and update.error is None:
            astore.save_observation(update.state, update.transitions)

    poller = Poller(client, PollConfig(workers=16), on_update=saved)
    if hasattr(astore, "room"):
        poller.backpressure = astore.room
    for record in records:
        poller.add(record.target, added_at=record.added_at)
    task = asyncio.create_task(poller.run())
    await sample(astore, samples, seconds)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await client.aclose()
    await astore.aclose()
    return samples


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(q * len(ordered)) - 1)] if ordered else float("nan")


def summary(args: argparse.Namespace, samples: Samples, label: str) -> str:
    rows = [r for r in samples.rows if r[0] >= args.warm_up] or samples.rows
    first, last = rows[0], rows[-1]
    span = max(last[0] - first[0], 1e-9)
    polls = (last[1] - first[1]) / span
    saves = (last[2] - first[2]) / span
    lags = [x * 1000 for x in samples.lags]
    cpu_us = (last[5] - first[5]) / max(last[1] - first[1], 1) * 1e6
    _, peak = rss_mb()
    return (
        f"| {label} | {args.ids:,} | {'no' if args.no_ui else 'yes'} | {polls:,.0f} | "
        f"{saves:,.0f} | "
        f"{percentile(lags, 0.5):,.0f} / {percentile(lags, 0.95):,.0f} / {max(lags, default=0):,.0f} | "
        f"{max(r[3] for r in samples.rows):,} | {last[3]:,} | {last[4]:,.0f} ({peak:,.0f}) | {cpu_us:,.0f} |"
    )


HEADER = (
    "| code | ids | screen | polls/s | saves/s | lag ms p50 / p95 / max | "
    "most waiting | waiting at end | RSS MB (peak) | CPU µs a poll |\n"
    "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
)


def _spin(stop: Any) -> None:
    while not stop.is_set():
        pass


def contended(count: int) -> str:
    """`count` polls' results queued at once while another thread keeps the interpreter busy,
    as the screen does: how fast the writer thread commits them."""
    import threading

    from d7tui.models import Channel, Phase, Recipient, RequestStatus, observe
    from d7tui.store import AsyncStore, Store

    def status(n: int) -> RequestStatus:
        recipients = tuple(
            Recipient(f"m{n}-{k}", f"+4477{n:07d}{k}", "sent", Phase.PENDING, False)
            for k in range(3)
        )
        return RequestStatus(f"req-{n}", Channel.SMS, recipients, {"total": 3}, (b"{}",))

    results = []
    for busy in (False, True):
        astore = AsyncStore(Store.open(Path(tempfile.mkdtemp()) / "d7tui.sqlite3"))
        states = [observe(None, status(n), n) for n in range(count)]
        stop = threading.Event()
        spinner = threading.Thread(target=_spin, args=(stop,))
        if busy:
            spinner.start()
        started = time.perf_counter()
        pending = [astore.save_observation(state, changes) for state, changes in states]
        pending[-1].result()
        elapsed = time.perf_counter() - started
        stop.set()
        if busy:
            spinner.join()
        astore.close()
        results.append(f"{'busy' if busy else 'idle'}: {count / elapsed:,.0f} saves/s")
    return f"{count:,} saves queued at once, another thread idle / busy: " + "; ".join(results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warm-up", type=float, default=10.0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--no-ui", action="store_true", help="the poller and the store alone")
    parser.add_argument("--label", default="this tree", help="the first column of the row")
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--contended",
        type=int,
        metavar="N",
        help="only the writer: N saves queued at once, another thread idle then busy",
    )
    args = parser.parse_args()
    if args.contended:
        publish(contended(args.contended), args.out)
        return 0

    work = Path(tempfile.mkdtemp(prefix="d7tui-pace-"))
    sim, base_url = start_simulator(args.latency_ms)
    try:
        print(f"creating {args.ids:,} requests ...", file=sys.stderr, flush=True)
        ids = asyncio.run(create_ids(base_url, args.ids))
        env = {**os.environ, "XDG_DATA_HOME": str(work / "data")}
        subprocess.run(
            [sys.executable, "-m", "d7tui", "add", "--channel", "sms", "-"],
            input="\n".join(ids),
            env=env,
            text=True,
            check=True,
            capture_output=True,
        )
        os.environ["XDG_DATA_HOME"] = str(work / "data")
        db = work / "data" / "d7tui" / "d7tui.sqlite3"
        print(f"polling for {args.seconds:.0f} s ...", file=sys.stderr, flush=True)
        runner = run_poller if args.no_ui else run_monitor
        samples = asyncio.run(runner(base_url, db, args.seconds))
    finally:
        sim.terminate()
        sim.wait()
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [
        f"Machine: {machine}; simulator latency {args.latency_ms:g} ms; "
        f"{args.seconds:.0f} s, rates after the first {args.warm_up:.0f} s.",
        "",
        HEADER,
        summary(args, samples, args.label),
    ]
    publish("\n".join(lines), args.out)
    if samples.rows:
        per_second = ", ".join(f"{r[3]}" for r in samples.rows)
        print(f"writes waiting, each second: {per_second}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
