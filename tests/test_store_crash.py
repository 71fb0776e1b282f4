"""kill -9 at any moment loses at most the write in flight and never corrupts the store; two
d7tui processes on the same data write side by side, and only one pulls one-time reports.

Every wait here is on an event the child prints (a line on its stdout), never a sleep.
"""

from __future__ import annotations

import os
import random
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

from d7tui.channels.infobip import parse_page
from d7tui.store import Store, open_store
from d7tui.store.aio import MAX_QUEUED

REPO = Path(__file__).resolve().parent.parent
LINE_TIMEOUT = 20.0  # a child that says nothing for this long is stuck: fail, don't hang

# Deterministic content for write number i, shared by the child (which writes it) and the test
# (which checks it): three recipients with nested fields and a raw body that is not UTF-8.
BUILDER = r"""
import json
from d7tui.models import Channel, Phase, Recipient, RequestStatus, Transition

def make_state(i):
    recipients = tuple(
        Recipient(
            msg_id=f"m{i}-{k}", recipient=f"+4477{i:07d}{k}", status="sent" if k else "delivered",
            phase=Phase.PENDING if k else Phase.DELIVERED, final=not k, reason=None,
            cost=0.01 * k, currency="EUR", parts=k, country="GB",
            fields={"n": i, "nested": {"k": [k, None, "x" * (i % 50)]}},
            problem="odd" if k == 2 else None,
        )
        for k in range(3)
    )
    return RequestStatus(f"req-{i}", Channel.SMS, recipients, {"total": 3},
                         (json.dumps({"i": i}).encode() + b"\xff" * (i % 7),))

def make_transitions(i):
    return [Transition(float(i), f"req-{i}", f"m{i}-{k}", None, None, "sent",
                       None, Phase.PENDING, None) for k in range(3)]

def make_body(i):
    return json.dumps({"results": [{"messageId": f"ib{i}", "to": "4179",
        "doneAt": str(i), "status": {"name": "DELIVERED_TO_HANDSET", "groupName": "DELIVERED"}
    }]}).encode()
"""

CHILD = (
    BUILDER
    + r"""
import asyncio, sys
from d7tui.store import AsyncStore, Store
from d7tui.channels.infobip import parse_page

path, mode, first = sys.argv[1], sys.argv[2], int(sys.argv[3])
print("opening", flush=True)
store = Store.open(path)
print("ready", flush=True)

if mode == "sync":
    i = first
    while True:
        store.save_observation(make_state(i), make_transitions(i), at=float(i))
        print(f"state {i}", flush=True)
        body_id = store.ingest_report(f"B{i}", make_body(i), parse_page, float(i))
        print(f"body {i} {body_id}", flush=True)
        i += 1

elif mode == "async":
    async def main():
        astore = AsyncStore(store, parse_report=parse_page)
        i = first
        while True:
            # Several writes queued at once: the writer commits them as one batch.
            queued = [(n, astore.save_observation(make_state(n), make_transitions(n), at=float(n)))
                      for n in range(i, i + 5)]
            await astore.commit_report(f"B{i}", make_body(i))
            print(f"body {i} 0", flush=True)
            for n, pending in queued:
                await pending
                print(f"state {n}", flush=True)
            i += 5
    asyncio.run(main())

elif mode == "flat-out":  # polls saved as fast as they come, as the poller does
    async def main():
        astore = AsyncStore(store)
        i = first
        while True:
            await astore.room()  # what each poll worker awaits before its next poll
            astore.save_observation(make_state(i), make_transitions(i), at=float(i))
            print(f"queued {i}", flush=True)
            i += 1
    asyncio.run(main())

elif mode == "count":  # a second instance writing beside the test
    for i in range(first, first + int(sys.argv[4])):
        store.save_observation(make_state(i), make_transitions(i), at=float(i))
        print(f"state {i}", flush=True)
    store.close()
    print("done", flush=True)

elif mode == "lock":
    print("locked" if store.try_acquire_report_lock() else "refused", flush=True)
    sys.stdin.readline()
"""
)

builders: dict[str, object] = {}
exec(BUILDER, builders)
make_state = builders["make_state"]
make_transitions = builders["make_transitions"]
make_body = builders["make_body"]


class Child:
    """A d7tui store process and its stdout, read line by line with a deadline."""

    def __init__(
        self,
        path: Path,
        mode: str,
        first: int = 0,
        *extra: str,
        script: str = CHILD,
        env: dict[str, str] | None = None,
    ) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", script, str(path), mode, str(first), *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=REPO,
            env=env,
            bufsize=0,
        )
        self._buffer = b""
        self._selector = selectors.DefaultSelector()
        assert self.proc.stdout is not None
        self._selector.register(self.proc.stdout, selectors.EVENT_READ)

    def line(self) -> str:
        deadline = time.monotonic() + LINE_TIMEOUT
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not self._selector.select(left):
                raise AssertionError(f"the child said nothing for {LINE_TIMEOUT} s")
            chunk = os.read(self.proc.stdout.fileno(), 65536)  # type: ignore[union-attr]
            if not chunk:
                err = self.proc.stderr.read().decode(errors="replace")  # type: ignore[union-attr]
                raise AssertionError(f"the child ended: {err[-2000:]}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    def tell(self, line: str) -> None:
        """A line on the child's standard input (what it waits for next)."""
        self.proc.stdin.write(line.encode() + b"\n")  # type: ignore[union-attr]

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(LINE_TIMEOUT)
        self._selector.close()
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


def test_kill_9_in_a_loop_never_loses_an_acknowledged_write_nor_corrupts(tmp_path):
    path = tmp_path / "d7tui.sqlite3"
    rng = random.Random(20240611)
    acked_states: set[int] = set()
    acked_bodies: set[int] = set()
    for run in range(10):
        mode = "sync" if run % 2 == 0 else "async"
        child = Child(path, mode, first=run * 100_000)
        assert child.line() == "opening"
        if run > 0:  # run 0 is killed while it opens (and migrates) the fresh file
            assert child.line() == "ready"
            for _ in range(rng.randint(1, 60)):
                kind, number, *_ = child.line().split()
                (acked_states if kind == "state" else acked_bodies).add(int(number))
        child.kill()
    assert len(acked_states) > 50 and len(acked_bodies) > 20

    # open_store also parses what a kill left unparsed
    with open_store(path, parse_report=parse_page) as store:
        assert store.integrity_check() == "ok"
        for i in acked_states:
            stored = store.load_state(f"req-{i}")
            assert stored is not None, f"acknowledged state {i} lost"
            assert stored.state == make_state(i)
        for i in acked_bodies:
            [body] = store.report_bodies(f"B{i}")
            assert body.body == make_body(i)
            assert [r.recipient.msg_id for r in store.reports_for(f"B{i}")] == [f"ib{i}"]
        # Whatever else a kill let through is whole: a state and its transitions, or neither.
        for request_id, stored in store.load_states(None).items():
            i = int(request_id.removeprefix("req-"))
            assert stored.state == make_state(i)
            assert store.transitions(request_id) == make_transitions(i)
        assert store.unparsed_bodies() == []


def test_two_processes_write_the_same_store_at_once(tmp_path):
    path = tmp_path / "d7tui.sqlite3"
    Store.open(path).close()
    child = Child(path, "count", 10_000, "300")
    try:
        assert child.line() == "opening" and child.line() == "ready"
        with Store.open(path) as store:
            for i in range(300):
                store.save_observation(make_state(i), make_transitions(i), at=float(i))
                # Lock-step with the child: both are writing while the other is.
                assert child.line() == f"state {10_000 + i}"
            assert child.line() == "done"
            states = store.load_states(None)
            assert len(states) == 600
            assert states["req-10299"].state == make_state(10_299)
            assert store.integrity_check() == "ok"
        assert child.proc.wait(LINE_TIMEOUT) == 0
    finally:
        child.kill()


def test_the_report_lock_is_refused_while_held_and_freed_by_kill_9(tmp_path):
    path = tmp_path / "d7tui.sqlite3"
    Store.open(path).close()
    holder = Child(path, "lock")
    try:
        assert holder.line() == "opening" and holder.line() == "ready"
        assert holder.line() == "locked"
        with Store.open(path) as store:
            assert not store.try_acquire_report_lock()
            message = store.report_lock_refusal()
            assert f"(pid {holder.proc.pid})" in message and "read-only" in message
            # Reading and writing beside it still work.
            store.add_watch("BULK-1", "infobip")
            holder.kill()  # no clean-up ran: the kernel released the lock
            assert store.try_acquire_report_lock()
            second = Child(path, "lock")
            try:
                assert second.line() == "opening" and second.line() == "ready"
                assert second.line() == "refused"
            finally:
                second.kill()
    finally:
        if holder.proc.returncode is None:
            holder.kill()


def test_a_store_killed_mid_write_can_be_written_at_once_by_the_next(tmp_path):
    """No stale lock and no waiting: the next process writes right after a kill."""
    path = tmp_path / "d7tui.sqlite3"
    child = Child(path, "sync", 0)
    assert child.line() == "opening" and child.line() == "ready"
    child.line()
    child.kill()
    with Store.open(path, busy_timeout=0.5) as store:
        store.add_watch("after-kill")
        assert store.watch("after-kill") is not None


def test_kill_9_while_saving_flat_out_loses_at_most_what_was_queued(tmp_path):
    """README: a kill -9 loses at most the polls of the last moment, never more than the
    writes queued for the disk (MAX_QUEUED): polls wait for the disk instead of queueing more.
    Everything queued before those is on disk, whole."""
    path = tmp_path / "d7tui.sqlite3"
    child = Child(path, "flat-out")
    assert child.line() == "opening" and child.line() == "ready"
    for _ in range(3 * MAX_QUEUED):  # well past the first batches: the writer is behind
        last = int(child.line().split()[1])
    child.kill()
    with Store.open(path) as store:
        saved = {int(rid.removeprefix("req-")) for rid in store.load_states(None)}
        assert saved, "nothing was saved at all"
        assert store.integrity_check() == "ok"
        lost = set(range(last + 1)) - saved
        assert len(lost) <= MAX_QUEUED, f"{len(lost)} polls lost"
        assert min(lost, default=last + 1) >= last + 1 - MAX_QUEUED  # only the newest
        for i in sorted(saved)[-50:]:
            assert store.load_state(f"req-{i}").state == make_state(i)
            assert store.transitions(f"req-{i}") == make_transitions(i)
