"""The HTTP engine and StatusClient over real loopback HTTP.

The exact error corners (a 402, a 422 body, 503,503,200, a server that never answers, a refused
port, connection counting) run against tests/httpstub.py, a scripted real HTTP server; the happy
paths also run against the vendor simulator when it is present.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import importlib.util
import json
import logging
import math
import socket
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from httpstub import HttpStub, Reply, refused_url

from d7tui.channels import d7
from d7tui.channels.status import StatusClient
from d7tui.client import Engine, RetryPolicy, parse_retry_after
from d7tui.clock import ManualClock
from d7tui.config import Settings
from d7tui.errors import (
    ApiError,
    AuthError,
    ChannelError,
    ErrorKind,
    NotFound,
    ProtocolError,
    RateLimited,
    Unreachable,
)
from d7tui.models import Channel, IdKind, InfobipSource, InvalidId, Phase, Target, observe
from d7tui.safety import Secret

TOKEN = "d7-tok-SECRET-5f0c2b9e"
IB_KEY = "ib-key-SECRET-77aa1c"
RID = "9d056a09-0fc4-4f68-9058-3846d58aa244"
SMS_PATH = f"/report/v1/message-log/{RID}"
VIBER_PATH = f"/report/v1/viber-log/{RID}"
WA2_PATH = f"/whatsapp/v2/report/{RID}"
WA1_PATH = f"/whatsapp/v1/report/{RID}"
REPORTS = "/sms/3/reports"
LOGS = "/sms/3/logs"
REPORTS_V1 = "/sms/1/reports"
LOGS_V1 = "/sms/1/logs"
FAST = RetryPolicy(attempts=4, base=0.01, cap=0.05)
FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


SMS_OK = fixture("d7_sms_status_000.json")
# The page's sample answers another id than the one it asks (f44e3f43…); an answer about
# another request is refused, so the sample is told it is RID's.
WA_OK = fixture("d7_whatsapp_status_002.json").replace(
    b"f44e3f43-6d4e-4e46-becd-21993f3dcb8e", RID.encode()
)
VIBER_OK = fixture("d7_viber_status_004.json")
SMS_404 = fixture("d7_sms_not_found_000.json")
WA_404 = fixture("d7_whatsapp_not_found_002.json")
VIBER_404 = fixture("d7_viber_not_found_004.json")
IB_PAGE = fixture("infobip_reports_003.json")
IB_400 = fixture("infobip_bad_request_003.json")
EMPTY_PAGE = b'{"results": []}'


def ib_page(*message_ids: str, status: str = "DELIVERED_TO_HANDSET", bulk: str = "BULK-1") -> bytes:
    group = {"DELIVERED_TO_HANDSET": 3, "DELIVERED_TO_OPERATOR": 3, "PENDING_ENROUTE": 1}
    return json.dumps(
        {
            "results": [
                {
                    "bulkId": bulk,
                    "messageId": m,
                    "to": "41793026727",
                    "status": {"groupId": group[status], "name": status},
                }
                for m in message_ids
            ]
        }
    ).encode()


@pytest.fixture
async def stub() -> AsyncIterator[HttpStub]:
    async with HttpStub() as server:
        yield server


MakeClient = Callable[..., StatusClient]


@pytest.fixture
async def make(stub: HttpStub) -> AsyncIterator[MakeClient]:
    """StatusClients aimed at the stub, closed before the stub stops."""
    made: list[StatusClient] = []

    def build(
        *,
        token: str = TOKEN,
        key: str = IB_KEY,
        max_in_flight: int = 4,
        timeout: float = 5.0,
        policy: RetryPolicy = FAST,
        source: InfobipSource = InfobipSource.REPORTS,
        base_url: str | None = None,
        report_sink: object = None,
    ) -> StatusClient:
        settings = Settings(
            d7_token=Secret(token),
            d7_base_url=base_url or stub.base_url,
            infobip_key=Secret(key),
            infobip_base_url=base_url or stub.base_url,
            infobip_source=source,
            max_in_flight=max_in_flight,
            timeout=timeout,
        )
        engine = Engine(max_in_flight=max_in_flight, timeout=timeout, policy=policy)
        client = StatusClient(settings, engine, report_sink=report_sink)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield build
    for client in made:
        await client.aclose()


def assert_one_clean_line(error: BaseException) -> None:
    text = str(error)
    assert text and "\n" not in text and text.isprintable()


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert TOKEN not in text and IB_KEY not in text


def everything_about(error: BaseException) -> str:
    return "".join([str(error), repr(error), *traceback.format_exception(error)])


# ---------------------------------------------------------------------------------------------
# Happy paths


async def test_sms_status_over_http(stub: HttpStub, make: MakeClient) -> None:
    stub.script(SMS_PATH, Reply(body=SMS_OK))
    status = await make().fetch(Target(RID, "sms"))
    assert status == d7.parse_report(Channel.SMS, RID, SMS_OK)
    (seen,) = stub.requests
    assert seen.method == "GET" and seen.path == SMS_PATH and seen.query == {}
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["accept"] == "application/json"
    assert_no_secret(seen.target)


@pytest.mark.parametrize(
    ("channel", "path", "body"),
    [("viber", VIBER_PATH, VIBER_OK), ("whatsapp", WA2_PATH, WA_OK)],
)
async def test_each_d7_channel_asks_its_documented_path(
    stub: HttpStub, make: MakeClient, channel: str, path: str, body: bytes
) -> None:
    stub.script(path, Reply(body=body))
    status = await make().fetch(Target(RID, channel))
    assert status.channel.value == channel
    assert [r.path for r in stub.requests] == [path]


async def test_auto_asks_all_three_and_returns_the_one_that_has_it(
    stub: HttpStub, make: MakeClient
) -> None:
    stub.script(SMS_PATH, Reply(404, SMS_404))
    stub.script(WA2_PATH, Reply(404, WA_404))
    stub.script(VIBER_PATH, Reply(body=VIBER_OK))
    status = await make().fetch(Target(RID.upper()))
    assert status.channel is Channel.VIBER
    assert sorted(r.path for r in stub.requests) == sorted([SMS_PATH, WA2_PATH, VIBER_PATH])


async def test_auto_not_found_anywhere(stub: HttpStub, make: MakeClient) -> None:
    stub.script(SMS_PATH, Reply(404, SMS_404))
    stub.script(WA2_PATH, Reply(404, WA_404))
    stub.script(VIBER_PATH, Reply(404, VIBER_404))
    with pytest.raises(NotFound) as info:
        await make().fetch(Target(RID))
    assert str(info.value) == "auto: request id not found on sms, whatsapp or viber"


async def test_auto_shows_the_error_the_user_most_needs(stub: HttpStub, make: MakeClient) -> None:
    stub.script(SMS_PATH, Reply(404, SMS_404))
    stub.script(WA2_PATH, Reply(404, WA_404))
    stub.script(VIBER_PATH, Reply(401, b"{}"))
    with pytest.raises(AuthError) as info:
        await make().fetch(Target(RID))
    assert "D7_API_TOKEN" in str(info.value)


# ---------------------------------------------------------------------------------------------
# Errors: one line, typed, never retried where retrying cannot help


@pytest.mark.parametrize("status", [401, 403])
async def test_d7_auth_error_names_the_setting_never_the_token(
    stub: HttpStub, make: MakeClient, status: int
) -> None:
    # A server that echoes the credential back still cannot put it in our message.
    echo = {"detail": {"code": "ACCESS_TOKEN_SIGNATURE_VERIFICATION_FAILED", "message": TOKEN}}
    stub.script(SMS_PATH, Reply(status, echo))
    with pytest.raises(AuthError) as info:
        await make().fetch(Target(RID, "sms"))
    error = info.value
    assert error.kind is ErrorKind.AUTH and error.status == status
    # The vendor's code is named (support knows it); the echoed free text is not.
    assert str(error) == (
        f"sms: API credential refused (HTTP {status}: ACCESS_TOKEN_SIGNATURE_VERIFICATION_FAILED):"
        " check D7_API_TOKEN"
    )
    assert_no_secret(everything_about(error))
    assert stub.count() == 1


@pytest.mark.parametrize("status", [401, 403])
async def test_infobip_auth_error_names_the_setting(
    stub: HttpStub, make: MakeClient, status: int
) -> None:
    stub.script(REPORTS, Reply(status, {"requestError": {"serviceException": {"text": IB_KEY}}}))
    with pytest.raises(AuthError) as info:
        await make().fetch(Target("BULK-1", "infobip"))
    assert (
        str(info.value) == f"infobip: API credential refused (HTTP {status}): check INFOBIP_API_KEY"
    )
    assert_no_secret(everything_about(info.value))
    assert stub.count() == 1


@pytest.mark.parametrize(
    ("target", "setting"),
    [(Target(RID, "sms"), "D7_API_TOKEN"), (Target("B", "infobip"), "INFOBIP_API_KEY")],
)
async def test_missing_credential_is_an_auth_error_before_any_request(
    stub: HttpStub, make: MakeClient, target: Target, setting: str
) -> None:
    with pytest.raises(AuthError) as info:
        await make(token="", key="").fetch(target)
    assert setting in str(info.value) and "missing" in str(info.value)
    assert stub.count() == 0


async def test_documented_404_is_not_found(stub: HttpStub, make: MakeClient) -> None:
    stub.script(SMS_PATH, Reply(404, SMS_404))
    with pytest.raises(NotFound) as info:
        await make().fetch(Target(RID, "sms"))
    assert str(info.value) == (
        "sms: request id not found (MESSAGE_LOG_NOT_EXISTS: Given message request id not exists"
        " in the system. Please Try Again!)"
    )
    assert stub.count() == 1


async def test_whatsapp_v2_missing_falls_back_to_v1_and_v2_is_tried_again_later(
    stub: HttpStub, make: MakeClient
) -> None:
    # A 404 without the documented body: the v2 route itself does not exist on this server.
    missing = Reply(404, {"detail": "Not Found"})
    stub.script(WA2_PATH, missing, Reply(body=WA_OK), missing)
    stub.script(WA1_PATH, Reply(body=WA_OK), Reply(body=WA_OK))
    client = make()
    clock = ManualClock()
    client.routes.clock = clock.now
    first = await client.fetch(Target(RID, "whatsapp"))
    assert first.recipients[0].phase is Phase.READ
    assert [r.path for r in stub.requests] == [WA2_PATH, WA1_PATH]
    second = await client.fetch(Target(RID, "whatsapp"))
    assert second == first
    assert [r.path for r in stub.requests] == [WA2_PATH, WA1_PATH, WA1_PATH]  # for a while
    # Not for the whole process: the server may have gained v2 since, and v2 is the page's.
    clock.advance(client.routes.retry_after)
    third = await client.fetch(Target(RID, "whatsapp"))
    assert third.recipients == first.recipients
    assert [r.path for r in stub.requests][-1] == WA2_PATH
    await client.fetch(Target(RID, "whatsapp"))
    assert [r.path for r in stub.requests][-1] == WA1_PATH  # v2 gone again: v1, per answer


async def test_whatsapp_v2_documented_404_is_not_found_without_fallback(
    stub: HttpStub, make: MakeClient
) -> None:
    stub.script(WA2_PATH, Reply(404, WA_404))
    client = make()
    with pytest.raises(NotFound) as info:
        await client.fetch(Target(RID, "whatsapp"))
    assert "WHATSAPP_LOG_NOT_EXISTS" in str(info.value)
    assert [r.path for r in stub.requests] == [WA2_PATH]
    assert client.routes.use_older(stub.base_url, "whatsapp") is False


@pytest.mark.parametrize(
    ("status", "body", "says"),
    [
        (
            402,
            {"detail": {"code": "INSUFFICIENT_CREDIT", "message": "Top up your account"}},
            "sms: insufficient credit (HTTP 402): INSUFFICIENT_CREDIT: Top up your account",
        ),
        (400, {"detail": "Bad request id"}, "sms: HTTP 400: Bad request id"),
        (
            422,
            {
                "detail": [
                    {
                        "loc": ["path", "request_id"],
                        "msg": "value is not a valid uuid",
                        "type": "type_error.uuid",
                        "input": f"Bearer {TOKEN}",
                    }
                ]
            },
            "sms: the API rejected the request (HTTP 422): path.request_id: value is not a valid uuid",
        ),
        (418, b"I'm a teapot\x1b[2J", "sms: HTTP 418: I'm a teapot\u241b[2J"),
    ],
)
async def test_d7_api_errors_say_what_the_api_said(
    stub: HttpStub, make: MakeClient, status: int, body: object, says: str
) -> None:
    stub.script(SMS_PATH, Reply(status, body))
    with pytest.raises(ApiError) as info:
        await make().fetch(Target(RID, "sms"))
    assert str(info.value) == says
    assert info.value.status == status
    assert_one_clean_line(info.value)
    assert_no_secret(everything_about(info.value))
    assert stub.count() == 1


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (IB_400, "infobip: HTTP 400: BAD_REQUEST: Bad request"),
        (
            {"errorCode": "E400", "description": "Invalid limit", "violations": []},
            "infobip: HTTP 400: E400: Invalid limit",
        ),
    ],
)
async def test_infobip_api_errors_say_what_the_api_said(
    stub: HttpStub, make: MakeClient, body: object, says: str
) -> None:
    stub.script(REPORTS, Reply(400, body))
    with pytest.raises(ApiError) as info:
        await make().fetch(Target("BULK-1", "infobip"))
    assert str(info.value) == says
    assert stub.count() == 1


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 422])
async def test_client_errors_are_never_retried(
    stub: HttpStub, make: MakeClient, status: int
) -> None:
    stub.script(SMS_PATH, Reply(status, {"detail": "no"}))
    stub.script(REPORTS, Reply(status, {"errorCode": "E", "description": "no"}))
    client = make()
    with pytest.raises(ChannelError):
        await client.fetch(Target(RID, "sms"))
    with pytest.raises(ChannelError):
        await client.fetch(Target("BULK-1", "infobip"))
    assert stub.count(SMS_PATH) == 1
    assert stub.count(REPORTS) == 1


async def test_5xx_is_retried_then_succeeds(stub: HttpStub, make: MakeClient) -> None:
    stub.script(SMS_PATH, Reply(503, b"busy"), Reply(503, b"busy"), Reply(body=SMS_OK))
    status = await make().fetch(Target(RID, "sms"))
    assert len(status.recipients) == 2
    assert stub.count() == 3


async def test_5xx_forever_is_unreachable_after_bounded_tries(
    stub: HttpStub, make: MakeClient
) -> None:
    stub.script(SMS_PATH, Reply(500, b"<html>oops</html>"))
    client = make()
    with pytest.raises(Unreachable) as info:
        await client.fetch(Target(RID, "sms"))
    assert str(info.value) == "sms: server error (HTTP 500) after 4 tries"
    assert stub.count() == FAST.attempts
    assert client.engine.stats["retries"] == FAST.attempts - 1


def test_backoff_is_full_jitter_under_a_doubling_cap() -> None:
    engine_policy = RetryPolicy(base=0.5, cap=8.0)
    engine = Engine.__new__(Engine)  # no client needed to ask for a delay
    engine.policy = engine_policy
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        delays = [engine._backoff(attempt) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # jitter spreads over the whole range
        assert min(delays) < ceiling / 2


async def test_timeout_is_one_deadline_for_every_try(stub: HttpStub, make: MakeClient) -> None:
    # Issue #11: a per-try timeout let one id take 45 s over four tries. A server that never
    # answers now uses the whole deadline on its first try, and no try starts after it.
    stub.script(SMS_PATH, Reply(hang=True))
    with pytest.raises(Unreachable) as info:
        await make(timeout=0.3).fetch(Target(RID, "sms"))
    assert str(info.value) == "sms: gave up after 0.3 s (1 try): reached, but it answers too slowly"
    assert stub.count() == 1


async def test_a_host_that_never_takes_the_connection_is_not_called_slow(
    make: MakeClient,
) -> None:
    # A listening socket whose accept queue is full drops every new SYN: the connect hangs.
    # The host was never reached, so it must not read as one that "answers too slowly", though
    # the whole deadline (1 s, one try) is nearer than the connect's own limit (5 s).
    with contextlib.ExitStack() as held:
        listener = held.enter_context(socket.socket())
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        filler = held.enter_context(socket.socket())
        filler.connect(("127.0.0.1", port))  # the queue's one place, never accepted
        client = make(
            base_url=f"http://127.0.0.1:{port}", timeout=1.0, policy=RetryPolicy(attempts=1)
        )
        with pytest.raises(Unreachable) as info:
            await client.fetch(Target(RID, "sms"))
    said = str(info.value)
    assert "timed out" in said
    assert "slowly" not in said
    assert not info.value.slow


async def test_a_retry_gets_what_is_left_of_the_deadline(stub: HttpStub, make: MakeClient) -> None:
    stub.script(SMS_PATH, Reply(503, b"busy"), Reply(hang=True), Reply(body=SMS_OK))
    with pytest.raises(Unreachable) as info:
        await make(timeout=0.3).fetch(Target(RID, "sms"))
    assert (
        str(info.value) == "sms: gave up after 0.3 s (2 tries): reached, but it answers too slowly"
    )
    assert stub.count() == 2  # the answer a third try would have got is never asked for


async def test_a_dropped_connection_is_retried(stub: HttpStub, make: MakeClient) -> None:
    stub.script(SMS_PATH, Reply(close=True), Reply(body=SMS_OK))
    status = await make().fetch(Target(RID, "sms"))
    assert len(status.recipients) == 2
    assert stub.count() == 2


async def test_a_connection_closed_unanswered_is_one_request_a_try(
    stub: HttpStub, make: MakeClient
) -> None:
    # Fresh-eyes finding (t8 #4): aiohttp sends a GET again by itself once when the connection
    # is closed without an answer, so "unreachable after 4 tries" was 8 requests to a server
    # already failing. Each try the server sees is a try counted.
    stub.script(SMS_PATH, Reply(close=True))
    client = make()
    with pytest.raises(Unreachable) as info:
        await client.fetch(Target(RID, "sms"))
    assert str(info.value).endswith(
        f"after {stub.count()} tries: the server closed the connection or broke the protocol"
    )
    assert stub.count() == FAST.attempts


async def test_a_host_that_refuses_everything_is_asked_less_and_less(
    stub: HttpStub, make: MakeClient
) -> None:
    # Fresh-eyes finding (t8 #2): a 429 without Retry-After held the host only as long as one
    # request's own backoff, so every queued request made its 4 tries, 16 at a time: 200 ids,
    # ~650 requests in 93 s to a host that refused every one. Now a host that goes on refusing
    # is waited for longer each time, and asked one request at a time until it takes one.
    stub.script(SMS_PATH, Reply(429, b'{"detail": "slow down"}'))
    client = make(max_in_flight=16, timeout=0.5)
    asked = 48
    outcomes = await asyncio.gather(
        *(client.fetch(Target(RID, "sms")) for _ in range(asked)), return_exceptions=True
    )
    assert all(isinstance(o, RateLimited) for o in outcomes)
    # The first burst (16 in flight before any answer), then one at a time with growing waits:
    # fewer requests than ids, where each id used to make its 4 tries.
    assert stub.count() < asked
    assert client.engine.stats["429"] == stub.count()


@pytest.mark.parametrize("target", [Target(RID, "sms"), Target("BULK-1", "infobip")])
async def test_a_refused_connection_is_retried_then_unreachable(
    make: MakeClient, target: Target
) -> None:
    url = refused_url()
    client = make(base_url=url)
    with pytest.raises(Unreachable) as info:
        await client.fetch(target)
    port = url.rsplit(":", 1)[1]
    assert str(info.value) == (
        f"{target.channel}: unreachable after 4 tries: cannot connect to 127.0.0.1:{port} "
        "(connection refused)"
    )
    # Never connected, so retrying is safe even for Infobip's one-time reports.
    assert client.engine.stats["requests"] == FAST.attempts


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"<html><body>Gateway</body></html>", "sms: response is not JSON: <html><body>Gateway"),
        (b'{"unexpected": true}', "sms: response has no 'messages' list"),
        (b"[]", "sms: expected a JSON object, got a list"),
    ],
)
async def test_a_wrong_body_is_a_protocol_error_naming_the_channel(
    stub: HttpStub, make: MakeClient, body: bytes, says: str
) -> None:
    stub.script(SMS_PATH, Reply(200, body, headers={"Content-Type": "text/html"}))
    with pytest.raises(ProtocolError) as info:
        await make().fetch(Target(RID, "sms"))
    assert str(info.value).startswith(says)
    assert stub.count() == 1


async def test_redirects_are_not_followed(stub: HttpStub, make: MakeClient) -> None:
    # Following one would carry the Authorization header to wherever the Location points.
    stub.script(SMS_PATH, Reply(302, b"", headers={"Location": f"{stub.base_url}/elsewhere"}))
    with pytest.raises(ApiError) as info:
        await make().fetch(Target(RID, "sms"))
    assert info.value.status == 302
    assert [r.path for r in stub.requests] == [SMS_PATH]
    # Said as what it is, with where it pointed (once, not "HTTP 302: 302: Found").
    assert info.value.message == (
        f"HTTP 302: a redirect (to {stub.base_url}/elsewhere), not followed; check the base URL"
    )


# ---------------------------------------------------------------------------------------------
# 429 and Retry-After


@pytest.fixture
def far_from_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time four hours behind UTC: an HTTP-date must not be read as local time."""
    monkeypatch.setenv("TZ", "EST+4")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("far_from_utc")
def test_parse_retry_after_forms() -> None:
    now = 1_445_412_480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after(" 0.3 ", now) == 0.3
    assert parse_retry_after("-5", now) == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now) == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 -0000", now) == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now) == 0.0  # in the past
    for junk in (None, "", "soon", "Wed, 99 Foo 2015"):
        assert parse_retry_after(junk, now) is None


async def test_429_waits_retry_after_seconds(stub: HttpStub, make: MakeClient) -> None:
    stub.script(SMS_PATH, Reply(429, b"{}", headers={"Retry-After": "0.3"}), Reply(body=SMS_OK))
    status = await make().fetch(Target(RID, "sms"))
    assert len(status.recipients) == 2
    first, second = stub.requests
    assert second.at - first.at >= 0.28


async def test_429_saying_retry_at_once_still_backs_off(stub: HttpStub, make: MakeClient) -> None:
    # A gateway under load that says `Retry-After: 0` must not get each poll as a burst of tries.
    now = Reply(429, b"{}", headers={"Retry-After": "0"})
    stub.script(SMS_PATH, now, now, Reply(body=SMS_OK))
    policy = RetryPolicy(attempts=4, base=0.15, cap=1.0)
    await make(policy=policy).fetch(Target(RID, "sms"))
    first, second, third = stub.requests
    assert second.at - first.at >= 0.14
    assert third.at - second.at >= 0.29  # the backoff's ceiling doubles with each try


async def test_429_waits_retry_after_http_date(stub: HttpStub, make: MakeClient) -> None:
    when = math.ceil(time.time() + 0.3)  # HTTP dates have whole seconds
    stamp = email.utils.formatdate(when, usegmt=True)
    stub.script(SMS_PATH, Reply(429, b"{}", headers={"Retry-After": stamp}), Reply(body=SMS_OK))
    await make().fetch(Target(RID, "sms"))
    assert stub.requests[1].at >= when - 0.02


async def test_one_429_delays_every_request_to_that_host(stub: HttpStub) -> None:
    stub.script("/a", Reply(429, b"{}", headers={"Retry-After": "0.3"}))
    stub.script("/b", Reply(body=b"{}"))
    async with Engine(policy=RetryPolicy(attempts=1, base=0.01, cap=0.05)) as engine:
        with pytest.raises(RateLimited) as info:
            await engine.get("sms", f"{stub.base_url}/a", headers={})
        assert info.value.kind is ErrorKind.RATE_LIMITED and info.value.status == 429
        assert info.value.retry_after == pytest.approx(0.3)
        assert engine.host_delay(f"{stub.base_url}/b") > 0
        other_host = stub.base_url.replace("127.0.0.1", "localhost")
        assert engine.host_delay(f"{other_host}/b") == 0
        reply = await engine.get("viber", f"{stub.base_url}/b", headers={})
    assert reply.status == 200
    first, second = stub.requests
    assert second.at - first.at >= 0.28


async def test_429_forever_is_rate_limited(stub: HttpStub, make: MakeClient) -> None:
    stub.script(REPORTS, Reply(429, {"errorCode": "E429"}, headers={"Retry-After": "0"}))
    with pytest.raises(RateLimited) as info:
        await make().fetch(Target("BULK-1", "infobip"))
    assert_one_clean_line(info.value)
    assert str(info.value).startswith("infobip: rate limited by the API")
    # A 429 was never served, so even a one-time read may be asked again.
    assert stub.count() == FAST.attempts


# ---------------------------------------------------------------------------------------------
# Infobip one-time reports


async def test_reports_are_drained_until_empty(stub: HttpStub, make: MakeClient) -> None:
    m3 = ib_page("m3", bulk="BULK-ID-123-xyz")
    stub.script(REPORTS, Reply(body=IB_PAGE), Reply(body=m3), Reply(body=EMPTY_PAGE))
    sunk: list[tuple[str, bytes, int]] = []

    def sink(ident: str, body: bytes) -> None:
        sunk.append((ident, body, stub.count()))

    status = await make(report_sink=sink).fetch(Target("BULK-ID-123-xyz", "infobip"))
    assert status.incremental and status.channel is Channel.INFOBIP
    assert [r.msg_id for r in status.recipients] == [
        "MESSAGE-ID-123-xyz",
        "12db39c3-7822-4e72-a3ec-c87442c0ffc5",
        "m3",
    ]
    assert status.raw == (IB_PAGE, m3)
    assert stub.count() == 3
    for seen in stub.requests:
        assert seen.path == REPORTS
        assert seen.query == {"bulkId": ["BULK-ID-123-xyz"], "limit": ["1000"]}
        assert seen.headers["authorization"] == f"App {IB_KEY}"
        assert_no_secret(seen.target)
    # Every raw body, the empty one too, went to the sink as it arrived, before the next ask.
    assert sunk == [
        ("BULK-ID-123-xyz", IB_PAGE, 1),
        ("BULK-ID-123-xyz", m3, 2),
        ("BULK-ID-123-xyz", EMPTY_PAGE, 3),
    ]


async def test_message_id_kind_is_sent_as_message_id(stub: HttpStub, make: MakeClient) -> None:
    stub.script(REPORTS, Reply(body=EMPTY_PAGE))
    status = await make().fetch(Target("MESSAGE-ID-123-xyz", "infobip", IdKind.MESSAGE))
    assert status.recipients == ()
    assert stub.requests[0].query == {"messageId": ["MESSAGE-ID-123-xyz"], "limit": ["1000"]}


async def test_async_report_sink_is_awaited_and_sees_unparseable_bodies(
    stub: HttpStub, make: MakeClient
) -> None:
    stub.script(REPORTS, Reply(body=ib_page("m1")), Reply(body=b"<html>truncated"))
    sunk: list[bytes] = []

    async def sink(ident: str, body: bytes) -> None:
        await asyncio.sleep(0)
        sunk.append(body)

    status = await make(report_sink=sink).fetch(Target("BULK-1", "infobip"))
    assert sunk == [ib_page("m1"), b"<html>truncated"]
    # The readable page is handed on; the unreadable one is named, not fatal, and not re-asked.
    assert [r.msg_id for r in status.recipients] == ["m1"]
    assert status.fields["problems"] == ["response is not JSON: <html>truncated"]
    assert status.raw == (ib_page("m1"), b"<html>truncated")
    assert stub.count() == 2


async def test_only_an_unparseable_page_is_a_protocol_error(
    stub: HttpStub, make: MakeClient
) -> None:
    stub.script(REPORTS, Reply(body=b'{"results": "nope"}'))
    sunk: list[bytes] = []
    with pytest.raises(ProtocolError) as info:
        await make(report_sink=lambda ident, body: sunk.append(body)).fetch(
            Target("BULK-1", "infobip")
        )
    assert str(info.value) == "infobip: 'results' is a string, not a list"
    assert sunk == [b'{"results": "nope"}']
    assert stub.count() == 1


@pytest.mark.parametrize("failure", [Reply(500, b"oops"), Reply(503, b""), Reply(hang=True)])
async def test_reports_are_never_blindly_retried(
    stub: HttpStub, make: MakeClient, failure: Reply
) -> None:
    stub.script(REPORTS, failure)
    with pytest.raises(Unreachable) as info:
        await make(timeout=0.2).fetch(Target("BULK-1", "infobip"))
    assert "(not retried)" in str(info.value)
    assert info.value.status == (None if failure.hang else failure.status)
    assert stub.count() == 1


async def test_a_failure_mid_drain_hands_on_what_was_received(
    stub: HttpStub, make: MakeClient
) -> None:
    stub.script(REPORTS, Reply(body=ib_page("m1", "m2")), Reply(502, b"bad gateway"))
    status = await make().fetch(Target("BULK-1", "infobip"))
    assert [r.msg_id for r in status.recipients] == ["m1", "m2"]
    assert stub.count() == 2


async def test_a_cancelled_caller_loses_nothing(stub: HttpStub, make: MakeClient) -> None:
    gate = asyncio.Event()
    stub.script(
        REPORTS,
        Reply(body=ib_page("m1", "m2")),
        Reply(body=ib_page("m3"), gate=gate),
        Reply(body=EMPTY_PAGE),
    )
    sunk: list[bytes] = []
    client = make(report_sink=lambda ident, body: sunk.append(body))
    first = asyncio.create_task(client.fetch(Target("BULK-1", "infobip")))
    await stub.wait_requests(2)  # page 1 received, page 2 asked and held
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    gate.set()
    await stub.wait_requests(3)  # the drain went on without its caller
    status = await client.fetch(Target("BULK-1", "infobip"))
    assert [r.msg_id for r in status.recipients] == ["m1", "m2", "m3"]
    assert sunk[:2] == [ib_page("m1", "m2"), ib_page("m3")]


async def test_a_caller_arriving_mid_drain_joins_it(stub: HttpStub, make: MakeClient) -> None:
    gate = asyncio.Event()
    stub.script(
        REPORTS,
        Reply(body=ib_page("m1")),
        Reply(body=ib_page("m2"), gate=gate),
        Reply(body=EMPTY_PAGE),
    )
    client = make()
    first = asyncio.create_task(client.fetch(Target("BULK-1", "infobip")))
    await stub.wait_requests(2)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    # The next poll comes while the orphaned drain is still waiting for page 2: a second,
    # parallel drain would race it for the same one-time reports.
    second = asyncio.create_task(client.fetch(Target("BULK-1", "infobip")))
    await asyncio.sleep(0)
    gate.set()
    status = await second
    assert [r.msg_id for r in status.recipients] == ["m1", "m2"]
    assert stub.count() == 3


async def test_logs_source_is_one_repeatable_read(stub: HttpStub, make: MakeClient) -> None:
    stub.script(LOGS, Reply(body=IB_PAGE))
    status = await make(source=InfobipSource.LOGS).fetch(Target("BULK-ID-123-xyz", "infobip"))
    assert status.incremental is False
    assert len(status.recipients) == 2
    (seen,) = stub.requests
    assert seen.path == LOGS
    assert seen.query == {"bulkId": ["BULK-ID-123-xyz"], "limit": ["1000"], "useCursor": ["true"]}


# ---------------------------------------------------------------------------------------------
# Ids never reach the wire unchecked


@pytest.mark.parametrize("bad", ["a/../b", "../sms/1/logs", "a b", "a&limit=5", "a?x", "a#b"])
async def test_infobip_ids_that_could_change_the_url_are_refused(
    stub: HttpStub, make: MakeClient, bad: str
) -> None:
    with pytest.raises(InvalidId):
        await make().fetch(Target(bad, "infobip"))
    assert stub.count() == 0


async def test_infobip_id_with_plus_and_equals_is_escaped(stub: HttpStub, make: MakeClient) -> None:
    stub.script(REPORTS, Reply(body=EMPTY_PAGE))
    await make().fetch(Target("ab+c=d", "infobip", IdKind.MESSAGE))
    (seen,) = stub.requests
    assert seen.query == {"messageId": ["ab+c=d"], "limit": ["1000"]}
    assert "messageId=ab%2Bc%3Dd" in seen.target


@pytest.mark.parametrize("channel", ["auto", "sms", "whatsapp", "viber"])
@pytest.mark.parametrize("bad", ["not-a-uuid", f"{RID}/../x", "../../report", ""])
async def test_d7_non_uuid_ids_are_refused_before_any_request(
    stub: HttpStub, make: MakeClient, channel: str, bad: str
) -> None:
    with pytest.raises(InvalidId):
        await make().fetch(Target(bad, channel))
    assert stub.count() == 0


# ---------------------------------------------------------------------------------------------
# The token stays secret


async def test_token_never_in_errors_logs_or_urls(
    stub: HttpStub, make: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    # Everything any library logs, at the most talkative level.
    caplog.set_level(logging.DEBUG)
    stub.script(SMS_PATH, Reply(401, {"detail": {"code": "X", "message": f"Bearer {TOKEN}"}}))
    stub.script(VIBER_PATH, Reply(500, TOKEN))
    stub.script(WA2_PATH, Reply(hang=True))
    stub.script(REPORTS, Reply(400, {"requestError": {"serviceException": {"text": "bad"}}}))
    client = make(timeout=0.2, policy=RetryPolicy(attempts=2, base=0.01, cap=0.02))
    errors: list[BaseException] = []
    for target in (
        Target(RID, "sms"),
        Target(RID, "viber"),
        Target(RID, "whatsapp"),
        Target("BULK-1", "infobip"),
        Target(RID),
    ):
        with pytest.raises(ChannelError) as info:
            await client.fetch(target)
        errors.append(info.value)
    logged = caplog.text + "".join(repr(r.args) for r in caplog.records)
    assert_no_secret(logged, *(everything_about(e) for e in errors), repr(client.settings))
    assert_no_secret(*(r.target for r in stub.requests))
    # ... while the server did get it, where it belongs.
    assert {r.headers["authorization"] for r in stub.requests} == {
        f"Bearer {TOKEN}",
        f"App {IB_KEY}",
    }


# ---------------------------------------------------------------------------------------------
# Bounded concurrency


async def test_never_more_than_max_in_flight_requests_or_connections(
    stub: HttpStub, make: MakeClient
) -> None:
    stub.script(SMS_PATH, Reply(body=SMS_OK, hold=0.005))
    client = make(max_in_flight=4)
    results = await asyncio.gather(*(client.fetch(Target(RID, "sms")) for _ in range(200)))
    assert len(results) == 200 and all(len(r.recipients) == 2 for r in results)
    assert stub.count() == 200
    assert stub.max_in_flight == 4  # reached, never exceeded
    assert stub.connections <= 4
    assert client.engine.in_flight == 0


# ---------------------------------------------------------------------------------------------
# The vendor simulator (a real stand-in for the APIs), when it is there


def _has_simulator() -> bool:
    # Only absence skips: a simulator that is there but fails to import is a failure to see.
    return (
        importlib.util.find_spec("d7tui.simulator") is not None
        and (Path(__file__).parent.parent / "d7tui" / "simulator" / "__init__.py").exists()
    )


needs_simulator = pytest.mark.skipif(not _has_simulator(), reason="d7tui.simulator not present")
SIM_TOKEN = "sim-token"
SIM_KEY = "sim-infobip-key"


@pytest.fixture
def sim_factory() -> Iterator[Callable[..., Any]]:
    from d7tui.simulator import Faults, Simulator

    started: list[Any] = []

    def start(**kw: Any) -> Any:
        options: dict[str, Any] = {
            "token": SIM_TOKEN,
            "infobip_key": SIM_KEY,
            "seed": 0,
            "latency_ms": 0,
            "faults": Faults(),
            "whatsapp_v2": True,
        }
        options.update(kw)
        sim = Simulator(**options)
        sim.start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(sim_factory: Callable[..., Any]) -> Any:
    return sim_factory()


def sim_client(
    sim: Any,
    *,
    token: str = SIM_TOKEN,
    key: str = SIM_KEY,
    timeout: float = 5.0,
    policy: RetryPolicy = FAST,
    report_sink: Any = None,
    source: InfobipSource = InfobipSource.REPORTS,
) -> StatusClient:
    settings = Settings(
        d7_token=Secret(token),
        d7_base_url=sim.base_url,
        infobip_key=Secret(key),
        infobip_base_url=sim.base_url,
        infobip_source=source,
        max_in_flight=4,
        timeout=timeout,
    )
    engine = Engine(max_in_flight=4, timeout=timeout, policy=policy)
    return StatusClient(settings, engine, report_sink=report_sink)


def _script(*steps: tuple[float, str]) -> list[Any]:
    from d7tui.simulator import Step

    return [Step(offset, status) for offset, status in steps]


# (channel, lifecycle, (phase, final) while in flight, (phase, final) at the end)
STORIES = [
    ("sms", [(0, "sent"), (30, "delivered")], (Phase.PENDING, False), (Phase.DELIVERED, True)),
    ("sms", [(0, "sent"), (30, "un_delivered")], (Phase.PENDING, False), (Phase.FAILED, True)),
    ("sms", [(0, "sent"), (30, "undelivered")], (Phase.PENDING, False), (Phase.FAILED, True)),
    ("viber", [(0, "sent"), (30, "undelivered")], (Phase.PENDING, False), (Phase.FAILED, True)),
    (
        "whatsapp",
        [(0, "processed"), (10, "delivered"), (30, "read")],
        (Phase.DELIVERED, False),
        (Phase.READ, True),
    ),
]


@needs_simulator
@pytest.mark.parametrize(("channel", "steps", "middle", "end"), STORIES)
async def test_simulator_story(
    sim: Any,
    channel: str,
    steps: list[tuple[float, str]],
    middle: tuple[Phase, bool],
    end: tuple[Phase, bool],
) -> None:
    numbers = ["+971501234567", "+971507654321"]
    rid = sim.create_request(channel, recipients=numbers, script=_script(*steps))
    async with sim_client(sim) as client:
        sim.advance(15)
        now = await client.fetch(Target(rid, channel))
        assert now.channel.value == channel
        assert sorted(r.recipient for r in now.recipients) == sorted(numbers)
        assert {(r.phase, r.final) for r in now.recipients} == {middle}
        sim.advance(60)
        later = await client.fetch(Target(rid))  # auto finds the channel by itself
        assert later.channel.value == channel
        assert {(r.status, r.phase, r.final) for r in later.recipients} == {(steps[-1][1], *end)}
        assert later.final
        _, transitions = observe(now, later, at=1.0)
        assert [(t.old_status, t.new_status) for t in transitions] == [
            (steps[-2][1], steps[-1][1])
        ] * 2


@needs_simulator
async def test_simulator_unknown_id_and_wrong_token(sim: Any) -> None:
    async with sim_client(sim) as client:
        with pytest.raises(NotFound) as info:
            await client.fetch(Target(RID, "sms"))
        assert "MESSAGE_LOG_NOT_EXISTS" in str(info.value)
    async with sim_client(sim, token="wrong-token", key="wrong-key") as client:
        with pytest.raises(AuthError) as info:
            await client.fetch(Target(RID, "sms"))
        assert "D7_API_TOKEN" in str(info.value) and "wrong-token" not in str(info.value)
        with pytest.raises(AuthError) as info:
            await client.fetch(Target("BULK-1", "infobip"))
        assert "INFOBIP_API_KEY" in str(info.value)


@needs_simulator
async def test_simulator_without_whatsapp_v2_falls_back_once(
    sim_factory: Callable[..., Any],
) -> None:
    sim = sim_factory(whatsapp_v2=False, whatsapp_key="recipients")
    rid = sim.create_request("whatsapp", recipients=["+9190617000"], script=_script((0, "read")))
    async with sim_client(sim) as client:
        first = await client.fetch(Target(rid, "whatsapp"))
        assert first.recipients[0].phase is Phase.READ
        assert sim.request_count == 2  # v2 (no such route), then v1
        await client.fetch(Target(rid, "whatsapp"))
        assert sim.request_count == 3  # remembered: straight to v1


@needs_simulator
async def test_simulator_infobip_reports_one_by_one_and_only_once(sim: Any) -> None:
    steps = _script(
        (0, "PENDING_ACCEPTED"), (2, "DELIVERED_TO_OPERATOR"), (4, "DELIVERED_TO_HANDSET")
    )
    bulk_id, message_ids = sim.create_infobip_bulk(["41793026727", "41793026834"], script=steps)
    sim.advance(10)
    sunk: list[bytes] = []
    async with sim_client(sim, report_sink=lambda ident, body: sunk.append(body)) as client:
        batch = await client.fetch(Target(bulk_id, "infobip"))
        # Operator and handset reports of both messages, handed out in one pull, each
        # message's in the order they happened.
        for message_id in message_ids:
            assert [r.status for r in batch.recipients if r.msg_id == message_id] == [
                "DELIVERED_TO_OPERATOR",
                "DELIVERED_TO_HANDSET",
            ]
        assert len(batch.recipients) == 4
        r = batch.recipients[-1]
        assert (r.cost, r.currency, r.parts) == (0.01, "EUR", 1)
        # v3 spelling, kept as the vendor spells it: `sender` where v1 said `from`.
        assert r.fields["mccMnc"] == "22801" and r.fields["sender"] == "InfoSMS"
        state, transitions = observe(None, batch, at=1.0)
        assert sorted((t.recipient_key, t.new_status) for t in transitions) == sorted(
            (m, s) for m in message_ids for s in ("DELIVERED_TO_OPERATOR", "DELIVERED_TO_HANDSET")
        )
        assert state.final
        assert sunk[-1] == b'{"results": []}'  # drained until empty
        again = await client.fetch(Target(bulk_id, "infobip"))
        assert again.recipients == ()  # one-time: nothing is handed out twice


@needs_simulator
async def test_simulator_drains_more_than_one_page(sim: Any) -> None:
    numbers = [f"4179{n:07d}" for n in range(1500)]
    bulk_id, _ = sim.create_infobip_bulk(numbers, script=_script((0, "DELIVERED_TO_HANDSET")))
    async with sim_client(sim) as client:
        status = await client.fetch(Target(bulk_id, "infobip"))
    assert len(status.recipients) == 1500
    assert sim.request_count == 3  # 1000, 500, then the empty page


@needs_simulator
async def test_simulator_5xx_is_retried_for_d7_never_for_reports(sim: Any) -> None:
    from d7tui.simulator import Faults

    rid = sim.create_request("sms", recipients=["+971501234567"])
    sim.set_faults(Faults(error_rate=1.0))
    async with sim_client(sim) as client:
        with pytest.raises(Unreachable):
            await client.fetch(Target(rid, "sms"))
        assert sim.request_count == FAST.attempts
        with pytest.raises(Unreachable) as info:
            await client.fetch(Target("BULK-1", "infobip"))
        assert "(not retried)" in str(info.value)
        assert sim.request_count == FAST.attempts + 1


@needs_simulator
async def test_simulator_rate_limit_waits_retry_after_for_the_whole_host(sim: Any) -> None:
    from d7tui.simulator import Faults

    rid = sim.create_request("sms", recipients=["+971501234567"])
    sim.set_faults(Faults(rate_limit=1.0, retry_after=0.3))
    policy = RetryPolicy(attempts=2, base=0.01, cap=0.02)
    async with sim_client(sim, policy=policy) as client:
        started = time.monotonic()
        with pytest.raises(RateLimited) as info:
            await client.fetch(Target(rid, "sms"))
        assert time.monotonic() - started >= 0.28  # waited Retry-After between the two tries
        assert info.value.retry_after == pytest.approx(0.3)
        assert sim.request_count == 2
        # The last 429 holds the host: the next request, on another channel, waits too.
        sim.set_faults(Faults())
        held = time.monotonic()
        with pytest.raises(NotFound):
            await client.fetch(Target(RID, "viber"))
        assert time.monotonic() - held >= 0.2
        assert sim.request_count == 3


@needs_simulator
async def test_simulator_timeouts_and_malformed_bodies(sim: Any) -> None:
    from d7tui.simulator import Faults

    rid = sim.create_request("viber", recipients=["+971501234567"])
    policy = RetryPolicy(attempts=2, base=0.01, cap=0.02)
    async with sim_client(sim, timeout=0.2, policy=policy) as client:
        sim.set_faults(Faults(timeout_rate=1.0))
        with pytest.raises(Unreachable) as unreachable:
            await client.fetch(Target(rid, "viber"))
        assert "answers too slowly" in str(unreachable.value)
        sim.set_faults(Faults(malformed_rate=1.0))
        for _ in range(8):
            with pytest.raises(ProtocolError) as info:
                await client.fetch(Target(rid, "viber"))
            assert str(info.value).startswith("viber: ")
            assert_one_clean_line(info.value)


@needs_simulator
async def test_simulator_hostile_text_never_reaches_the_model_raw(sim: Any) -> None:
    from test_parsers import assert_clean

    from d7tui.simulator import Faults

    ids = [
        sim.create_request(channel, recipients=[f"+97150{n:07d}" for n in range(3)])
        for channel in ("sms", "whatsapp", "viber")
        for _ in range(4)
    ]
    bulk_id, _ = sim.create_infobip_bulk(
        ["41793026727"] * 5, script=_script((0, "REJECTED_NETWORK"))
    )
    sim.set_faults(Faults(hostile=True, seed=3))
    async with sim_client(sim) as client:
        parsed = 0
        for rid in [*ids, bulk_id]:
            target = Target(rid, "infobip") if rid == bulk_id else Target(rid)
            try:
                status = await client.fetch(target)
            except ProtocolError as exc:  # the invalid-UTF-8 variant
                assert_one_clean_line(exc)
                continue
            assert_clean(status)
            assert_clean(status.to_json())
            parsed += 1
        assert parsed > len(ids) // 2


@needs_simulator
async def test_simulator_concurrency_stays_bounded(sim: Any) -> None:
    rid = sim.create_request("sms", recipients=["+971501234567"])
    async with sim_client(sim) as client:
        results = await asyncio.gather(*(client.fetch(Target(rid, "sms")) for _ in range(200)))
    assert len(results) == 200
    assert sim.request_count == 200
    assert sim.connections <= 4


# ---------------------------------------------------------------------------------------------
# A proxy from the environment (a support desk behind one sets HTTP_PROXY / HTTPS_PROXY)


async def test_requests_go_through_the_proxy_the_environment_names(
    stub: HttpStub, make: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", stub.base_url.replace("http://", "http://desk:s%40fe@"))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    stub.script(SMS_PATH, Reply(body=SMS_OK))
    client = make(base_url="http://d7-api.invalid")  # only the proxy can reach this name
    result = await client.fetch(Target(RID, "sms"))
    assert len(result.recipients) == 2
    seen = stub.requests[0]
    assert seen.target == f"http://d7-api.invalid{SMS_PATH}"  # absolute form: sent to a proxy
    assert seen.headers["proxy-authorization"] == "Basic ZGVzazpzQGZl"  # desk:s@fe


async def test_no_proxy_hosts_are_asked_directly(
    stub: HttpStub, make: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", refused_url())
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    stub.script(SMS_PATH, Reply(body=SMS_OK))
    result = await make().fetch(Target(RID, "sms"))
    assert len(result.recipients) == 2
    assert stub.requests[0].target == SMS_PATH


async def test_an_https_proxy_gets_the_credentials_on_connect_and_a_refusal_is_one_line(
    stub: HttpStub, make: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", stub.base_url.replace("http://", "http://desk:pw@"))
    stub.default = Reply(407, b"")
    client = make(base_url="https://d7-api.invalid", policy=RetryPolicy(attempts=1))
    with pytest.raises(Unreachable) as caught:
        await client.fetch(Target(RID, "sms"))
    assert stub.requests[0].method == "CONNECT"
    assert stub.requests[0].target == "d7-api.invalid:443"
    assert stub.requests[0].headers["proxy-authorization"] == "Basic ZGVzazpwdw=="
    assert "proxy" in str(caught.value) and "407" in str(caught.value)
    assert "desk" not in str(caught.value) and "pw@" not in str(caught.value)
    assert_one_clean_line(caught.value)


async def test_a_host_name_that_does_not_resolve_is_named_and_said_so(make: MakeClient) -> None:
    client = make(base_url="https://d7tui-no-such-host.invalid")  # .invalid never resolves
    with pytest.raises(Unreachable) as info:
        await client.fetch(Target(RID, "sms"))
    assert str(info.value).endswith(
        "d7tui-no-such-host.invalid: no such host (the name did not resolve)"
    )
