"""What a running monitor pays, at many ids, to hear what another process did to the watchlist
(`d7tui add` relabelled an id, another monitor removed one), and what opening the store pays to
check it is whole. Measured in-process on a store built in a temporary directory.

    .venv/bin/python bench/watch_changes.py [--ids 100000] [--looks 50]

Builds a store of `--ids` delivered SMS requests (bench/restart.py's), then reports the median
time of one look, as the monitor takes it every few seconds (`Memory.changed_watches`'s reads):
after a commit that changed no watchlist row (a poll's), and after `d7tui add` relabelled one id
and another process removed one; the old look (`live_summary` + `watches_after`, new ids only)
beside it; what the numbered changes add to `d7tui add` of 10,000 new ids; and the cost of the
open's integrity check (`PRAGMA quick_check`) against a plain open.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from restart import build

from d7tui.models import Channel, IdKind, Phase, Recipient, RequestStatus, observe
from d7tui.store import Store, add_ids
from d7tui.store.changes import TRIGGERS


def median_ms(fn: Callable[[], object], times: int) -> float:
    took = []
    for _ in range(times):
        start = time.perf_counter()
        fn()
        took.append(time.perf_counter() - start)
    return statistics.median(took) * 1000


def a_poll(store: Store, rid: str, at: float) -> None:
    """A poll's result saved: the state and transitions written, no watchlist row changed."""
    status = "delivered" if int(at) % 2 else "sent"
    r = Recipient("m", "+971500000000", status, Phase.DELIVERED, status == "delivered")
    state, transitions = observe(None, RequestStatus(rid, Channel.SMS, (r,)), at)
    store.save_observation(state, transitions, at=at)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ids", type=int, default=100_000)
    parser.add_argument("--looks", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d7tui.sqlite3"
        build(path, args.ids)
        size = path.stat().st_size / 1e6
        print(f"store: {args.ids:,} ids, {size:.0f} MB")
        opened = median_ms(lambda: Store.open(path).close(), 5)
        print(f"open (with its checks): {opened:.1f} ms")
        with Store.open(path) as store:
            quick = median_ms(lambda: store._all("PRAGMA quick_check"), 3)
            print(f"PRAGMA quick_check alone: {quick:.0f} ms")
        writer = Store.open(path)  # another process, as far as the reader's numbers go
        reader = Store.open(path)
        mark = reader.change_mark()
        seen_seq = reader.live_summary()[1]

        def new_look() -> None:
            nonlocal mark
            mark, _ = reader.changes_after(mark)

        def old_look() -> None:
            reader.live_summary()
            reader.watches_after(seen_seq)

        def after(commit: Callable[[], object], look: Callable[[], None]) -> float:
            def once() -> None:
                commit()
                start = time.perf_counter()
                look()
                took.append(time.perf_counter() - start)

            took: list[float] = []
            for _ in range(args.looks):
                once()
            return statistics.median(took) * 1000

        polled = writer.watches()[-1].request_id
        at = iter(range(10**9))
        poll = lambda: a_poll(writer, polled, float(next(at)))  # noqa: E731
        print(
            f"a look after a poll's commit: {after(poll, new_look):.2f} ms (old look, new ids "
            f"only: {after(poll, old_look):.2f} ms)"
        )
        ids = [w.request_id for w in writer.watches()[: args.looks * 2]]
        edits = iter(ids)

        def edit() -> None:
            writer.set_label(next(edits), "relabelled")
            writer.remove_watch(next(edits))

        print(f"a look after a relabel and a removal: {after(edit, new_look):.2f} ms")
        fresh = [str(uuid.uuid4()) for _ in range(10_000)]
        start = time.perf_counter()
        add_ids(writer, fresh, "sms", IdKind.REQUEST)
        took = (time.perf_counter() - start) * 1000
        bare = Path(tmp) / "bare.sqlite3"  # the same without the numbered changes
        with Store.open(bare) as other:
            for name in TRIGGERS:  # an open makes them again: dropped for this measure only
                other._all(f"DROP TRIGGER {name}")
            start = time.perf_counter()
            add_ids(other, [str(uuid.uuid4()) for _ in range(10_000)], "sms", IdKind.REQUEST)
            without = (time.perf_counter() - start) * 1000
        print(
            f"d7tui add of 10,000 new ids: {took:.0f} ms (without the numbered changes, on "
            f"an empty store: {without:.0f} ms)"
        )
        start = time.perf_counter()
        _, rows = reader.changes_after(mark)
        print(
            f"the look that reads them: {(time.perf_counter() - start) * 1000:.0f} ms "
            f"({len(rows or []):,} rows)"
        )
        writer.close()
        reader.close()


if __name__ == "__main__":
    main()
