"""What the monitor keeps for each answer, in-process, without the network or a screen.

    .venv/bin/python bench/answer_memory.py [--ids 20000]
    PYTHONPATH=/work/main .venv/bin/python bench/answer_memory.py     # another tree's code

`--ids` D7 SMS answers, shaped as the simulator says them (one recipient, delivered: final at
the first poll), are parsed, observed twice (the first answer and the confirming poll) and put
where the monitor keeps them: the poller's `Watch` and the watchlist's `Entry`, its totals
counted. tracemalloc compares what is held after with what was held before the first answer:
the bytes kept an answer, and the lines that allocated them. The seconds-long loop for the
peak of bench/monitor.py at 100,000 ids, which grows with every answer kept.
"""

from __future__ import annotations

import argparse
import gc
import json
import tracemalloc
import uuid
from dataclasses import replace

from d7tui.channels import d7
from d7tui.models import Channel, RequestStatus, Target, observe
from d7tui.pollstate import PollUpdate, Watch, WatchStatus
from d7tui.watchlist import Watchlist

try:  # what the poller does with a state's raw bodies (trees before it held them all)
    from d7tui.pollstate import held_without_raw
except ImportError:  # pragma: no cover

    def held_without_raw(state: RequestStatus) -> bool:
        return False


def answer(request_id: str, msg_id: str) -> bytes:
    item = {
        "msg_id": msg_id,
        "country": "AE",
        "recipient": "+971501234567",
        "status": "delivered",
        "number_of_sms": 1,
        "sms_cost": 0.0004,
        "schedule_time": None,
    }
    body = {"request_id": request_id, "total_recipients": 1, "channel": "sms", "messages": [item]}
    return json.dumps(body, separators=(", ", ": ")).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ids", type=int, default=20_000)
    parser.add_argument("--lines", type=int, default=15)
    count = parser.parse_args().ids
    lines = parser.parse_args().lines
    ids = [str(uuid.uuid4()) for _ in range(count)]
    watchlist = Watchlist()
    watches = {}
    for rid in ids:
        target = Target(rid, "sms")
        watchlist.add(target, "", 1.0)
        watches[rid] = Watch(target, 1.0, "sms")
    watchlist.totals()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for poll in range(2):
        at = 2.0 + poll
        for rid in ids:
            watch = watches[rid]
            msg_id = str(uuid.UUID(int=uuid.UUID(rid).int ^ 1))
            said = d7.parse_report(Channel.SMS, rid, answer(rid, msg_id))
            state, transitions = observe(watch.state, said, at)
            if held_without_raw(state):
                state = replace(state, raw=())
            watch.state = state
            status = WatchStatus.DONE if poll else WatchStatus.ACTIVE
            update = PollUpdate(
                rid, at, "sms", status, state, None, tuple(transitions), poll == 0, at, 2.0
            )
            watchlist.apply(update)
        watchlist.visible()
        watchlist.totals()
    gc.collect()
    diff = tracemalloc.take_snapshot().compare_to(before, "lineno")
    total = sum(stat.size_diff for stat in diff)
    print(f"{count:,} answers: {total / count:,.0f} bytes kept an answer")
    for stat in diff[:lines]:
        print(
            f"  {stat.size_diff / count:6.0f} B  {stat.count_diff / count:5.2f}/answer  {stat.traceback}"
        )


if __name__ == "__main__":
    main()
