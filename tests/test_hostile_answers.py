"""Answers no real API gives, from hostile servers of our own (tests/hostile.py): a gzip bomb, a body
that never ends, a body of 2 GB. Each is one clear error, asked once, within a bounded memory, in
the engine, in `d7tui status` (a real process, its peak memory measured by the kernel) and in the
monitor's poller (polled again and again without growing).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import sys
import tracemalloc
import uuid
from pathlib import Path

import pytest
from hostile import (
    HostileServer,
    aimed_at,
    answering,
    endless_chunked,
    gzip_bomb,
    head,
    huge_plain,
    run_for_peak,
    self_signed,
)
from httpstub import HttpStub, Reply
from pollkit import running_poller, settle

from d7tui.channels.status import StatusClient
from d7tui.client import DEFAULT_MAX_ANSWER, Engine
from d7tui.errors import ChannelError, ProtocolError
from d7tui.models import Target
from d7tui.pollstate import PollConfig

FIXTURES = Path(__file__).parent / "fixtures"
SMS_OK = (FIXTURES / "d7_sms_status_000.json").read_bytes()
RID = "9d056a09-0fc4-4f68-9058-3846d58aa244"
TOO_LARGE = "sms: the answer is larger than 8 MB (setting max_answer_mb); not retried"
BOMBS = [gzip_bomb, endless_chunked, huge_plain]


async def ordinary(_head: bytes, _r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(head(content_type="application/json", content_length=str(len(SMS_OK))) + SMS_OK)
    await writer.drain()


@pytest.mark.parametrize("bomb", BOMBS, ids=lambda b: b.__name__)
async def test_an_answer_over_the_bound_is_one_error_asked_once(bomb) -> None:
    async with HostileServer(bomb) as server, StatusClient(aimed_at(server.base_url)) as client:
        with pytest.raises(ProtocolError) as info:
            await client.fetch(Target(RID, "sms"))
        assert str(info.value) == TOO_LARGE
        assert server.requests == 1  # not retried
        assert client.engine.stats["too_large"] == 1


async def test_the_bound_is_a_setting_counted_after_decompression() -> None:
    # The bomb is about 1 MB on the wire: a bound counted before decompression would pass it.
    async with HostileServer(gzip_bomb) as server:
        engine = Engine(max_answer=2 * 1024 * 1024)
        async with StatusClient(aimed_at(server.base_url), engine) as client:
            with pytest.raises(ProtocolError, match="larger than 2 MB"):
                await client.fetch(Target(RID, "sms"))
    async with HostileServer(ordinary) as server:
        engine = Engine(max_answer=len(SMS_OK))  # exactly the body's size is within the bound
        async with StatusClient(aimed_at(server.base_url), engine) as client:
            assert len((await client.fetch(Target(RID, "sms"))).recipients) == 2
        engine = Engine(max_answer=len(SMS_OK) - 1)  # one byte over, arrived in one piece
        async with StatusClient(aimed_at(server.base_url), engine) as client:
            with pytest.raises(ProtocolError, match="larger than"):
                await client.fetch(Target(RID, "sms"))
        assert server.requests == 2  # the first answer, then this one: not retried


def _status_process(base_url: str, tmp_path: Path) -> tuple[int, str, int]:
    """`d7tui status` of one id as a real process: exit code, stderr, peak RSS in bytes (its own,
    not this test process's: run_for_peak says why that needs care)."""
    env = {
        **os.environ,
        "D7_API_TOKEN": "tok",
        "D7_BASE_URL": base_url,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    argv = [sys.executable, "-m", "d7tui", "status", "--channel", "sms", RID]
    return run_for_peak(argv, env)


def test_a_commands_peak_memory_is_its_own_not_its_starters() -> None:
    """A process started from a big one was charged the big one's size (the bomb test, run in a
    pytest worker of a few hundred MB, compared two numbers that were both the worker's)."""
    held = bytearray(256 * 1024 * 1024)
    held[::4096] = b"\x01" * len(range(0, len(held), 4096))  # resident, page by page
    code, _, peak = run_for_peak([sys.executable, "-S", "-c", "pass"], dict(os.environ))
    del held
    assert code == 0
    assert peak < 128 * 1024 * 1024, peak  # a bare interpreter: far below what this one holds


@pytest.mark.long
def test_status_fed_a_bomb_exits_5_with_one_line_and_stays_small(tmp_path: Path) -> None:
    # Issue #11: a 2 MB gzip answer inflating to 2 GB took `d7tui status` to 4.3 GB.
    with HostileServer(ordinary) as server:
        code, err, baseline = _status_process(server.base_url, tmp_path)
    assert code == 0, err
    for bomb in BOMBS:
        with HostileServer(bomb) as server:
            code, err, peak = _status_process(server.base_url, tmp_path)
        assert code == 5, err
        (line,) = err.splitlines()
        assert line.endswith(TOO_LARGE), line
        # What is held at most is the bound itself, once: far from the gigabyte sent.
        assert peak - baseline < 3 * DEFAULT_MAX_ANSWER, (bomb.__name__, peak, baseline)


async def test_the_monitor_polls_a_bomb_again_and_again_without_growing() -> None:
    async with HostileServer(gzip_bomb) as server:
        client = StatusClient(aimed_at(server.base_url))
        config = PollConfig(workers=2, error_backoff=1.0, error_backoff_max=1.0)
        tracemalloc.start()
        try:
            async with running_poller(client, config) as (poller, clock, updates):
                watch = poller.add(Target(RID, "sms"))
                assert watch is not None
                await settle(poller)
                after_first = tracemalloc.get_traced_memory()[0]
                tracemalloc.reset_peak()
                for _ in range(5):
                    clock.advance(2)
                    await settle(poller)
                current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            await client.aclose()
        assert str(watch.error) == TOO_LARGE
        assert len(updates) == 6 and server.requests == 6  # one request a poll
        assert peak < 3 * DEFAULT_MAX_ANSWER  # one answer's worth, never more
        assert current - after_first < 1024 * 1024  # nothing piles up from poll to poll


@pytest.mark.parametrize(
    ("target", "path"),
    [
        (Target(RID, "sms"), f"/report/v1/message-log/{RID}"),
        (Target("BULK-1", "infobip"), "/sms/3/logs"),
    ],
)
async def test_an_error_body_that_is_not_text_is_said_to_be_so(target: Target, path: str) -> None:
    # Found by tests/test_http_fuzz.py: a body compressed twice ("Content-Encoding: gzip, gzip")
    # came out of one layer as binary, and the error line showed it as a line of noise.
    body = gzip.compress(gzip.compress(SMS_OK))
    async with HttpStub() as stub:
        stub.script(path, Reply(400, body))
        async with StatusClient(aimed_at(stub.base_url)) as client:
            with pytest.raises(ChannelError) as info:
                await client.fetch(target)
    assert str(info.value).endswith(f"a body that is not text ({len(body):,} bytes)")


async def test_an_answer_that_swaps_a_requests_messages_is_not_believed_and_nothing_grows():
    """Fresh-eyes finding H9: a server giving new message ids on every poll added every one of
    them for good (+200 recipients a poll on D7, +51,000 on Infobip's endless cursor), and kept
    the earlier ones as pending and costed. A request's messages are fixed when it is sent."""
    polls = 0

    def rotating(method: str, target: str, credential: str) -> bytes | None:
        nonlocal polls
        polls += 1
        messages = [
            {"msg_id": f"p{polls}-{n}", "recipient": f"+9715000{n:05d}", "status": "sent"}
            for n in range(200)
        ]
        return json.dumps({"request_id": RID, "messages": messages}).encode()

    async with HostileServer(answering(rotating)) as server:
        client = StatusClient(aimed_at(server.base_url))
        config = PollConfig(workers=2, error_backoff=1.0, error_backoff_max=1.0)
        try:
            async with running_poller(client, config) as (poller, clock, updates):
                watch = poller.add(Target(RID, "sms"))
                assert watch is not None
                await settle(poller)
                for _ in range(4):
                    clock.advance(3)
                    await settle(poller)
        finally:
            await client.aclose()
    assert polls >= 3
    assert watch.state is not None and len(watch.state.recipients) == 200  # the first answer
    assert {r.msg_id for r in watch.state.recipients} == {f"p1-{n}" for n in range(200)}
    assert isinstance(watch.error, ProtocolError)
    assert "swaps this request's messages for others (200 never seen, 200 listed before gone)" in (
        str(watch.error)
    )
    assert sum(len(u.transitions) for u in updates) == 200  # the first sight, nothing more


def test_a_request_keeps_at_most_so_many_recipients_listed_or_not() -> None:
    from d7tui.models import Channel, Phase, Recipient, RequestStatus, observe

    def answer(first: int, count: int) -> RequestStatus:
        recipients = tuple(
            Recipient(f"m{n}", None, "sent", Phase.PENDING, final=False)
            for n in range(first, first + count)
        )
        return RequestStatus(RID, Channel.SMS, recipients)

    state, _ = observe(None, answer(0, 80), 1.0, keep=100)
    state, _ = observe(state, answer(80, 50), 2.0, keep=100)
    kept = [r.msg_id for r in state.recipients]
    assert len(kept) == 100
    assert kept[:50] == [f"m{n}" for n in range(80, 130)]  # every one listed now
    assert kept[50:] == [f"m{n}" for n in range(30, 80)]  # the newest no longer listed


async def test_ids_queued_together_wait_for_their_channel_rather_than_each_ask_a_broken_host():
    # A host that answers every request with a page over the bound (a captive portal, a proxy
    # gone wrong): once it has failed, the ids queued with the first (a start, `R`) wait for
    # the channel's back-off instead of each downloading the bound (J10: 45 × 8 MB a second).
    async with HostileServer(huge_plain) as server:
        client = StatusClient(aimed_at(server.base_url, max_answer_mb=0.01))
        config = PollConfig(workers=2, error_backoff=60.0, error_backoff_max=60.0)
        ids = [str(uuid.UUID(int=i, version=4)) for i in range(1, 41)]
        try:
            async with running_poller(client, config) as (poller, clock, updates):
                for rid in ids:
                    poller.add(Target(rid, "sms"))
                await settle(poller)
                first_round = server.requests
                assert first_round <= 4  # the workers' first jobs, not all 40
                waiting = [poller.get(rid) for rid in ids]
                assert all(w is not None and w.next_due is not None for w in waiting)
                # `r` on one id asks it now, whatever the channel's back-off
                assert poller.refresh(ids[-1]) == 1
                await settle(poller)
                assert server.requests == first_round + 1
                # after the back-off, the channel is tried again, not every id of it at once
                clock.advance(61)
                await settle(poller)
                assert server.requests <= first_round + 1 + 4
        finally:
            await client.aclose()
        assert updates and all("larger than" in str(u.error) for u in updates if u.error)


# ---------------------------------------------------------------------------------------------
# TLS that cannot work: said as such, and not asked again (K4)


async def test_an_untrusted_certificate_is_said_and_not_retried() -> None:
    # A TLS-inspecting proxy's certificate read "cannot connect (operation not permitted)":
    # the SSL error's errno, 1, taken for EPERM; and it was tried four times.
    async with HostileServer(ordinary, tls=self_signed()) as server:
        engine = Engine()
        async with StatusClient(aimed_at(server.base_url), engine) as client:
            with pytest.raises(ChannelError) as info:
                await client.fetch(Target(RID, "sms"))
    port = server.base_url.rsplit(":", 1)[1]
    assert str(info.value) == (
        f"sms: the TLS certificate of 127.0.0.1:{port} is not trusted (self-signed "
        "certificate); behind a TLS-inspecting proxy, SSL_CERT_FILE names the certificates to "
        "trust; not retried"
    )
    assert engine.stats["errors"] == 1 and engine.stats["retries"] == 0


async def test_a_plain_http_port_behind_an_https_url_is_said_and_not_retried() -> None:
    async def plain_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # As an HTTP server answers a TLS hello it cannot read: at once, in plain text.
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(plain_http, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    engine = Engine()
    try:
        async with StatusClient(aimed_at(f"https://127.0.0.1:{port}"), engine) as client:
            with pytest.raises(ChannelError) as info:
                await client.fetch(Target(RID, "sms"))
    finally:
        server.close()
        await server.wait_closed()
    assert str(info.value).startswith(f"sms: TLS with 127.0.0.1:{port} failed (")
    assert str(info.value).endswith("): is it an https server?; not retried")
    assert engine.stats["errors"] == 1 and engine.stats["retries"] == 0
