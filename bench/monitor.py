"""The monitor at 20, 10,000 or 100,000 watched ids, measured from outside, in a real terminal
(tmux), beside two minimal Textual apps (bench/minimal.py) measured in the same run.

    .venv/bin/python bench/monitor.py [--ids 10000] [--latency-ms 50] [--keys 60] [--out FILE]

Yardsticks first: bench/minimal.py's DataTable alone (how fast a highlight moves at all) and the
same with a one-line Static detail updated on each move, with the same ids, the same keys and
the same capture loop. Then the monitor:

What it does, in order:
1. starts `d7tui simulate` in its own process (50 ms added to every answer by default) and
   creates the ids through its send endpoints: half SMS, half Viber by default. (WhatsApp is
   left out by default because a WhatsApp message delivered and never read is never final:
   it may be read at any time, so a list holding one is rightly never idle. `--channels`
   takes it in.)
2. adds them to an empty watchlist with `d7tui add` (a private XDG data directory);
3. starts `d7tui` in a private tmux server, 120x40, and reads the screen with `capture-pane`
   in a tight loop: **first paint** is the time from starting tmux to the first screen that
   shows one of the ids in the list;
4. while every id is still being polled, presses Down `--keys` times, waiting for each press
   to show: **key latency** is the time from `send-keys` returning to the first capture in
   which the detail pane shows the next request's full id (so it includes tmux's own time to
   deliver the key and draw, and the capture loop's ~2-5 ms granularity: an upper bound);
   sorted by last change (the default: the list reorders as news comes), then `--sorted-keys`
   presses more, sorted as added;
5. reads the process's resident memory from /proc (VmRSS now, VmHWM the peak);
6. waits until the simulator has nothing left to change and the monitor's status line says
   every request is final, then measures **idle**: the app's CPU time (utime+stime from
   /proc/PID/stat) and the requests the simulator received, over `--idle-seconds`; then
   presses keys once more: the key latency of an idle app is the floor of this method;
7. quits and starts again on the same store (`--restart-seconds`): first paint on restart, and
   the requests asked in the seconds after (every request is final: none should be).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fanout import TOKEN, create_ids, publish, sim_stats, start_simulator

ROOT = Path(__file__).resolve().parent.parent
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SEND_PATH = {"sms": "/messages/v1/send", "whatsapp": "/whatsapp/v1/send", "viber": "/viber/v1/send"}


STATUS_KINDS = ("sms", "whatsapp", "viber", "infobip_reports", "infobip_logs")


def status_requests(base_url: str) -> int:
    """The status requests the simulator answered so far: polls, not the stats requests this
    script makes (nor the balance reads). The simulator's total counted the stats requests too,
    and a correction for them showed an idle minute as "-2"."""
    by_kind = sim_stats(base_url).get("by_kind") or {}
    return sum(int(by_kind.get(kind, 0)) for kind in STATUS_KINDS)  # type: ignore[union-attr]


@dataclass
class Result:
    ids: int
    first_paint: float
    key_latencies: list[float]
    sorted_key_latencies: list[float]  # sorted as added (the default is by last change)
    idle_key_latencies: list[float]
    table_latencies: list[float]  # bench/minimal.py, the same run
    static_latencies: list[float]
    polled_during_keys: int
    rss_mb: float
    peak_rss_mb: float
    settle_seconds: float
    idle_seconds: float
    idle_cpu: float
    idle_requests: int
    restart_paint: float | None = None
    restart_requests: int | None = None
    restart_seconds: float = 0.0


class Terminal:
    """A private tmux server holding one 120x40 pane."""

    def __init__(self, work: Path) -> None:
        self.socket = str(work / "tmux.sock")

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-S", self.socket, *args], capture_output=True, text=True, check=False
        ).stdout

    def start(self, command: str) -> None:
        subprocess.run(
            [
                "tmux",
                "-S",
                self.socket,
                "new-session",
                "-d",
                "-s",
                "bench",
                "-x",
                "120",
                "-y",
                "40",
                command,
            ],
            check=True,
        )

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "bench")

    def screen_with_styles(self) -> str:
        return self.tmux("capture-pane", "-p", "-e", "-t", "bench")

    def pid(self) -> int:
        return int(self.tmux("list-panes", "-t", "bench", "-F", "#{pane_pid}").strip())

    def key(self, name: str) -> None:
        self.tmux("send-keys", "-t", "bench", name)

    def close(self) -> None:
        self.tmux("kill-server")


def wait_screen(term: Terminal, done, timeout: float, what: str) -> tuple[float, str]:
    """Capture in a tight loop until done(screen); (time it held, screen)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        screen = term.screen()
        if done(screen):
            return time.perf_counter(), screen
    raise SystemExit(
        f"timed out after {timeout:.0f} s waiting for {what}; the screen was:\n{term.screen()}"
    )


def detail_id(screen: str) -> str | None:
    """The full request id the detail pane shows (the list shows only short ids)."""
    found = UUID.search(screen)
    return found.group() if found else None


def static_id(screen: str) -> str | None:
    """The id bench/minimal.py's one-line detail shows (its last line; the table shows ids too)."""
    lines = [line for line in screen.splitlines() if line.strip()]
    found = UUID.search(lines[-1]) if lines else None
    return found.group() if found else None


def cursor_line(screen: str) -> str | None:
    """The id on the line of bench/minimal.py's table whose background is the cursor's magenta."""
    for line in screen.splitlines():
        if "48;5;201" in line or "48;2;255;0;255" in line:
            found = UUID.search(line)
            return found.group() if found else None
    return None


def press_keys(
    term: Terminal, count: int, probe=detail_id, capture=None, rows: int = 0
) -> list[float]:
    """Press Down `count` times at a brisk typist's 10 a second (Up, back, at the end of a list
    of `rows`); for each, the seconds from send-keys returning to the first screen on which
    `probe` (by default: the full request id the detail pane shows) reads something else."""
    capture = capture or term.screen

    def wait(done, what: str) -> tuple[float, str]:
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline:
            screen = capture()
            if done(screen):
                return time.perf_counter(), screen
        raise SystemExit(f"timed out waiting for {what}; the screen was:\n{term.screen()}")

    _, screen = wait(lambda s: probe(s) is not None, "the cursor or the detail")
    current = probe(screen)
    latencies = []
    row, step = 0, 1
    for _ in range(count):
        if rows and not 0 <= row + step < rows:
            step = -step
        row += step
        sent = time.perf_counter()
        term.key("Down" if step > 0 else "Up")
        pressed = time.perf_counter()
        before = current
        seen, screen = wait(lambda s, b=before: probe(s) not in (None, b), "the cursor to move")
        latencies.append(seen - pressed)
        current = probe(screen)
        time.sleep(max(0.0, 0.1 - (time.perf_counter() - sent)))
    return latencies


def yardsticks(work: Path, ids: list[str], keys: int) -> dict[str, list[float]]:
    """bench/minimal.py's two apps, with the same ids, in the same terminal size."""
    ids_file = work / "ids.txt"
    ids_file.write_text("\n".join(ids))
    found = {}
    for kind in ("table", "detail"):
        term = Terminal(work / kind)
        (work / kind).mkdir(exist_ok=True)
        minimal = Path(__file__).resolve().parent / "minimal.py"
        term.start(f"exec env TERM=xterm-256color {sys.executable} {minimal} {kind} {ids_file}")
        try:
            if kind == "table":
                found[kind] = press_keys(term, keys, cursor_line, term.screen_with_styles, len(ids))
            else:
                found[kind] = press_keys(term, keys, static_id, rows=len(ids))
        finally:
            term.close()
        say(f"minimal app, {kind}: {percentiles(found[kind])}")
    return found


def percentiles(latencies: list[float]) -> str:
    lat = sorted(x * 1000 for x in latencies)
    p95 = lat[max(0, round(0.95 * len(lat)) - 1)]
    return f"median {statistics.median(lat):.0f} ms, p95 {p95:.0f} ms, max {lat[-1]:.0f} ms"


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def proc_status(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])  # kB
    return values


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def private_env(work: Path, base_url: str) -> dict[str, str]:
    """The monitor's environment: its own data, config and state directories under `work`,
    the simulator's address and token, a 256-colour terminal."""
    return {
        "XDG_DATA_HOME": str(work / "data"),
        "XDG_CONFIG_HOME": str(work / "config"),
        "XDG_STATE_HOME": str(work / "state"),
        "D7_API_TOKEN": TOKEN,
        "D7_BASE_URL": base_url,
        "TERM": "xterm-256color",
    }


def run(args: argparse.Namespace) -> Result:
    work = Path(tempfile.mkdtemp(prefix="d7tui-bench-"))
    sim, base_url = start_simulator(args.latency_ms, extra=["--speed", str(args.speed)])
    term = Terminal(work)
    try:
        env = {**os.environ, **private_env(work, base_url)}
        ids: list[str] = []
        channels = args.channels.split(",")
        per_channel = -(-args.ids // len(channels))
        for channel in channels:
            count = min(per_channel, args.ids - len(ids))
            made = asyncio.run(create_ids(base_url, count, SEND_PATH[channel]))
            d7tui = [sys.executable, "-m", "d7tui", "add", "--channel", channel, "-"]
            subprocess.run(
                d7tui,
                input="\n".join(made),
                env=env,
                check=True,
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            ids += made
        shorts = {i[:8] for i in ids}
        sticks = (
            yardsticks(work, ids, args.keys)
            if args.keys and args.yardsticks
            else {"table": [], "detail": []}
        )
        exports = " ".join(
            f"{k}={v!r}" for k, v in env.items() if k.startswith(("XDG_", "D7_", "TERM"))
        )
        profile = f"-m cProfile -o {args.profile} " if args.profile else ""
        command = f"exec env {exports} {sys.executable} {profile}-m d7tui"
        if args.spy:  # sampled (py-spy): the run's own speed, every thread, native frames off
            spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
            command = (
                f"exec env {exports} {spy} record --threads -f raw -r 200 -o {args.spy} -- "
                f"{sys.executable} -m d7tui"
            )

        start = time.perf_counter()
        term.start(command)
        shown, _ = wait_screen(term, lambda s: any(w[:8] in shorts for w in s.split()), 60, "rows")
        first_paint = shown - start
        pid = term.pid()
        say(f"first painted rows after {first_paint:.2f} s")

        # Key latency while polling: Down moves the cursor; the detail pane follows it.
        requests_before = status_requests(base_url)
        term.key("g")  # each run of keys starts on the first row
        time.sleep(0.5)
        latencies = press_keys(term, args.keys, rows=len(ids))
        if args.sorted_keys:  # again, sorted as added (s twice: status, then added)
            term.key("s")
            term.key("s")
            term.key("g")
            time.sleep(0.5)
            sorted_latencies = press_keys(term, args.sorted_keys, rows=len(ids))
            say(
                f"as added, key latencies (ms): {sorted(round(x * 1000) for x in sorted_latencies)}"
            )
            term.key("s")  # back to the default, by last change
        else:
            sorted_latencies = []
        polled = status_requests(base_url) - requests_before
        memory = proc_status(pid)
        say(f"key latencies (ms): {sorted(round(x * 1000) for x in latencies)}")
        say(f"memory: {memory}")
        if args.profile or args.spy or args.keys_only:  # quit (a profile is written), no more
            say(f"key to detail, sorted by last change: {percentiles(latencies)}")
            if sorted_latencies:
                say(f"key to detail, sorted as added: {percentiles(sorted_latencies)}")
            say(f"requests answered meanwhile: {polled:,}")
            term.key("q")
            while Path(f"/proc/{pid}").exists():
                time.sleep(0.1)
            if args.keys_only:
                raise SystemExit(0)
            raise SystemExit(f"profile written to {args.profile or args.spy}")

        # Idle: everything final, nothing more to ask.
        settle_start = time.perf_counter()
        wait_screen(
            term, lambda s: "all final" in s, args.settle_timeout, "every request to be final"
        )
        time.sleep(2.0)  # the confirming polls of the last requests to turn final
        settled = time.perf_counter() - settle_start
        say(f"all final after {settled:.0f} s more")
        cpu0, req0, t0 = (
            cpu_seconds(pid),
            status_requests(base_url),
            time.perf_counter(),
        )
        time.sleep(args.idle_seconds)
        cpu1, req1, t1 = (
            cpu_seconds(pid),
            status_requests(base_url),
            time.perf_counter(),
        )
        memory_after = proc_status(pid)
        term.key("g")
        time.sleep(0.5)
        idle_latencies = press_keys(term, args.idle_keys, rows=len(ids))
        say(f"idle key latencies (ms): {sorted(round(x * 1000) for x in idle_latencies)}")
        restart_paint = restart_requests = None
        if args.restart_seconds:
            # Quit, start again on the same store: every request is final, so nothing is asked.
            term.key("q")
            while Path(f"/proc/{pid}").exists():
                time.sleep(0.05)
            if args.keep_store:  # the store of a polled session, for bench/restart_polled.py
                shutil.copytree(work / "data", args.keep_store, dirs_exist_ok=True)
                say(f"the store as the polled session left it: copied to {args.keep_store}")
            term.close()
            term = Terminal(work / "again")
            (work / "again").mkdir(exist_ok=True)
            req0 = status_requests(base_url)
            start = time.perf_counter()
            term.start(command)
            shown, _ = wait_screen(
                term, lambda s: any(w[:8] in shorts for w in s.split()), 60, "rows again"
            )
            restart_paint = shown - start
            time.sleep(args.restart_seconds)
            restart_requests = status_requests(base_url) - req0
            say(f"restart: rows after {restart_paint:.2f} s, {restart_requests} requests")
        return Result(
            ids=len(ids),
            first_paint=first_paint,
            key_latencies=latencies,
            sorted_key_latencies=sorted_latencies,
            idle_key_latencies=idle_latencies,
            polled_during_keys=polled,
            rss_mb=memory["VmRSS"] / 1024,
            peak_rss_mb=max(memory["VmHWM"], memory_after["VmHWM"]) / 1024,
            settle_seconds=settled,
            idle_seconds=t1 - t0,
            idle_cpu=cpu1 - cpu0,
            idle_requests=req1 - req0,
            table_latencies=sticks["table"],
            static_latencies=sticks["detail"],
            restart_paint=restart_paint,
            restart_requests=restart_requests,
            restart_seconds=args.restart_seconds,
        )
    finally:
        term.close()
        sim.terminate()
        sim.wait(10)
        shutil.rmtree(work, ignore_errors=True)


def report(r: Result, args: argparse.Namespace) -> str:
    rows = [
        ("watched ids", f"{r.ids:,}", ""),
        ("first painted rows", f"{r.first_paint:.2f} s", "≤ 1.3 s at 10k, ≤ 2 s at 100k"),
        *(
            [
                (
                    "yardstick: a minimal app, one DataTable, highlight moved",
                    percentiles(r.table_latencies),
                    "",
                ),
                (
                    "yardstick: the same + a one-line Static detail (`update`)",
                    percentiles(r.static_latencies),
                    "",
                ),
            ]
            if r.table_latencies
            else []
        ),
        (
            f"key to detail, {len(r.key_latencies)} presses while polling (sorted by last change)",
            percentiles(r.key_latencies),
            "p95 ≤ 30 ms at 20 ids, ≤ 50 ms at 10k",
        ),
        *(
            [
                (
                    f"the same, sorted as added ({len(r.sorted_key_latencies)} presses)",
                    percentiles(r.sorted_key_latencies),
                    "",
                )
            ]
            if r.sorted_key_latencies
            else []
        ),
        ("requests answered meanwhile", f"{r.polled_during_keys:,}", ""),
        (
            "resident memory",
            f"{r.rss_mb:.0f} MB (peak {r.peak_rss_mb:.0f} MB)",
            "≤ 120 MB at 10k, ≤ 400 MB at 100k",
        ),
        ("until all final", f"{r.settle_seconds:.0f} s", ""),
        (
            f"idle, {r.idle_seconds:.0f} s with everything final",
            f"CPU {100 * r.idle_cpu / r.idle_seconds:.1f} %, {r.idle_requests} requests",
            "near zero, none",
        ),
        (
            "key to detail when idle",
            percentiles(r.idle_key_latencies),
            "",
        ),
        *(
            [
                ("restart: first painted rows", f"{r.restart_paint:.2f} s", "≤ 2 s"),
                (
                    f"restart: requests in the {r.restart_seconds:.0f} s after",
                    f"{r.restart_requests:,}",
                    "0 (every request is final)",
                ),
            ]
            if r.restart_paint is not None and r.restart_requests is not None
            else []
        ),
    ]
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"simulator latency {args.latency_ms:.0f} ms, speed {args.speed:g}x; channels {args.channels}.",
        "",
        "| measure | result | goal |",
        "| --- | --- | --- |",
        *(f"| {a} | {b} | {c} |" for a, b, c in rows),
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ids", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--speed", type=float, default=1.0, help="the simulator's clock speed")
    parser.add_argument("--keys", type=int, default=60)
    parser.add_argument("--idle-keys", type=int, default=60, help="presses once all is final")
    parser.add_argument(
        "--sorted-keys", type=int, default=60, help="presses sorted by last change (0: none)"
    )
    parser.add_argument(
        "--channels", default="sms,viber", help="comma-separated: sms,whatsapp,viber"
    )
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument(
        "--restart-seconds",
        type=float,
        default=20.0,
        help="quit and start again, count requests for this long (0: no restart)",
    )
    parser.add_argument("--settle-timeout", type=float, default=900.0)
    parser.add_argument(
        "--no-yardsticks",
        dest="yardsticks",
        action="store_false",
        help="skip bench/minimal.py's two apps (a DataTable of 100,000 rows takes minutes)",
    )
    parser.add_argument(
        "--keys-only",
        action="store_true",
        help="stop after the keys while polling (for a quick look: no idle, no restart)",
    )
    parser.add_argument(
        "--keep-store",
        type=Path,
        help="copy the data directory here after the polled session quits (bench/restart_polled.py)",
    )
    parser.add_argument("--out", type=Path)
    parser.add_argument("--profile", type=Path, help="run the app under cProfile, write here")
    parser.add_argument(
        "--spy", type=Path, help="run the app under py-spy (pip install py-spy), raw stacks here"
    )
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        raise SystemExit("bench/monitor.py needs tmux (apt-get install tmux)")
    publish(report(run(args), args), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
