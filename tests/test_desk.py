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
from desk_peer import peer_env
from pgserver import PgServer
from ui_kit import entry, screen_text, sim_settings, until

from d7tui.clock import ManualClock
from d7tui.models import Phase
from d7tui.safety import Secret
from d7tui.simulator import Simulator, Step
from d7tui.store import open_store
from d7tui.store.pglock import LEADER_LOCK
from d7tui.ui.app import D7App, make_app

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
def leading_peer(sim: Simulator, url: str, home: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A monitor in its own process, leading: started first, it takes the lock."""
    proc = subprocess.Popen(
        [sys.executable, str(TESTS / "desk_peer.py")],
        env=peer_env(sim, url, home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: leader_pid(url) is not None)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@pytest.fixture
def leader(sim: Simulator, pg_url: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with leading_peer(sim, pg_url, tmp_path / "leader") as proc:
        yield proc


def add_from_a_shell(sim: Simulator, url: str, home: Path, *ids: str) -> str:
    """`d7tui add` in a process of its own, by a user named "ana" in its config."""
    config = home / "config" / "d7tui" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('user = "ana"\n')
    config.chmod(0o600)
    done = subprocess.run(
        [sys.executable, "-m", "d7tui", "add", *ids],
        env=peer_env(sim, url, home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_a_follower_polls_nothing_shows_what_the_leader_polls_and_takes_over_at_its_kill(
    sim: Simulator, clock: ManualClock, pg_url: str, leader, tmp_path: Path
):
    rid = sim.create_request("sms", ["+971500000001"], [Step(0, "accepted"), Step(4, "delivered")])
    app = make_app(sim_settings(sim, database_url=Secret(pg_url)), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        # The leader took the lock first (it started first); this monitor follows it.
        await until(pilot, lambda: app.desk is not None, tries=500)
        assert app.desk is not None
        await until(pilot, lambda: f"pid {leader.pid}" in app.desk.status_text(), tries=500)
        assert not app.desk.leading
        # A third process adds an id: both monitors watch it, the leader polls it, the follower
        # shows what the leader stored.
        add_from_a_shell(sim, pg_url, tmp_path / "shell", rid)
        await until(pilot, lambda: rid in app.live, tries=500)
        await until(pilot, lambda: entry(app, rid).state is not None, tries=500)
        sim.advance(5)
        await until(pilot, lambda: delivered(app, rid), tries=1000)
        assert app.desk.fetcher.vendor_calls == 0  # it asked the database, never a vendor
        # A label written elsewhere shows here.
        add_from_a_shell(sim, pg_url, tmp_path / "shell", rid, "--label", "vip customer")
        await until(pilot, lambda: entry(app, rid).label == "vip customer", tries=500)
        # Who did it, in the detail.
        assert (entry(app, rid).added_by, entry(app, rid).noted_by) == ("ana", "ana")
        await pilot.press("enter")
        await until(pilot, lambda: "added by ana · label/note by ana" in screen_text(app))
        await pilot.press("escape")
        # The leader dies without a word: this monitor takes over and polls the vendors.
        os.kill(leader.pid, signal.SIGKILL)
        await until(pilot, lambda: app.desk.leading, tries=1000)
        assert app.desk.status_text() == "◆ leads the desk"
        second = sim.create_request(
            "sms", ["+971500000002"], [Step(0, "accepted"), Step(4, "delivered")]
        )
        add_from_a_shell(sim, pg_url, tmp_path / "shell", second)
        await until(pilot, lambda: second in app.live, tries=500)
        await until(pilot, lambda: entry(app, second).state is not None, tries=1000)
        assert app.desk.fetcher.vendor_calls > 0
    with open_store(pg_url) as store:
        timeline = [(t.recipient_key, t.new_status) for t in store.transitions(rid)]
        assert len(timeline) == len(set(timeline)), timeline  # nothing twice
        assert "delivered" in [status for _, status in timeline], timeline


@pytest.fixture
def own_server() -> Iterator[PgServer]:
    """A server of this test's own, to stop and start."""
    server = PgServer.start()
    yield server
    server.close()


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
            await until(pilot, lambda: app.desk is not None, tries=500)
            assert app.desk is not None and not app.desk.leading
            await until(pilot, lambda: entry(app, rid).state is not None, tries=1000)
            own_server.stop()
            # The follower says so, and keeps what it had.
            await until(pilot, lambda: banner_says(app, "database cannot be reached"), tries=500)
            assert entry(app, rid).state is not None
            # The leader polls on meanwhile: the message is delivered while the database is away.
            asked = sim.request_count
            sim.advance(5)
            await until(pilot, lambda: sim.request_count > asked, tries=1000)
            own_server.start_again()
            await until(pilot, lambda: not banner_says(app, "cannot be reached"), tries=1000)
            await until(pilot, lambda: delivered(app, rid), tries=1000)
            assert not app.desk.leading and app.desk.fetcher.vendor_calls == 0
    with open_store(url) as store:
        timeline = [(t.recipient_key, t.new_status) for t in store.transitions(rid)]
    assert len(timeline) == len(set(timeline)) and "delivered" in dict(timeline).values()
