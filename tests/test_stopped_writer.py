"""A process stopped in the middle of a write (kill -STOP, a suspended laptop sharing the home
directory) keeps SQLite's write lock for as long as it is stopped (fresh-eyes F0, t7): nothing
else can write. The monitor that took over said nothing of it while its saves waited for ever,
and `d7tui add` failed after 10 s with "database is locked". Now whoever meets that lock names
the stopped process at once and says nothing is saved until it runs or is quit; the monitor
holds what it has (in memory and in the held file) and saves it once the lock is let go. And
the stopped leader, run again, writes none of the poll results it had queued before another
monitor took its lead (their transitions would be stored twice), while what the user did
still lands."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from test_store import d7_status, rid

from d7tui.models import observe
from d7tui.store import AsyncStore, Store, StoreError
from d7tui.store.lock import ReportLock
from d7tui.store.writelock import stopped_writer

# A d7tui store's own write, held open: the process waits for a line on its standard input
# between the write and the commit.
HOLDER = """
import sys
sys.path.insert(0, sys.argv[2])
from d7tui.models import observe
from d7tui.store import Store
from test_store import d7_status
store = Store.open(sys.argv[1])
with store.batch():
    store.add_watch("from-the-stopped-one", "sms")
    if len(sys.argv) > 3:  # a poll's result: this id delivered
        state, transitions = observe(None, d7_status(sys.argv[3], ["delivered"]), 10)
        store.save_observation(state, transitions, at=10)
    print("inside", flush=True)
    sys.stdin.readline()
print("committed", flush=True)
"""


@contextlib.contextmanager
def stopped_inside_a_write(db: Path, *polled: str) -> Iterator[subprocess.Popen[str]]:
    """A process of its own inside a write transaction on `db` (an id added; and `polled`,
    the result of a poll that found it delivered), stopped with SIGSTOP; it runs again
    (SIGCONT) and commits when `let_go` is called on it, else at the end."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db), str(Path(__file__).parent), *polled],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "inside\n"
        os.kill(proc.pid, signal.SIGSTOP)
        yield proc
    finally:
        let_go(proc)


def let_go(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGCONT)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert proc.stdout.readline() == "committed\n"
    proc.wait(timeout=30)


async def until_stopped(db: Path, pid: int) -> None:
    """The kernel has stopped it (SIGSTOP is delivered, not done at once)."""
    for _ in range(2000):
        found = stopped_writer(db)
        if found is not None and found.pid == pid:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"pid {pid} was never seen stopped holding the write lock")


def made(tmp_path: Path) -> Path:
    db = tmp_path / "data" / "d7tui" / "d7tui.sqlite3"
    db.parent.mkdir(parents=True)
    Store.open(db).close()
    return db


def trouble_heard(astore: AsyncStore) -> list[StoreError | None]:
    heard: list[StoreError | None] = []
    astore.on_trouble = heard.append
    return heard


async def until(check, what: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3000):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


async def test_a_process_stopped_inside_a_write_is_named_at_once_and_nothing_is_lost(tmp_path):
    db = made(tmp_path)
    with stopped_inside_a_write(db) as holder:
        await until_stopped(db, holder.pid)
        astore = AsyncStore(Store.open(db))
        heard = trouble_heard(astore)
        added = astore.add_watch(rid(1), "sms", label="mine")
        state, transitions = observe(None, d7_status(rid(1), ["delivered"]), 10)
        saved = astore.save_observation(state, transitions, at=10)
        await until(lambda: heard and heard[-1] is not None, "the writes held and said")
        said = str(heard[-1])
        assert f"pid {holder.pid}" in said and "is stopped" in said
        assert "nothing can be saved until it runs again" in said and "or is quit" in said
        assert f"kill -CONT {holder.pid}" in said
        # Held on disk as well, for the next d7tui should this one be killed meanwhile.
        kept = await astore.kept()
        assert kept is not None and kept.exists()
        assert not added.done() and not saved.done()

        # `d7tui add` says who, at once (not after SQLite's 10 s), and adds nothing.
        home = tmp_path
        env = {
            **os.environ,
            "HOME": str(home),
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_STATE_HOME": str(home / "state"),
        }
        env.pop("D7TUI_DATABASE_URL", None)
        done = subprocess.run(
            [sys.executable, "-m", "d7tui", "add", "--channel", "sms", rid(2)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 5, done.stderr
        assert "nothing was added" in done.stderr and f"pid {holder.pid}" in done.stderr
        assert "is stopped" in done.stderr

        let_go(holder)
    astore.retry_now()
    await added
    await saved
    await until(lambda: heard[-1] is None, "saving works again")
    await astore.aclose()
    with Store.open(db) as store:
        assert {w.request_id: w.label for w in store.watches()} == {
            "from-the-stopped-one": "",
            rid(1): "mine",
        }
        assert store.load_state(rid(1)) is not None
        assert len(store.transitions(rid(1))) == 1


async def test_a_leader_run_again_writes_no_poll_result_queued_before_it_lost_the_lead(
    tmp_path,
):
    db = made(tmp_path)
    with stopped_inside_a_write(db) as holder:
        await until_stopped(db, holder.pid)
        leader = AsyncStore(Store.open(db))
        assert leader.try_acquire_report_lock()
        heard = trouble_heard(leader)
        # Its writes wait behind the stopped process (as a stopped leader's queue waits).
        state, transitions = observe(None, d7_status(rid(1), ["delivered"]), 10)
        polled = leader.save_observation(state, transitions, at=10)
        added = leader.add_watch(rid(2), "sms", label="typed")
        noted = leader.set_note(rid(2), "a note")
        await until(lambda: heard and heard[-1] is not None, "the writes held")
        # Another monitor ends its lead and leads (desk.py's takeover of a silent leader).
        follower = ReportLock(db.with_name(db.name + ".lock"))
        assert follower.end_if_silent(0) is not None
        assert follower.try_acquire()
        let_go(holder)
    leader.retry_now()
    await added
    await noted
    await polled
    await leader.aclose()
    follower.release()
    assert leader.stats.stale == 1
    with Store.open(db) as store:
        assert store.watch(rid(2)) is not None
        assert (store.watch(rid(2)).label, store.watch(rid(2)).note) == ("typed", "a note")
        assert store.load_state(rid(1)) is None and store.transitions(rid(1)) == []


async def test_a_leader_that_still_leads_writes_its_poll_results(tmp_path):
    db = made(tmp_path)
    leader = AsyncStore(Store.open(db))
    assert leader.try_acquire_report_lock()
    state, transitions = observe(None, d7_status(rid(1), ["delivered"]), 10)
    await leader.save_observation(state, transitions, at=10)
    await leader.aclose()
    assert leader.stats.stale == 0
    with Store.open(db) as store:
        assert len(store.transitions(rid(1))) == 1


async def test_the_same_change_committed_by_a_leader_run_again_and_its_successor_is_stored_once(
    tmp_path,
):
    """A leader stopped in the middle of its commit (after its last look at its lead) commits
    when it runs again; the monitor that took over polled the same change meanwhile, and its
    write waited behind the stopped one: the change is stored once, not twice."""
    db = made(tmp_path)
    with stopped_inside_a_write(db, rid(1)) as holder:
        await until_stopped(db, holder.pid)
        successor = AsyncStore(Store.open(db))
        heard = trouble_heard(successor)
        state, transitions = observe(None, d7_status(rid(1), ["delivered"]), 20)
        saved = successor.save_observation(state, transitions, at=20)
        await until(lambda: heard and heard[-1] is not None, "the write held")
        let_go(holder)
    successor.retry_now()
    await saved
    await successor.aclose()
    with Store.open(db) as store:
        timeline = [(t.old_status, t.new_status, t.at) for t in store.transitions(rid(1))]
    assert timeline == [(None, "delivered", 10)]


def test_a_status_that_goes_and_comes_back_within_one_batch_keeps_every_change(tmp_path):
    db = made(tmp_path)
    with Store.open(db) as store:
        stored = None
        for at, status in enumerate(["sent", "delivered"]):
            stored, transitions = observe(stored, d7_status(rid(1), [status]), at)
            store.save_observation(stored, transitions, at=at)
        batch = []
        for at, status in enumerate(["sent", "delivered"], start=2):
            stored, transitions = observe(stored, d7_status(rid(1), [status]), at)
            batch.append((stored, transitions, at))
        store.save_observations(batch)
        assert [(t.old_status, t.new_status) for t in store.transitions(rid(1))] == [
            (None, "sent"),
            ("sent", "delivered"),
            ("delivered", "sent"),
            ("sent", "delivered"),
        ]
