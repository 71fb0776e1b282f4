"""Fan-out benchmark: `d7tui status` of many ids against the official SDK, whole processes timed.

    .venv/bin/python bench/fanout.py [--sizes 100,1000,10000] [--latencies 50,0] [--out FILE]

For each simulator latency and id count it starts `d7tui simulate` in its own process, creates the
ids through the SMS send endpoint, then times from outside (wall clock and the child's CPU from
getrusage): `d7tui status --channel sms -`, the `direct7` SDK in a sequential loop, and the SDK in
a pool of 16 threads. It prints a Markdown table (and appends it to --out).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
IN_FLIGHT = 16


@dataclass
class Run:
    name: str
    ids: int
    latency_ms: float
    wall: float
    cpu: float
    connections: int | None
    ok: bool


def start_simulator(
    latency_ms: float, extra: list[str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "d7tui",
            "simulate",
            "--port",
            "0",
            "--latency-ms",
            str(latency_ms),
            "--token",
            TOKEN,
            *(extra or []),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    for _ in range(20):
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+", line)
        if match:
            return proc, match.group()
    proc.kill()
    raise SystemExit("the simulator did not print its address")


async def create_ids(
    base_url: str, count: int, path: str = "/messages/v1/send", in_flight: int = 64
) -> list[str]:
    """`count` requests made through the simulator's send endpoint (aiohttp: 100,000 in well
    under a minute, where httpx spent ~3 ms of CPU on each)."""
    body = {
        "messages": [
            {
                "channel": "sms",
                "recipients": ["+971501234567"],
                "content": "bench",
                "msg_type": "text",
                "data_coding": "text",
            }
        ],
        "message_globals": {"originator": "bench"},
    }
    headers = {"Authorization": f"Bearer {TOKEN}"}
    ids: list[str] = []
    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        left = iter(range(count))

        async def worker() -> None:
            # `in_flight` workers, not `count` tasks: aiohttp builds each request before it
            # waits for a connection, and 100,000 of them held at once were most of what
            # bench/store_pace.py's process held before its monitor started (BENCHMARKS.md §4).
            for _ in left:
                async with session.post(base_url + path, json=body) as reply:
                    reply.raise_for_status()
                    ids.append((await reply.json())["request_id"])

        await asyncio.gather(*(worker() for _ in range(in_flight)))
    return ids


def sim_stats(base_url: str) -> dict[str, int]:
    try:
        return httpx.get(f"{base_url}/_simulator/stats", timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return {}


def timed(
    name: str, cmd: list[str], ids: list[str], env: dict[str, str], base_url: str, latency_ms: float
) -> Run:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    conns_before = sim_stats(base_url).get("connections")
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, input="\n".join(ids), capture_output=True, text=True, env=env, cwd=ROOT
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    conns_after = sim_stats(base_url).get("connections")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    connections = (
        conns_after - conns_before if conns_before is not None and conns_after is not None else None
    )
    if proc.returncode != 0:
        sys.stderr.write(f"{name}: exit {proc.returncode}: {proc.stderr[-300:]}\n")
    return Run(name, len(ids), latency_ms, wall, cpu, connections, proc.returncode == 0)


def process_start() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import d7tui.cli"], check=True, cwd=ROOT)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--latencies", default="50,0")
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--skip-sequential-above",
        type=int,
        default=1000,
        help="the sequential SDK loop at 50 ms x 10,000 ids takes 8 minutes",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    latencies = [float(x) for x in args.latencies.split(",")]
    startup = process_start()
    runs: list[Run] = []
    for latency in latencies:
        sim, base_url = start_simulator(latency)
        try:
            for size in sizes:
                ids = asyncio.run(create_ids(base_url, size))
                env = {**os.environ, "D7_API_TOKEN": TOKEN, "D7_BASE_URL": base_url}
                d7 = [sys.executable, "-m", "d7tui", "status", "--channel", "sms", "--json", "-"]
                runs.append(timed("d7tui status", d7, ids, env, base_url, latency))
                sdk = [sys.executable, str(ROOT / "bench" / "sdk_status.py"), base_url, TOKEN]
                runs.append(timed("SDK, 16 threads", [*sdk, "16"], ids, env, base_url, latency))
                if latency == 0 or size <= args.skip_sequential_above:
                    runs.append(timed("SDK, sequential", [*sdk, "1"], ids, env, base_url, latency))
        finally:
            sim.terminate()
            sim.wait(10)
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"process start (import d7tui.cli) {startup:.2f} s; {IN_FLIGHT} requests in flight.",
        "",
        "| latency | ids | client | wall s | CPU s | CPU ms/id | ideal s | vs ideal | TCP conns | ok |",
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in runs:
        ideal = r.ids * r.latency_ms / 1000 / IN_FLIGHT + startup
        lines.append(
            f"| {r.latency_ms:.0f} ms | {r.ids:,} | {r.name} | {r.wall:.2f} | {r.cpu:.2f} | "
            f"{r.cpu * 1000 / r.ids:.2f} | {ideal:.2f} | {r.wall / ideal:.2f}x | "
            f"{'-' if r.connections is None else r.connections} | {'yes' if r.ok else 'NO'} |"
        )
    publish("\n".join(lines), args.out)
    return 0


def publish(text: str, out: Path | None) -> None:
    """Print the table, and append it to `out` when given."""
    print(text)
    if out:
        with out.open("a", encoding="utf-8") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
