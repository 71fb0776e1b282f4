"""One poller for a desk (issue 15): monitors on one PostgreSQL database, one leading (polling
the vendors and writing), the others following the database through LISTEN/NOTIFY; `d7tui add`
from a third process; the leader killed with -9 and another taking over, no transition lost or
doubled."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from desk_peer import peer_env, run_d7tui
from pgserver import PgServer
from ui_kit import entry, said, screen_text, sim_settings, status_requests, until

from d7tui.clock import ManualClock
from d7tui.models import Channel, Phase, Recipient, RequestStatus, classify_d7, observe
from d7tui.safety import Secret
from d7tui.simulator import Simulator, Step
from d7tui.store import Store, open_store
from d7tui.store.pglock import LEADER_LOCK
from d7tui.ui import desk as desk_link
from d7tui.ui.app import D7App, make_app
from d7tui.ui.format import format_clock

SIZE = (120, 40)
TESTS = Path(__file__).resolve().parent


def leader_pid(url: str) -> int | None:
    """The pid (on the server) of the session holding the desk's lock, if any."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = %s",
            (LEADER_LOCK,),
        ).fetchone()
    return int(row[0]) if row else None


def wait_for(predicate: Callable[[], bool], timeout: float = 30) -> None:
    """For another process (no event of ours to await)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@contextlib.contextmanager
def leading_peer(
    sim: Simulator,
    url: str | None,
    home: Path,
    said: Path | None = None,
    *,
    leads: Callable[[subprocess.Popen[bytes]], bool] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """A monitor in its own process, leading: started first, it takes the lock (`url` None:
    the SQLite file in `home`'s data directory; `leads`: how to see it has, the desk's lock
    holder by default). `said`: the file every line it says is appended to."""
    env = peer_env(sim, url, home)
    if said is not None:
        env["D7TUI_PEER_SAID"] = str(said)
    proc = subprocess.Popen(
        [sys.executable, str(TESTS / "desk_peer.py")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: leads(proc) if leads is not None else leader_pid(url) is not None)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@pytest.fixture
def leader(sim: Simulator, pg_url: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The desk's leader, in its own process; what it says goes to tmp_path / "leader-said"."""
    said = tmp_path / "leader-said"
    said.touch()
    with leading_peer(sim, pg_url, tmp_path / "leader", said) as proc:
        yield proc


def add_from_a_shell(sim: Simulator, url: str, home: Path, *ids: str) -> str:
    """`d7tui add` in a process of its own, by a user named "ana" in its config."""
    config = home / "config" / "d7tui" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('user = "ana"\n')
    config.chmod(0o600)
    done = run_d7tui(peer_env(sim, url, home), "add", *ids)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.long
async def test_a_follower_polls_nothing_shows_what_the_leader_polls_and_takes_over_at_its_kill(
    sim: Simulator, clock: ManualClock, pg_url: str, leader, tmp_path: Path
):
    rid = sim.create_request("sms", ["+971500000001"], [Step(0, "accepted"), Step(4, "delivered")])
    app = make_app(sim_settings(sim, database_url=Secret(pg_url)), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        # The leader took the lock first (it started first); this monitor follows it.
        await until(pilot, lambda: app.desk is not None)
        assert app.desk is not None
        await until(pilot, lambda: f"pid {leader.pid}" in app.desk.status_text())
        assert not app.desk.leading
        # A third process adds an id: both monitors watch it, the leader polls it, the follower
        # shows what the leader stored.
        add_from_a_shell(sim, pg_url, tmp_path / "shell", rid)
        await until(pilot, lambda: rid in app.live)
        await until(pilot, lambda: entry(app, rid).state is not None)
        sim.advance(5)
        await until(pilot, lambda: delivered(app, rid), timeout=60)
        assert app.desk.fetcher.vendor_calls == 0  # it asked the database, never a vendor
        # A label written elsewhere shows here.
        add_from_a_shell(sim, pg_url, tmp_path / "shell", rid, "--label", "vip customer")
        await until(pilot, lambda: entry(app, rid).label == "vip customer")
        # Who did it, in the detail.
        assert (entry(app, rid).added_by, entry(app, rid).noted_by) == ("ana", "ana")
        await pilot.press("enter")
        await until(pilot, lambda: "added by ana · label/note by ana" in screen_text(app))
        await pilot.press("escape")
        # The leader dies without a word: this monitor takes over and polls the vendors.
        os.kill(leader.pid, signal.SIGKILL)
        await until(pilot, lambda: app.desk.leading, timeout=60)
        assert app.desk.status_text() == "◆ leads the desk"
        second = sim.create_request(
            "sms", ["+971500000002"], [Step(0, "accepted"), Step(4, "delivered")]
        )
        add_from_a_shell(sim, pg_url, tmp_path / "shell", second)
        await until(pilot, lambda: second in app.live)
        await until(pilot, lambda: entry(app, second).state is not None, timeout=60)
        assert app.desk.fetcher.vendor_calls > 0
    with open_store(pg_url) as store:
        timeline = [(t.recipient_key, t.new_status) for t in store.transitions(rid)]
        assert len(timeline) == len(set(timeline)), timeline  # nothing twice
        assert "delivered" in [status for _, status in timeline], timeline


def delivered(app: D7App, rid: str) -> bool:
    state = entry(app, rid).state
    return state is not None and state.recipients[0].phase is Phase.DELIVERED


def banner_says(app: D7App, words: str) -> bool:
    return any(words in notice for notice in app.notices)


async def test_the_database_stopped_and_started_under_a_running_desk_loses_nothing(
    sim: Simulator, clock: ManualClock, own_server: PgServer, tmp_path: Path
):
    url = own_server.create_database()
    rid = sim.create_request("sms", ["+971500000003"], [Step(0, "accepted"), Step(4, "delivered")])
    add_from_a_shell(sim, url, tmp_path / "shell", rid)
    with leading_peer(sim, url, tmp_path / "leader"):
        app = make_app(sim_settings(sim, database_url=Secret(url)), clock=clock)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.desk is not None)
            assert app.desk is not None and not app.desk.leading
            await until(
                pilot, lambda: rid in app.live and entry(app, rid).state is not None, timeout=60
            )
            own_server.stop()
            # The follower says so, and keeps what it had.
            await until(pilot, lambda: banner_says(app, "database cannot be reached"))
            assert entry(app, rid).state is not None
            # The leader polls on meanwhile: the message is delivered while the database is away.
            asked = sim.request_count
            sim.advance(5)
            await until(pilot, lambda: sim.request_count > asked, timeout=60)
            own_server.start_again()
            await until(pilot, lambda: not banner_says(app, "cannot be reached"), timeout=60)
            await until(pilot, lambda: delivered(app, rid), timeout=60)
            assert not app.desk.leading and app.desk.fetcher.vendor_calls == 0
    with open_store(url) as store:
        timeline = [(t.recipient_key, t.new_status) for t in store.transitions(rid)]
    assert len(timeline) == len(set(timeline)) and "delivered" in dict(timeline).values()


# -- the test leads the desk itself -------------------------------------------------------------
# A follower against a lead held by the test: it writes what a leader's polls write (the store's
# own save, the same triggers), so that changes no simulator makes (a cost alone, a reason alone)
# can be made, and a follower is watched with nothing else on the database.


@contextlib.contextmanager
def leading_here(url: str) -> Iterator[Store]:
    with open_store(url, user="lead") as store:
        assert store.report_lock.try_acquire()
        yield store


def sms(rid: str, *statuses: str, cost: float | None = None, reason: str | None = None):
    recipients = []
    for n, status in enumerate(statuses):
        phase, final = classify_d7(Channel.SMS, status)
        recipients.append(
            Recipient(f"{rid}-m{n}", f"+97150000{n:04d}", status, phase, final, reason, cost, "AED")
        )
    return RequestStatus(rid, Channel.SMS, tuple(recipients))


def poll_saved(store: Store, clock: ManualClock, *states: RequestStatus) -> None:
    """What the leader's writer does with a batch of polls: each merged with what was stored,
    saved with its transitions, in one transaction."""
    now = clock.now()
    observations = []
    for state in states:
        stored = store.load_state(state.request_id)
        merged, transitions = observe(stored.state if stored else None, state, now)
        observations.append((merged, transitions, now))
    store.save_observations(observations)


async def following(pilot, app: D7App, ids: list[str]) -> None:
    """The app follows the test's lead and shows every id's stored state."""
    await until(pilot, lambda: app.desk is not None)
    assert app.desk is not None and not app.desk.leading
    await until(pilot, lambda: all(i in app.live for i in ids) and not app.loading)
    await until(pilot, lambda: all(entry(app, i).state is not None for i in ids))


async def test_a_follower_reads_what_the_leader_changed_at_once_not_an_id_at_a_time(
    sim: Simulator, clock: ManualClock, pg_url: str
):
    ids = [f"req-{n:03d}" for n in range(300)]
    with leading_here(pg_url) as lead:
        with lead.batch():
            for rid in ids:
                lead.add_watch(rid, "sms")
        poll_saved(lead, clock, *(sms(rid, "sent") for rid in ids))
        app = make_app(sim_settings(sim, database_url=Secret(pg_url)), clock=clock)
        async with app.run_test(size=SIZE) as pilot:
            await following(pilot, app, ids)
            assert app.desk is not None
            fetcher = app.desk.fetcher
            reads, read = fetcher.database_reads, fetcher.ids_read
            changed = ids[::3]
            clock.advance(5)
            poll_saved(lead, clock, *(sms(rid, "delivered") for rid in changed))
            await until(pilot, lambda: all(delivered(app, rid) for rid in changed), timeout=60)
            # The hundred changed ids in one read of the database (two if their news straddled
            # the listener's gathering moment), and none of the two hundred that did not change.
            assert fetcher.database_reads - reads <= 2
            assert fetcher.ids_read - read == len(changed)
            assert not any(delivered(app, rid) for rid in ids if rid not in changed)
            assert fetcher.vendor_calls == 0
            # Its status line says when the leader polled them (H12.3), not `refreshed -`.
            polled = f"leader polled {format_clock(clock.now(), clock.now())}"
            await until(pilot, lambda: polled in screen_text(app))


async def test_every_change_a_screen_shows_reaches_a_follower_not_only_a_new_status(
    sim: Simulator, clock: ManualClock, pg_url: str
):
    rid = "req-cost"
    with leading_here(pg_url) as lead:
        lead.add_watch(rid, "sms")
        poll_saved(lead, clock, sms(rid, "delivered"))
        app = make_app(sim_settings(sim, database_url=Secret(pg_url)), clock=clock)
        async with app.run_test(size=SIZE) as pilot:
            await following(pilot, app, [rid])

            def first() -> Recipient:
                state = entry(app, rid).state
                assert state is not None
                return state.recipients[0]

            # The cost alone (the vendor priced a delivered message later): no transition.
            poll_saved(lead, clock, sms(rid, "delivered", cost=0.0125))
            await until(pilot, lambda: first().cost == 0.0125)
            await pilot.press("enter")
            await until(pilot, lambda: "0.0125" in screen_text(app))
            await pilot.press("escape")
            # The reason alone, then one recipient more.
            poll_saved(lead, clock, sms(rid, "delivered", cost=0.0125, reason="late report"))
            await until(pilot, lambda: first().reason == "late report")
            poll_saved(lead, clock, sms(rid, "delivered", "sent", cost=0.0125))
            await until(pilot, lambda: len(entry(app, rid).state.recipients) == 2)
            # What the leader's user writes: a label, a note, then the archive.
            lead.set_label(rid, "vip")
            lead.set_note(rid, "call back at 5")
            await until(pilot, lambda: entry(app, rid).note == "call back at 5")
            assert entry(app, rid).label == "vip"
            lead.archive(rid)
            await until(pilot, lambda: rid in app.archived and rid not in app.live)
            assert app.desk is not None and app.desk.fetcher.vendor_calls == 0


async def test_r_on_a_follower_has_the_leader_poll_it_now_and_p_says_there_is_nothing_to_pause(
    sim: Simulator, pg_url: str
):
    # Both monitors in this process, on a clock of their own that never moves: nothing is
    # polled on a schedule after the first round, so a poll seen is one that was asked for.
    still = ManualClock()
    rid = sim.create_request("sms", ["+971500000009"], [Step(0, "accepted"), Step(4, "delivered")])
    with open_store(pg_url) as store:
        store.add_watch(rid, "sms")
    leader = make_app(sim_settings(sim, database_url=Secret(pg_url)), clock=still)
    follower = make_app(sim_settings(sim, database_url=Secret(pg_url)), clock=still)
    async with leader.run_test(size=SIZE) as lead_pilot:
        await until(lead_pilot, lambda: leader.desk is not None and leader.desk.leading)
        await until(lead_pilot, lambda: entry(leader, rid).state is not None)
        async with follower.run_test(size=SIZE) as pilot:
            await following(pilot, follower, [rid])
            assert follower.desk is not None
            # p: nothing here polls, so nothing is paused; the user is told why, and what to do.
            await pilot.press("p")
            await until(pilot, lambda: "Nothing to pause here" in " ".join(said(follower)))
            assert follower.following and follower.poller.paused  # it still only follows
            # The message is delivered at the vendor; nobody polls until r asks the leader.
            sim.advance(5)
            asked = status_requests(sim)
            await pilot.press("r")
            await until(pilot, lambda: delivered(follower, rid), timeout=60)
            assert status_requests(sim) == asked + 1  # one poll, by the leader
            assert follower.desk.fetcher.vendor_calls == 0
            assert any(line.startswith("Asked ") for line in said(follower))
            assert "another monitor of the desk asked" in " ".join(said(leader))


async def test_a_leader_stopped_or_frozen_is_ended_and_a_follower_takes_over(
    sim: Simulator, clock: ManualClock, pg_url: str, leader, tmp_path: Path, monkeypatch
):
    """Fresh-eyes finding H18: a leader stopped with `kill -STOP` (or frozen) kept its
    connection, so its lock, for ever: nobody polled and ids added waited."""
    monkeypatch.setattr(desk_link, "SILENT_AFTER", 2.0)
    monkeypatch.setattr(desk_link, "SILENT_CHECK", 0.5)
    app = make_app(sim_settings(sim, database_url=Secret(pg_url)), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.desk is not None)
        assert app.desk is not None
        await until(pilot, lambda: f"pid {leader.pid}" in app.desk.status_text())
        os.kill(leader.pid, signal.SIGSTOP)
        try:
            await until(pilot, lambda: app.desk.leading, timeout=90)
            assert any("gave no sign of life for 2 s" in line for line in said(app))
            rid = sim.create_request("sms", ["+971500000001"], [Step(0, "delivered")])
            add_from_a_shell(sim, pg_url, tmp_path / "shell", rid)
            await until(pilot, lambda: rid in app.live)
            await until(pilot, lambda: delivered(app, rid), timeout=60)  # polled by this one
            asked = status_requests(sim)
        finally:
            os.kill(leader.pid, signal.SIGCONT)
        # Run again (L13), it finds another leads: it follows, says why, asks no vendor.
        told = tmp_path / "leader-said"
        await until(pilot, lambda: "did not run for" in told.read_text(), timeout=30)
        assert status_requests(sim) == asked
        assert app.desk.leading
