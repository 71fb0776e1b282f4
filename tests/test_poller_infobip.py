"""The poller asks due Infobip ids together (one call a poll round where they fit), and leaves
ids older than Infobip's 48 hours with their last state, from memory, never asked in vain.

The simulator counts the calls; its time and the poller's move with one manual clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pollkit import running_poller, settle
from ui_kit import sim_settings, start_simulator

from d7tui.channels.status import StatusClient
from d7tui.clock import ManualClock
from d7tui.models import IdKind, Target
from d7tui.pollstate import PollConfig, WatchStatus
from d7tui.simulator import Simulator, Step

LOGS = "/sms/3/logs"
SLOW = [Step(0, "PENDING_ACCEPTED"), Step(3600, "DELIVERED_TO_HANDSET")]


@pytest.fixture
async def world() -> AsyncIterator[tuple[Simulator, ManualClock, StatusClient]]:
    clock = ManualClock()
    sim = start_simulator(clock)
    client = StatusClient(sim_settings(sim), clock=clock)  # paced on the test's clock too
    try:
        yield sim, clock, client
    finally:
        await client.aclose()
        sim.stop()


def bulks(sim: Simulator, count: int, script: list[Step] = SLOW) -> list[Target]:
    return [
        Target(sim.create_infobip_bulk([f"4179{n:07d}"], script)[0], "infobip", IdKind.BULK)
        for n in range(count)
    ]


async def test_thirty_bulks_are_one_call_a_round_where_thirty_were_asked_one_by_one(world):
    sim, clock, client = world
    targets = bulks(sim, 30)
    async with running_poller(client, PollConfig(workers=8), clock=clock) as (poller, _, updates):
        for target in targets:
            poller.add(target, added_at=clock.now())
        await settle(poller)
        assert sim.infobip_calls == {LOGS: 1}
        assert {u.request_id for u in updates} == {t.request_id for t in targets}
        assert all(len(u.state.recipients) == 1 for u in updates if u.state)
        for round_ in range(2, 12):  # 10 more rounds of the 2-second schedule
            clock.advance(2)
            await settle(poller)
            assert sim.infobip_calls == {LOGS: round_}
        assert all(poller.get(t.request_id).polls == 11 for t in targets)


async def test_ids_added_at_different_times_fall_into_the_same_rounds(world):
    sim, clock, client = world
    targets = bulks(sim, 12)
    async with running_poller(client, PollConfig(workers=8), clock=clock) as (poller, _, _u):
        for target in targets:  # one every 0.4 s: each has its own due time
            poller.add(target, added_at=clock.now())
            await settle(poller)
            clock.advance(0.4)
        first = sim.infobip_calls[LOGS]
        for _ in range(20):
            clock.advance(1)
            await settle(poller)
        # 20 s of polling every 2 s: about ten rounds, each one call (not 12 x 10 calls).
        assert sim.infobip_calls[LOGS] - first <= 12
        assert all(poller.get(t.request_id).polls >= 9 for t in targets)


async def test_a_rate_limited_round_holds_infobip_and_then_goes_on(world):
    sim, clock, client = world
    targets = bulks(sim, 5)
    async with running_poller(client, PollConfig(workers=4), clock=clock) as (poller, _, updates):
        sim.api.infobip.throttle.per_minute = 0  # every logs call is refused with E429
        for target in targets:
            poller.add(target, added_at=clock.now())
        await settle(poller)
        assert all(u.error is not None and "E429" in str(u.error) for u in updates)
        refused = sim.infobip_throttled
        clock.advance(1)
        await settle(poller)
        assert sim.infobip_throttled == refused  # held: not asked again at once
        sim.api.infobip.throttle.per_minute = 120
        clock.advance(60)
        await settle(poller)
        assert all(poller.get(t.request_id).error is None for t in targets)


async def test_past_48_hours_the_last_state_stays_from_memory_and_is_not_asked_again(world):
    sim, clock, client = world
    (target,) = bulks(sim, 1, [Step(0, "PENDING_ACCEPTED"), Step(5, "DELIVERED_TO_OPERATOR")])
    async with running_poller(client, PollConfig(workers=2), clock=clock) as (poller, _, updates):
        poller.add(target, added_at=clock.now())
        await settle(poller)
        clock.advance(10)
        await settle(poller)
        watch = poller.get(target.request_id)
        assert watch.state.recipients[0].status == "DELIVERED_TO_OPERATOR"
        seen_at = watch.observed_at
        for _ in range(60):  # two days, polled on the slowing schedule
            clock.advance(3600)
            await settle(poller)
        assert watch.status is WatchStatus.MEMORY
        # Kept, not emptied by the logs' empty answer, and marked as remembered.
        assert watch.state.recipients[0].status == "DELIVERED_TO_OPERATOR"
        assert watch.state.remembered is not None and watch.state.remembered >= seen_at
        assert updates[-1].state is watch.state and updates[-1].error is None
        calls = sim.infobip_calls[LOGS]
        clock.advance(7 * 24 * 3600)
        await settle(poller)
        poller.refresh()  # even "poll everything now" does not ask in vain
        await settle(poller)
        assert sim.infobip_calls[LOGS] == calls
        # Restored from the store after a restart: shown from memory, never polled.
        restored = poller.remove(target.request_id)
        assert restored is not None
        poller.add(target, added_at=clock.now(), state=restored.state, observed_at=seen_at)
        await settle(poller)
        assert poller.get(target.request_id).status is WatchStatus.MEMORY
        assert sim.infobip_calls[LOGS] == calls


async def test_the_monitor_asks_its_infobip_ids_in_one_call(world):
    from ui_kit import idle

    from d7tui.ui.app import make_app

    sim, clock, _ = world
    targets = bulks(sim, 20)
    app = make_app(sim_settings(sim), ids=targets, clock=clock, poll_config=PollConfig(workers=4))
    async with app.run_test(size=(100, 30)) as pilot:
        await idle(pilot, app)
        assert all(app.live.get(t.request_id).state is not None for t in targets)
        assert sim.infobip_calls == {LOGS: 1}  # through the report guard and the store too
        clock.advance(2)
        await idle(pilot, app)
        assert sim.infobip_calls == {LOGS: 2}


def pending_log(bulk: str, sent_at: str) -> dict:
    status = {"groupId": 1, "groupName": "PENDING", "id": 7, "name": "PENDING_ENROUTE"}
    message = {"bulkId": bulk, "messageId": "m-1", "destination": "41790000001"}
    return {"results": [{**message, "sentAt": sent_at, "status": status}]}


async def test_what_the_logs_just_returned_is_polled_whatever_its_sent_at_says():
    # A sentAt of 1970 (or this machine's clock days ahead) puts the message past the logs'
    # 48 hours, yet the logs just returned it: it stays live until they stop answering for it.
    from httpstub import HttpStub, Reply

    from d7tui.config import Settings
    from d7tui.safety import Secret

    clock = ManualClock()
    async with HttpStub() as stub:
        stub.script(LOGS, Reply(200, pending_log("OLD", "1970-01-01T00:00:00.000+0000")))
        settings = Settings(infobip_key=Secret("k"), infobip_base_url=stub.base_url)
        client = StatusClient(settings, clock=clock)
        target = Target("OLD", "infobip", IdKind.BULK)
        try:
            async with running_poller(client, PollConfig(workers=2), clock=clock) as (
                poller,
                _,
                _u,
            ):
                poller.add(target, added_at=clock.now())
                await settle(poller)
                for _ in range(5):
                    clock.advance(60)
                    await settle(poller)
                watch = poller.get("OLD")
                assert watch.status is WatchStatus.ACTIVE and watch.state.remembered is None
                assert stub.count(LOGS) >= 5  # asked on its schedule, not frozen after one call
                stub.script(LOGS, Reply(200, {"results": []}))  # the logs forget it
                clock.advance(120)
                await settle(poller)
                assert watch.status is WatchStatus.MEMORY
                assert watch.state.recipients[0].status == "PENDING_ENROUTE"
        finally:
            await client.aclose()
