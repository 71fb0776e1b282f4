"""The poller against the simulator over loopback HTTP, with time moved by hand: who is polled
when, what it reports, and how it behaves when the API refuses, limits or does not know."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pollkit import running_poller, settle
from ui_kit import sim_settings, start_simulator

from d7tui.channels.status import StatusClient
from d7tui.client import RetryPolicy
from d7tui.clock import ManualClock
from d7tui.errors import AuthError, RateLimited
from d7tui.models import IdKind, InfobipSource, Phase, Target, Transition
from d7tui.pollstate import PollConfig, PollUpdate, WatchStatus
from d7tui.simulator import Faults, Simulator, Step


@pytest.fixture
async def world() -> AsyncIterator[tuple[Simulator, ManualClock, StatusClient]]:
    clock = ManualClock()
    sim = start_simulator(clock)
    client = StatusClient(sim_settings(sim))
    try:
        yield sim, clock, client
    finally:
        await client.aclose()
        sim.stop()


def polls_of(updates: list[PollUpdate], rid: str) -> list[PollUpdate]:
    return [u for u in updates if u.request_id == rid]


async def test_first_poll_at_once_then_every_two_seconds_then_slower(world):
    sim, clock, client = world
    rid = sim.create_request("sms", ["+971500000001"], [Step(0, "sent")])
    async with running_poller(client, clock=clock) as (poller, _, updates):
        poller.add(Target(rid, "sms"), added_at=clock.now())
        await settle(poller)
        assert len(updates) == 1 and updates[0].first
        times = []
        for _ in range(60):
            clock.advance(1)
            await settle(poller)
            times.append(len(updates))
        # 2 s apart for the first half minute ...
        assert times[:28] == [1 + (i + 1) // 2 for i in range(28)]
        # ... then ×1.5 each time: 3, 4.5, 6.75 ... seconds, up to a minute
        intervals = [u.next_due - u.at for u in updates if u.next_due is not None]
        assert intervals[:15] == [2.0] * 15
        assert intervals[15:18] == [3.0, 4.5, 6.75]


async def test_final_requests_are_confirmed_once_and_then_left_alone(world):
    sim, clock, client = world
    rid = sim.create_request("viber", ["+380500000001"], [Step(0, "sent"), Step(3, "delivered")])
    async with running_poller(client, clock=clock) as (poller, _, updates):
        poller.add(Target(rid), added_at=clock.now())
        assert poller.backlog() == (0, 1)  # due at once: to poll, not handed over yet
        await settle(poller)
        assert poller.backlog() == (0, 1)  # sent, not delivered: polled again later
        for _ in range(3):
            clock.advance(2)
            await settle(poller)
        statuses = [u.status for u in updates]
        assert statuses[-1] is WatchStatus.DONE
        assert poller.backlog() == (0, 0)  # nothing queued, nothing left to poll
        assert statuses.count(WatchStatus.DONE) == 1
        assert updates[-1].channel == "viber"  # `auto` remembered where it was found
        requests = sim.request_count
        clock.advance(7200)
        await settle(poller)
        assert sim.request_count == requests


async def test_auto_asks_every_d7_channel_once_then_only_the_one_that_knew(world):
    sim, clock, client = world
    rid = sim.create_request("whatsapp", ["+919000000001"], [Step(0, "sent")])
    async with running_poller(client, clock=clock) as (poller, _, _updates):
        poller.add(Target(rid))
        await settle(poller)
        first = dict(sim.counts)
        assert first.get("sms") == 1 and first.get("viber") == 1 and first.get("whatsapp") == 1
        clock.advance(2)
        await settle(poller)
        after = dict(sim.counts)
        assert after.get("sms") == 1 and after.get("viber") == 1 and after["whatsapp"] == 2


async def test_infobip_reports_are_drained_and_merged_report_by_report(world):
    sim, clock, _ = world
    client = StatusClient(sim_settings(sim, infobip_source=InfobipSource.REPORTS))
    bulk, ids = sim.create_infobip_bulk(
        ["41793026727", "41793026834"],
        [
            [
                Step(0, "PENDING_ACCEPTED"),
                Step(2, "DELIVERED_TO_OPERATOR"),
                Step(3, "DELIVERED_TO_HANDSET"),
            ],
            [Step(0, "PENDING_ACCEPTED"), Step(5, "UNDELIVERABLE_NOT_DELIVERED")],
        ],
    )
    seen: list[Transition] = []
    async with running_poller(client, clock=clock) as (poller, _, updates):
        poller.hooks.on_transition.append(seen.extend)
        poller.add(Target(bulk, "infobip", IdKind.BULK), added_at=clock.now())
        await settle(poller)
        assert updates[-1].state is not None and updates[-1].state.recipients == ()
        clock.advance(4)  # both DELIVERED reports of the first message wait in one drain
        await settle(poller)
        assert [(t.old_status, t.new_status) for t in updates[-1].transitions] == [
            (None, "DELIVERED_TO_OPERATOR"),
            ("DELIVERED_TO_OPERATOR", "DELIVERED_TO_HANDSET"),
        ]
        clock.advance(2)
        await settle(poller)
        state = updates[-1].state
        assert state is not None
        assert {r.recipient: r.phase for r in state.recipients} == {
            "41793026727": Phase.DELIVERED,
            "41793026834": Phase.FAILED,
        }
        assert state.recipients[1].fields["status"]["action"]
        for _ in range(3):
            clock.advance(2)
            await settle(poller)
        assert updates[-1].status is WatchStatus.DONE
        assert [t.new_status for t in seen] == [
            "DELIVERED_TO_OPERATOR",
            "DELIVERED_TO_HANDSET",
            "UNDELIVERABLE_NOT_DELIVERED",
        ]
        # a single message of the bulk, watched by its messageId
        assert poller.add(Target(ids[0], "infobip", IdKind.MESSAGE)) is not None


async def test_a_refused_token_holds_every_id_of_that_credential_until_resumed(world):
    sim, clock, _ = world
    bad = StatusClient(sim_settings(sim, token="wrong"))
    a = sim.create_request("sms", ["+971500000001"])
    b = sim.create_request("sms", ["+971500000002"])
    bulk, _ = sim.create_infobip_bulk(["41793026727"], [Step(0, "DELIVERED_TO_HANDSET")])
    try:
        async with running_poller(bad, PollConfig(workers=1), clock=clock) as (
            poller,
            _,
            updates,
        ):
            poller.add(Target(a, "sms"))
            await settle(poller)
            assert isinstance(updates[-1].error, AuthError)
            assert set(poller.auth_stops) == {"D7_API_TOKEN"}
            assert poller.auth_stops["D7_API_TOKEN"].setting == "D7_API_TOKEN"
            asked = sim.counts.get("sms", 0)
            poller.add(Target(b, "sms"))  # same credential: held without asking
            poller.add(Target(bulk, "infobip", IdKind.BULK))  # another credential: polled
            await settle(poller)
            latest = {u.request_id: u for u in updates}
            assert latest[b].status is WatchStatus.AUTH
            assert sim.counts.get("sms", 0) == asked
            assert latest[bulk].state is not None and latest[bulk].state.recipients
            clock.advance(120)
            await settle(poller)
            assert poller.refresh(a) == 0
            bad.settings = sim_settings(sim)  # the user fixed the token
            assert poller.resume_auth() == ["D7_API_TOKEN"]
            await settle(poller)
            latest = {u.request_id: u for u in updates}
            assert latest[a].state is not None and latest[b].state is not None
            assert latest[a].status is WatchStatus.ACTIVE
    finally:
        await bad.aclose()


async def test_a_rate_limited_channel_waits_and_then_recovers(world):
    sim, clock, client = world
    client.engine.policy = RetryPolicy(attempts=1)  # the engine's retries are test_client's
    rid = sim.create_request("sms", ["+971500000001"])
    async with running_poller(client, clock=clock) as (poller, _, updates):
        sim.set_faults(Faults(rate_limit=1.0, retry_after=0.01))
        poller.add(Target(rid, "sms"))
        await settle(poller)
        assert isinstance(updates[-1].error, RateLimited)
        sim.set_faults(Faults())
        clock.advance(5)
        await settle(poller)
        assert updates[-1].error is None
        assert updates[-1].state is not None


async def test_an_old_request_is_polled_once_then_marked_stale(world):
    sim, clock, client = world
    rid = sim.create_request("sms", ["+971500000001"], [Step(0, "sent")])
    async with running_poller(client, clock=clock) as (poller, _, updates):
        poller.add(Target(rid, "sms"), added_at=clock.now() - 73 * 3600)
        await settle(poller)
        assert updates[-1].status is WatchStatus.STALE
        assert updates[-1].state is not None  # still shown with what it said
        assert poller.given_up() == 1 and poller.backlog() == (0, 0)
        requests = sim.request_count
        clock.advance(3600)
        await settle(poller)
        assert sim.request_count == requests


async def test_pause_holds_everything_and_resume_catches_up(world):
    sim, clock, client = world
    ids = [sim.create_request("sms", [f"+97150000000{i}"]) for i in range(5)]
    async with running_poller(client, clock=clock) as (poller, _, _updates):
        for rid in ids:
            poller.add(Target(rid, "sms"))
        await settle(poller)
        poller.pause()
        requests = sim.request_count
        clock.advance(30)
        await settle(poller)
        assert sim.request_count == requests
        poller.resume()
        await settle(poller)
        assert sim.request_count == requests + 5


async def test_a_burst_of_bad_answers_holds_the_channel_once_not_once_each(world):
    """Fresh-eyes finding (t8 #3): 16 bad answers that came back together doubled the channel's
    hold 16 times, to its 5-minute ceiling: ids added then were shown 'polling now' and not
    asked for minutes. One burst is one failure: the channel waits `error_backoff`, then asks."""
    sim, clock, client = world
    ids = [sim.create_request("sms", [f"+9715000002{n:02d}"]) for n in range(8)]
    config = PollConfig(workers=8)
    async with running_poller(client, config, clock=clock) as (poller, _, updates):
        sim.set_faults(Faults(malformed_rate=1.0))
        for rid in ids:
            poller.add(Target(rid, "sms"), added_at=clock.now())
        await settle(poller)
        assert all(polls_of(updates, rid)[-1].error is not None for rid in ids)
        sim.set_faults(Faults())
        late = sim.create_request("sms", ["+971500000299"])
        poller.add(Target(late, "sms"), added_at=clock.now())
        clock.advance(config.error_backoff)
        await settle(poller)
        assert [u.error for u in polls_of(updates, late)] == [None]
