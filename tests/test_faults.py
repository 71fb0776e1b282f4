"""Faults survived: a minute of 5xx, 429 bursts and malformed bodies against the real simulator
over loopback. The poller keeps going, every affected request says why, backoff keeps the request
rate down, and once the faults stop every request recovers with no transition lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from pollkit import settle

from d7tui.channels.status import StatusClient
from d7tui.client import Engine, RetryPolicy
from d7tui.clock import ManualClock
from d7tui.models import IdKind, Target, Transition
from d7tui.poller import Poller
from d7tui.pollstate import PollConfig
from d7tui.simulator import Faults, Simulator, Step

FAST = RetryPolicy(attempts=3, base=0.005, cap=0.02, max_retry_after=0.05)


@pytest.fixture
async def world() -> AsyncIterator[tuple[Simulator, Poller, ManualClock, list[Transition]]]:
    sim = Simulator(seed=21, speed=0)
    sim.start()
    settings = sim.settings()
    clock = ManualClock(sim.now())
    seen: list[Transition] = []
    client = StatusClient(settings, Engine(policy=FAST, timeout=2.0))
    poller = Poller(
        client,
        PollConfig(workers=8, error_backoff=2.0, error_backoff_max=8.0, not_found_grace=600),
        clock=clock,
        on_transition=seen.extend,
    )
    task = asyncio.create_task(poller.run())
    yield sim, poller, clock, seen
    task.cancel()
    await client.aclose()
    sim.stop()


async def step(sim: Simulator, poller: Poller, clock: ManualClock, seconds: int) -> None:
    """Move both clocks one second at a time, letting every poll due finish in between."""
    for _ in range(seconds):
        await settle(poller)
        clock.advance(1)
        sim.advance(1)


async def test_a_minute_of_faults_loses_no_transition(world) -> None:
    sim, poller, clock, seen = world
    # Statuses that change well apart, so a poller that survives sees every one of them.
    d7_script = [Step(0, "sent"), Step(45, "delivered"), Step(110, "read")]
    targets = [
        Target(sim.create_request("whatsapp", [f"+9190617{i:05d}"], d7_script), "whatsapp")
        for i in range(6)
    ]
    targets += [
        Target(
            sim.create_request("sms", [f"+97150{i:07d}"], [Step(0, "sent"), Step(70, "delivered")]),
            "sms",
        )
        for i in range(6)
    ]
    ib_script = [
        Step(0, "PENDING_ACCEPTED"),
        Step(20, "DELIVERED_TO_OPERATOR"),
        Step(40, "DELIVERED_TO_HANDSET"),
    ]
    bulk, _ = sim.create_infobip_bulk(["41790000001", "41790000002", "41790000003"], ib_script)
    targets.append(Target(bulk, "infobip", IdKind.BULK))
    for target in targets:
        poller.add(target)
    await step(sim, poller, clock, 3)  # everyone answered once, faults not yet on

    sim.set_faults(
        Faults(
            error_rate=0.3,
            burst_every=40,
            burst_len=8,
            retry_after=0.05,
            malformed_rate=0.1,
            seed=4,
        )
    )
    before = sim.request_count
    errors_seen: set[str] = set()
    for _ in range(60):
        await step(sim, poller, clock, 1)
        errors_seen |= {w.request_id for w in poller if w.error is not None}
    during = sim.request_count - before
    # Rows said why they were not fresh ...
    assert errors_seen
    for watch in poller:
        if watch.error is not None:
            assert watch.error.message
    # ... and backoff held the rate down: far fewer requests than 4 tries of every id every 2 s.
    assert during < len(targets) * 30 * FAST.attempts

    sim.set_faults(Faults())
    await step(sim, poller, clock, 150)
    assert all(w.error is None for w in poller)
    assert all(w.state is not None and w.state.final for w in poller)

    # Every change the simulator logged was seen, recipient by recipient.
    ids = {t.request_id for t in targets}
    truth = sorted(
        (c.msg_id, c.new) for c in sim.changes if c.request_id in ids and c.old is not None
    )
    # A request's first status is no change (Infobip reports nothing while pending, so its first
    # report is a change: PENDING_ACCEPTED -> DELIVERED_TO_OPERATOR).
    first = {"sent", "PENDING_ACCEPTED"}
    observed = sorted(
        (t.recipient_key, t.new_status)
        for t in seen
        if t.old_status is not None or t.new_status not in first
    )
    assert len(truth) == 6 * 2 + 6 + 3 * 2
    assert observed == truth
