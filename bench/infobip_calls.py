"""Infobip calls: how many logs requests the poller makes for many Infobip ids over a simulated
stretch of time, asking due ids together (one call per list of ids that fits the vendor's
2,048-character limit) against asking each id alone, and how many the 120-a-minute throttling
refused.

    .venv/bin/python bench/infobip_calls.py [--bulks 300] [--messages 300] [--minutes 10]

Time is simulated (the poller's clock, d7tui's pacing and the simulator's clock and throttling all
move together, one second a step), so the counts do not depend on the machine. Each bulk has 3 recipients whose statuses move over
minutes; `--messages` more ids are watched by messageId (UUIDs, 36 characters each).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from d7tui.channels.status import StatusClient
from d7tui.clock import ManualClock
from d7tui.models import IdKind, RequestStatus, Target
from d7tui.poller import Poller
from d7tui.pollstate import PollConfig
from d7tui.simulator import Simulator


class OneByOne:
    """The same client, without `batch_key`: every id is asked alone (d7tui before grouping)."""

    def __init__(self, client: StatusClient) -> None:
        self.client = client

    async def fetch(self, target: Target) -> RequestStatus:
        return await self.client.fetch(target)


async def run(grouped: bool, args: argparse.Namespace) -> tuple[int, int, int, int]:
    clock = ManualClock()
    sim = Simulator(seed=5, speed=0, clock=clock.now)  # its throttling counts on `clock` too
    sim.start()
    try:
        targets = []
        for i in range(args.bulks):
            bulk, _ = sim.create_infobip_bulk([f"4179{i:05d}{k}" for k in range(3)])
            targets.append(Target(bulk, "infobip", IdKind.BULK))
        for i in range(args.messages):
            _, (message,) = sim.create_infobip_bulk([f"4915{i:07d}"])
            targets.append(Target(message, "infobip", IdKind.MESSAGE))
        polls = 0

        def counted(update: object) -> None:
            nonlocal polls
            polls += 1

        async with StatusClient(sim.settings(), clock=clock) as client:
            fetcher = client if grouped else OneByOne(client)
            poller = Poller(fetcher, PollConfig(workers=16), clock=clock, on_update=counted)  # type: ignore[arg-type]
            task = asyncio.create_task(poller.run())
            for target in targets:
                poller.add(target)
            for _ in range(int(args.minutes * 60)):
                # Let every poll due at this second finish (or wait on the clock: paced).
                calls, still = sim.request_count, 0
                while not poller.idle() and still < 20:
                    await asyncio.sleep(0.002)
                    still = still + 1 if sim.request_count == calls else 0
                    calls = sim.request_count
                clock.advance(1)
                sim.advance(1)
            task.cancel()
            calls = sum(n for path, n in sim.infobip_calls.items() if "logs" in path)
            errors = sum(1 for w in poller if w.error is not None)
            return calls, sim.infobip_throttled, polls, errors
    finally:
        sim.stop()


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bulks", type=int, default=300)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    print(
        f"{args.bulks} bulks of 3 + {args.messages} messageIds watched for "
        f"{args.minutes:g} simulated minutes (logs, the default source)"
    )
    print()
    print(
        "| poller | logs requests | refused (429 E429) | id polls answered | ids in error at the end |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    for grouped in (True, False):
        calls, refused, polls, errors = await run(grouped, args)
        name = "grouped (lists of ids)" if grouped else "one id a call"
        print(f"| {name} | {calls:,} | {refused:,} | {polls:,} | {errors:,} |")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
