"""One poller per SQLite store (finding K16): two monitors on one data directory (two terminals,
a tmux pane) polled everything twice: 240 Infobip log calls a minute where the README promises
at most 120, and every D7 id asked twice. Now the one holding the lock beside the file leads (it
polls, writes, pulls the reports), the other follows what it stored, as on a desk's database
(test_desk.py), and takes over when the leader ends or is killed with -9."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from desk_peer import peer_env, run_d7tui
from test_desk import delivered, following, leading_peer
from ui_kit import entry, said, screen_text, sim_settings, status_requests, until

from d7tui.clock import ManualClock
from d7tui.models import IdKind, Target
from d7tui.simulator import Simulator, Step
from d7tui.store import Store
from d7tui.store.commands import os_user
from d7tui.store.lock import whoami
from d7tui.ui import desk as desk_link
from d7tui.ui.app import D7App, make_app

SIZE = (120, 40)
DELIVERS = [Step(0, "accepted"), Step(4, "delivered")]
INFOBIP_DELIVERS = [Step(0, "PENDING_ACCEPTED"), Step(4, "DELIVERED_TO_HANDSET")]


def monitor(sim: Simulator, clock: ManualClock, db: Path, **settings: object) -> D7App:
    return make_app(sim_settings(sim, **settings), clock=clock, store_path=db)


async def shown(pilot, app: D7App, ids: list[str]) -> None:
    """Every id listed with a state."""
    await until(pilot, lambda: all(i in app.live for i in ids) and not app.loading)
    await until(pilot, lambda: all(entry(app, i).state is not None for i in ids), timeout=30)


def watched(db: Path, *targets: Target) -> None:
    with Store.open(db) as store:
        for target in targets:
            store.add_watch(target.request_id, target.channel, id_kind=target.id_kind)


@contextlib.asynccontextmanager
async def leader_and_follower(
    sim: Simulator, db: Path, rid: str
) -> AsyncIterator[tuple[contextlib.AsyncExitStack, D7App, D7App, Any]]:
    """Two monitors on `db` watching the SMS `rid`, the first leading, the second following,
    on a clock that never moves (nothing is polled on a schedule after the first round, so a
    poll seen is one that was asked for). Yields the stack the leader runs in (close it: the
    leader quits), the leader, the follower and the follower's pilot."""
    still = ManualClock()
    watched(db, Target(rid, "sms"))
    leader, follower = monitor(sim, still, db), monitor(sim, still, db)
    async with contextlib.AsyncExitStack() as leading:
        lead_pilot = await leading.enter_async_context(leader.run_test(size=SIZE))
        await until(lead_pilot, lambda: leader.desk is not None and leader.desk.leading)
        await shown(lead_pilot, leader, [rid])
        async with follower.run_test(size=SIZE) as pilot:
            await following(pilot, follower, [rid])
            yield leading, leader, follower, pilot


async def test_two_monitors_on_one_file_ask_each_id_once_and_the_second_shows_what_the_first_polled(
    sim: Simulator, clock: ManualClock, tmp_path: Path
):
    db = tmp_path / "d7tui.sqlite3"
    d7 = [sim.create_request("sms", [f"+97150000000{n}"], DELIVERS) for n in range(3)]
    bulk, _ = sim.create_infobip_bulk(["41793026727", "41793026728"], INFOBIP_DELIVERS)
    ids = [*d7, bulk]
    watched(db, *(Target(r, "sms") for r in d7), Target(bulk, "infobip", IdKind.BULK))
    leader, follower = monitor(sim, clock, db), monitor(sim, clock, db)
    async with leader.run_test(size=SIZE) as lead_pilot:
        await until(lead_pilot, lambda: leader.desk is not None and leader.desk.leading)
        await shown(lead_pilot, leader, ids)
        async with follower.run_test(size=SIZE) as pilot:
            await following(pilot, follower, ids)
            assert follower.desk is not None
            # Its status line names who polls, as a desk's follower's does.
            host = whoami(None).split("@")[1]  # the leader is this process
            await until(pilot, lambda: f"◇ follows {os_user()}@{host}" in screen_text(follower))
            # The first round: each D7 id asked once, the bulk in one logs call, by the leader.
            assert sim.counts["sms"] == len(d7)
            assert sim.counts["infobip_logs"] == 1
            # The messages are delivered at the vendors; the leader's next round finds it and
            # the follower shows it, having asked no vendor anything.
            asked = status_requests(sim)
            clock.advance(5)
            await until(pilot, lambda: all(delivered(leader, r) for r in d7), timeout=30)
            await until(pilot, lambda: all(delivered(follower, r) for r in d7), timeout=30)
            await until(
                pilot,
                lambda: entry(follower, bulk).latest_status == "DELIVERED_TO_HANDSET",
                timeout=30,
            )
            assert follower.desk.fetcher.vendor_calls == 0
            assert status_requests(sim) - asked == len(d7) + 1  # one process asked
            # p on the follower pauses nothing, and says so.
            await pilot.press("p")
            await until(pilot, lambda: "Nothing to pause here" in " ".join(said(follower)))
    # Neither wrote a transition twice.
    with Store.open(db) as store:
        for rid in d7:
            timeline = [(t.recipient_key, t.new_status) for t in store.transitions(rid)]
            assert len(timeline) == len(set(timeline)), timeline


async def test_r_on_a_follower_has_the_leader_poll_it_and_the_follower_leads_once_the_leader_quits(
    sim: Simulator, tmp_path: Path
):
    db = tmp_path / "d7tui.sqlite3"
    rid = sim.create_request("sms", ["+971500000009"], DELIVERS)
    async with leader_and_follower(sim, db, rid) as both:
        leading, leader, follower, pilot = both
        assert follower.desk is not None
        sim.advance(5)
        asked = status_requests(sim)
        await pilot.press("r")
        await until(pilot, lambda: delivered(follower, rid), timeout=30)
        assert status_requests(sim) == asked + 1  # one poll, by the leader
        assert any(line.startswith("Asked ") for line in said(follower))
        assert "another monitor of the desk asked" in " ".join(said(leader))
        # The leader quits: the follower takes over within seconds, and polls.
        await leading.aclose()
        await until(pilot, lambda: follower.desk.leading, timeout=30)  # type: ignore[union-attr]
        assert any("leads the desk now" in line for line in said(follower))
        second = sim.create_request("sms", ["+971500000010"], DELIVERS)
        watched(db, Target(second, "sms"))
        await shown(pilot, follower, [second])
        assert follower.desk.fetcher.vendor_calls > 0


def peer_leading(
    sim: Simulator, home: Path, said: Path | None = None
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    """A monitor in its own process on `home`'s data directory, leading (started first);
    `said`: the file every line it says is appended to."""
    lock = home / "data" / "d7tui" / "d7tui.sqlite3.lock"

    def leads(proc: subprocess.Popen[bytes]) -> bool:
        return lock.exists() and lock.read_text().startswith(f"{proc.pid}\n")

    return leading_peer(sim, None, home, said, leads=leads)


async def test_the_leader_killed_with_9_is_followed_by_a_takeover_and_status_pulls_no_report(
    sim: Simulator, clock: ManualClock, tmp_path: Path
):
    home = tmp_path / "peer"
    db = home / "data" / "d7tui" / "d7tui.sqlite3"
    db.parent.mkdir(parents=True)
    rid = sim.create_request("sms", ["+971500000001"], DELIVERS)
    bulk, _ = sim.create_infobip_bulk(["41793026727"], INFOBIP_DELIVERS)
    watched(db, Target(rid, "sms"))
    with peer_leading(sim, home) as peer:
        app = monitor(sim, clock, db)
        async with app.run_test(size=SIZE) as pilot:
            await following(pilot, app, [rid])
            assert app.desk is not None
            await until(pilot, lambda: f"pid {peer.pid}" in (app.desk.status_text() or ""))
            # `d7tui status` on reports leaves them to the leader: it pulls none, and says so.
            pulled = sim.counts["infobip_reports"]
            done = run_d7tui(
                peer_env(sim, None, home),
                "status",
                bulk,
                "--channel",
                "infobip",
                "--infobip-source",
                "reports",
            )
            assert f"pid {peer.pid}" in done.stderr and "read-only" in done.stderr
            assert sim.counts["infobip_reports"] == pulled
            assert app.desk.fetcher.vendor_calls == 0
            os.kill(peer.pid, signal.SIGKILL)
            await until(pilot, lambda: app.desk.leading, timeout=30)  # type: ignore[union-attr]
            sim.advance(5)
            clock.advance(5)
            await until(pilot, lambda: delivered(app, rid), timeout=30)
            assert app.desk.fetcher.vendor_calls > 0
            await until(pilot, lambda: "follows" not in screen_text(app))


@pytest.mark.long
async def test_a_leader_stopped_with_sigstop_is_taken_over_and_follows_when_it_runs_again(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Fresh-eyes finding L13: a leader stopped (ctrl+z, kill -STOP) kept its file lock for
    ever, and the other monitor followed it, showing nothing new. Its heartbeat stands still
    now: the follower says since when, ends its lead and leads; the stopped one, run again,
    asks no vendor anything, follows, and says why."""
    monkeypatch.setattr(desk_link, "SILENT_AFTER", 2.0)
    monkeypatch.setattr(desk_link, "SILENT_CHECK", 0.5)
    monkeypatch.setattr(desk_link, "QUIET_SAID", 1.0)
    still = ManualClock()  # this monitor polls only when told: a poll seen is the peer's
    home = tmp_path / "peer"
    db = home / "data" / "d7tui" / "d7tui.sqlite3"
    lock = db.with_name(db.name + ".lock")
    db.parent.mkdir(parents=True)
    rid = sim.create_request("sms", ["+971500000001"], DELIVERS)
    watched(db, Target(rid, "sms"))
    told = tmp_path / "peer-said.txt"
    told.touch()
    with peer_leading(sim, home, said=told) as peer:
        app = monitor(sim, still, db)
        async with app.run_test(size=SIZE) as pilot:
            await following(pilot, app, [rid])
            desk = app.desk
            assert desk is not None
            await until(pilot, lambda: f"pid {peer.pid}" in (desk.status_text() or ""))
            os.kill(peer.pid, signal.SIGSTOP)
            try:
                await until(pilot, lambda: "no sign of life since" in (desk.status_text() or ""))
                await until(pilot, lambda: desk.leading, timeout=30)
                assert any("gave no sign of life for 2 s" in line for line in said(app))
                assert lock.read_text().startswith(f"{os.getpid()}\n")
                app.poller.refresh()  # this one polls now, and is done
                await until(pilot, lambda: desk.fetcher.vendor_calls > 0 and app.poller.idle())
                asked = status_requests(sim)
            finally:
                os.kill(peer.pid, signal.SIGCONT)
            # Run again, its polls long due: it finds another leads, follows, and says so.
            await until(pilot, lambda: "did not run for" in told.read_text(), timeout=30)
            assert "another monitor leads the desk now: this one follows it" in told.read_text()
            assert status_requests(sim) == asked  # it asked no vendor anything
            assert desk.leading and lock.read_text().startswith(f"{os.getpid()}\n")


async def test_a_takeover_while_the_poller_is_busy_leads_and_polls_however_long_it_waits(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Fresh-eyes finding F0 (t7): the leader gone while the follower's poller was busy (3,000
    ids just added), the follower took the lock and waited for its poller; the next second's
    look at the lead cut that wait short, and the follower held the lock as a follower: it
    showed `◇ follows` itself, asked itself on R, and nobody polled. A busy poller is the corner
    here (its 'not idle' for longer than a look's second): the rest is real."""
    monkeypatch.setattr(desk_link, "SETTLE_LIMIT", 3.0)  # three looks come while it waits
    rid = sim.create_request("sms", ["+971500000009"], DELIVERS)
    async with leader_and_follower(sim, tmp_path / "d7tui.sqlite3", rid) as both:
        leading, _, follower, pilot = both
        desk = follower.desk
        assert desk is not None
        monkeypatch.setattr(follower.poller, "idle", lambda: False)
        await leading.aclose()
        await until(pilot, lambda: desk.leading, timeout=30)
        monkeypatch.undo()
        await until(pilot, lambda: "follows" not in screen_text(follower))
        sim.advance(5)
        follower.poller.refresh()
        await until(pilot, lambda: delivered(follower, rid), timeout=30)
        assert desk.fetcher.vendor_calls > 0
