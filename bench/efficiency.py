"""Efficiency: requests per observed transition over a simulated hour of realistic lifecycles,
d7tui's adaptive poller against a naive fixed-interval poll of every id.

    .venv/bin/python bench/efficiency.py [--ids 150] [--hours 1]

The simulator's time is frozen and moved by hand together with the poller's clock (one simulated
second a step), so an hour takes well under a minute and the result does not depend on the
machine. The naive poller is computed from the simulator's own log of changes: polling every
`interval` seconds, it sees a change when two successive samples differ.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import sys
from collections import defaultdict

from d7tui.channels.status import StatusClient
from d7tui.clock import ManualClock
from d7tui.models import Target, Transition
from d7tui.poller import Poller
from d7tui.pollstate import PollConfig
from d7tui.simulator import Simulator


async def adaptive(sim: Simulator, targets: list[Target], seconds: int) -> tuple[int, int]:
    settings = sim.settings()
    clock = ManualClock(sim.now())
    seen: list[Transition] = []
    async with StatusClient(settings) as client:
        poller = Poller(
            client,
            PollConfig(workers=16),
            clock=clock,
            on_transition=lambda ts: seen.extend(t for t in ts if t.old_status is not None),
        )
        task = asyncio.create_task(poller.run())
        for target in targets:
            poller.add(target)
        start = sim.request_count
        for _ in range(seconds):
            for _ in range(200):  # let every poll due at this second finish
                await asyncio.sleep(0.001)
                if poller.idle():
                    break
            clock.advance(1)
            sim.advance(1)
        task.cancel()
        return sim.request_count - start, len(seen)


def naive(
    sim: Simulator, ids: set[str], seconds: int, start: float, interval: float
) -> tuple[int, int]:
    timelines: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for change in sim.changes:
        if change.request_id in ids:
            timelines[change.msg_id].append((change.at, change.new))
    polls = int(seconds // interval) + 1
    observed = 0
    for steps in timelines.values():
        times = [t for t, _ in steps]
        last = None
        for k in range(polls):
            i = bisect.bisect_right(times, start + k * interval) - 1
            status = steps[i][1] if i >= 0 else None
            if last is not None and status != last:
                observed += 1
            last = status if status is not None else last
    return len(ids) * polls, observed


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ids", type=int, default=150)
    parser.add_argument("--hours", type=float, default=1.0)
    args = parser.parse_args()
    seconds = int(args.hours * 3600)
    sim = Simulator(seed=11, speed=0)
    sim.start()
    try:
        start = sim.now()
        targets = []
        for i in range(args.ids):
            channel = ("sms", "whatsapp", "viber")[i % 3]
            rid = sim.create_request(channel, [f"+97150{i:07d}", f"+97155{i:07d}"])
            targets.append(Target(rid, channel))
        requests, observed = await adaptive(sim, targets, seconds)
        ids = {t.request_id for t in targets}
        truth = sum(1 for c in sim.changes if c.request_id in ids and c.old is not None)
        print(
            f"{args.ids} requests x 2 recipients, {args.hours:g} simulated hour(s); "
            f"{truth} status changes happened (the simulator's log)"
        )
        print()
        print("| poller | requests | transitions seen | requests per transition |")
        print("| --- | ---: | ---: | ---: |")
        print(
            f"| d7tui adaptive | {requests:,} | {observed:,} | {requests / max(observed, 1):.1f} |"
        )
        for interval in (2, 10, 60):
            n_req, n_obs = naive(sim, ids, seconds, start, interval)
            print(
                f"| naive, every {interval} s | {n_req:,} | {n_obs:,} | "
                f"{n_req / max(n_obs, 1):.1f} |"
            )
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
