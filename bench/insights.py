"""What the answers cost at size: the status line's totals (now counting "stuck?"), the problems
view (failed and stuck), the insights (`i`) and the failures worklist, over N watched requests of
three recipients each with their timelines. Pure Python, no screen, no network.

    .venv/bin/python bench/insights.py --sizes 1000,10000 --repeat 5
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

from d7tui.insights import compute
from d7tui.models import (
    Channel,
    Recipient,
    RequestStatus,
    Target,
    classify_d7,
    classify_infobip,
    observe,
)
from d7tui.pollstate import PollUpdate, WatchStatus
from d7tui.watchlist import Watchlist
from d7tui.worklist import follow_ups

T0 = 1_700_000_000.0
D7_STEPS = {
    Channel.SMS: [("sent",), ("sent", "delivered"), ("sent", "un_delivered")],
    Channel.WHATSAPP: [("sent", "delivered"), ("sent", "delivered", "read"), ("rejected",)],
    Channel.VIBER: [("sent",), ("sent", "delivered"), ("sent", "undelivered")],
}
IB_STEPS = [
    ("PENDING_ENROUTE",),
    ("PENDING_ENROUTE", "DELIVERED_TO_HANDSET"),
    ("PENDING_ENROUTE", "UNDELIVERABLE_NOT_DELIVERED"),
]
IB_GROUP = {"PENDING": "PENDING", "DELIVERED": "DELIVERED", "UNDELIVERABLE": "UNDELIVERABLE"}


def recipient(channel: Channel, n: int, status: str) -> Recipient:
    if channel is Channel.INFOBIP:
        group = IB_GROUP[status.split("_", 1)[0]]
        fields = {
            "sentAt": "2023-11-14T22:13:20.000+0000",
            "doneAt": "2023-11-14T22:14:20.000+0000",
            "status": {"name": status, "groupName": group},
        }
        phase, final = classify_infobip(group, status)
        return Recipient(
            f"m{n}", f"4179{n:07d}", status, phase, final, cost=0.01, currency="EUR", fields=fields
        )
    phase, final = classify_d7(channel, status)
    return Recipient(f"m{n}", f"+97150{n:07d}", status, phase, final, cost=0.0004, country="AE")


def build(size: int, rng: random.Random) -> Watchlist:
    wl = Watchlist(clock=lambda: T0 + 3600)
    channels = [Channel.SMS, Channel.WHATSAPP, Channel.VIBER, Channel.INFOBIP]
    for i in range(size):
        channel = channels[i % 4]
        rid = f"{i:08d}-0000-4000-8000-000000000000"
        wl.add(Target(rid, channel.value), "", added_at=T0)
        scripts = [
            rng.choice(IB_STEPS if channel is Channel.INFOBIP else D7_STEPS[channel])
            for _ in range(3)
        ]
        state = None
        for step in range(3):
            at = T0 + step * 60 + rng.uniform(0, 59)
            people = tuple(
                recipient(channel, i * 3 + k, s[min(step, len(s) - 1)])
                for k, s in enumerate(scripts)
            )
            state, transitions = observe(state, RequestStatus(rid, channel, people), at)
            wl.apply(
                PollUpdate(
                    rid, at, channel.value, WatchStatus.ACTIVE, state, None, tuple(transitions)
                )
            )
    return wl


def timed(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print("| requests | totals (status line) | problems view (f) | insights (i) | worklist (e) |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for size in (int(s) for s in args.sizes.split(",")):
        wl = build(size, random.Random(size))

        def problems(wl: Watchlist = wl) -> object:
            wl.problems_only = True
            try:
                return wl.visible()
            finally:
                wl.problems_only = False

        cells = [
            timed(wl.totals, args.repeat),
            timed(problems, args.repeat),
            timed(lambda wl=wl: compute(wl, T0 + 3600), args.repeat),
            timed(lambda wl=wl: follow_ups(wl, T0 + 3600, wl.stuck_after), args.repeat),
        ]
        print(f"| {size:,} | " + " | ".join(f"{c * 1000:.1f} ms" for c in cells) + " |")


if __name__ == "__main__":
    main()
