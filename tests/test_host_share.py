"""One stuck host must not starve the others (issue #11: with 40 D7 ids on a host that never
answered, an Infobip bulk was polled 0 times in 60 s). Two real loopback servers, one silent."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest
from hostile import aimed_at
from httpstub import HttpStub, Reply
from pollkit import running_poller, until

from d7tui.channels.status import StatusClient
from d7tui.client import Engine, RetryPolicy
from d7tui.models import IdKind, InfobipSource, Target
from d7tui.pollstate import PollConfig

LOGS = "/sms/3/logs"
PENDING_LOG = json.dumps(
    {
        "results": [
            {
                "bulkId": "BULK-1",
                "messageId": "m1",
                "to": "41793026727",
                "status": {"groupId": 1, "name": "PENDING_ENROUTE"},
            }
        ]
    }
).encode()


async def guard(awaitable: object, seconds: float = 20) -> None:
    """A bound on a wait that would otherwise hang the suite when starvation is back."""
    await asyncio.wait_for(awaitable, seconds)  # type: ignore[arg-type]


@pytest.fixture
async def servers() -> AsyncIterator[tuple[HttpStub, HttpStub]]:
    async with HttpStub() as silent, HttpStub() as infobip:
        silent.default = Reply(hang=True)
        infobip.script(LOGS, Reply(body=PENDING_LOG))
        yield silent, infobip


async def test_an_infobip_bulk_is_polled_on_schedule_while_d7_never_answers(servers) -> None:
    silent, infobip = servers
    # The D7 polls stay stuck for the whole test.
    settings = aimed_at(
        silent.base_url, infobip.base_url, infobip_source=InfobipSource.LOGS, timeout=120.0
    )
    client = StatusClient(settings)  # the monitor's own: 16 in flight
    config = PollConfig(workers=settings.max_in_flight)  # as the monitor builds it
    try:
        async with running_poller(client, config) as (poller, clock, updates):
            for _ in range(40):
                poller.add(Target(str(uuid.uuid4()), "sms"))
            poller.add(Target("BULK-1", "infobip", IdKind.BULK))

            def bulk_polls() -> int:
                return sum(1 for u in updates if u.request_id == "BULK-1")

            await until(None, lambda: bulk_polls() == 1)
            for polls in range(2, 7):  # every 2 s while young, as if nothing else were wrong
                clock.advance(2)
                await until(None, lambda: bulk_polls() == polls)  # noqa: B023
            assert infobip.count(LOGS) == 6
            # The dead host holds half the slots at most; the rest wait their turn.
            assert silent.max_in_flight == 8
            assert client.engine.in_flight == 8
    finally:
        await client.aclose()


async def test_a_host_that_answers_may_use_every_slot(servers) -> None:
    _, server = servers
    gate = asyncio.Event()
    server.script("/a", Reply(body=b"{}", gate=gate))
    url = f"{server.base_url}/a"
    async with Engine(max_in_flight=16, policy=RetryPolicy(attempts=1)) as engine:
        # Before its first answer a host may be a dead one: half the slots.
        first = [asyncio.ensure_future(engine.get("sms", url, headers={})) for _ in range(32)]
        await guard(server.wait_for(lambda s: s.in_flight == 8))
        assert server.in_flight == 8
        gate.set()
        await guard(asyncio.gather(*first))
        # Now it answers, and it is the only host asked: `d7tui status` keeps its full speed.
        gate.clear()
        again = [asyncio.ensure_future(engine.get("sms", url, headers={})) for _ in range(32)]
        await guard(server.wait_for(lambda s: s.in_flight == 16))
        assert server.max_in_flight == 16
        gate.set()
        await guard(asyncio.gather(*again))
    assert server.count("/a") == 64


async def test_with_two_hosts_a_slow_one_leaves_room_for_the_other(servers) -> None:
    silent, server = servers
    gate = asyncio.Event()
    server.script("/slow", Reply(body=b"{}"), Reply(body=b"{}", gate=gate))
    server.script("/fast", Reply(body=b"{}"))
    other = f"http://localhost:{server.base_url.rsplit(':', 1)[1]}"  # same server, another host
    async with Engine(max_in_flight=16, policy=RetryPolicy(attempts=1)) as engine:
        await engine.get("sms", f"{server.base_url}/slow", headers={})  # it answers: proven
        await engine.get("infobip", f"{other}/fast", headers={})
        slow = [
            asyncio.ensure_future(engine.get("sms", f"{server.base_url}/slow", headers={}))
            for _ in range(32)
        ]
        await guard(server.wait_for(lambda s: s.in_flight == 12))
        # Three quarters to the slow host; the fourth quarter still serves the other at once.
        for _ in range(4):
            await guard(engine.get("infobip", f"{other}/fast", headers={}))
        assert server.in_flight == 12
        gate.set()
        await guard(asyncio.gather(*slow))
    assert silent.count() == 0
