"""Polls asked and parsed in a thread of their own (d7tui/fetch_thread.py), so that keys do not
wait behind a few hundred answers a second: the same answers and errors as on the screen's loop,
a cancelled poll cancelled in the thread, and the thread gone when the monitor ends."""

from __future__ import annotations

import asyncio
import threading

import pytest
from httpstub import HttpStub, Reply
from pollkit import until
from ui_kit import sim_settings

from d7tui.channels.status import StatusClient
from d7tui.config import Settings
from d7tui.errors import AuthError
from d7tui.fetch_thread import FetchThread
from d7tui.models import Phase, Target
from d7tui.safety import Secret
from d7tui.simulator import Simulator


def create(sim: Simulator, channel: str, recipient: str) -> str:
    return sim.create_request(channel, [recipient])


def threads() -> set[str]:
    return {t.name for t in threading.enumerate()}


async def test_a_poll_in_its_own_thread_answers_as_on_the_loop(sim: Simulator) -> None:
    rid = create(sim, "sms", "+971501234567")
    fetcher = FetchThread(lambda: StatusClient(sim_settings(sim)))
    try:
        assert "d7tui-fetch" in threads()
        status = await fetcher.fetch(Target(rid, "sms"))
        assert status.request_id == rid
        assert [r.phase for r in status.recipients] != []
        assert all(isinstance(r.phase, Phase) for r in status.recipients)
        answers = await fetcher.fetch_many([Target(rid, "sms")])
        assert answers[rid] == status
    finally:
        await fetcher.aclose()
    assert "d7tui-fetch" not in threads()


async def test_a_refusal_in_the_thread_reaches_the_poller_as_the_same_error(
    sim: Simulator,
) -> None:
    rid = create(sim, "sms", "+971501234567")
    fetcher = FetchThread(lambda: StatusClient(sim_settings(sim, token="wrong-token")))
    try:
        with pytest.raises(AuthError) as raised:
            await fetcher.fetch(Target(rid, "sms"))
        assert "wrong-token" not in str(raised.value)
    finally:
        await fetcher.aclose()


async def test_a_cancelled_poll_is_cancelled_in_the_thread_too() -> None:
    async with HttpStub() as stub:
        stub.default = Reply(hang=True)  # the vendor never answers
        settings = Settings(d7_token=Secret("t"), d7_base_url=stub.base_url, timeout=600)
        fetcher = FetchThread(lambda: StatusClient(settings))
        try:
            rid = "a" * 8 + "-1234-4234-8234-" + "b" * 12
            poll = asyncio.create_task(fetcher.fetch(Target(rid, "sms")))
            await stub.wait_requests(1)
            assert fetcher.engine.in_flight == 1
            poll.cancel()
            with pytest.raises(asyncio.CancelledError):
                await poll
            # The request in the thread ends with it (not only when the client closes).
            await until(None, lambda: fetcher.engine.in_flight == 0)  # another thread's count
        finally:
            await fetcher.aclose()
        assert "d7tui-fetch" not in threads()
