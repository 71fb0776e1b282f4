"""A host held by a 429's Retry-After (fresh-eyes finding F14): the monitor said "next poll in
now" and "4 queued", and `r` did nothing without a word, for the two minutes the wait lasted.
Now the detail and the status line say "rate limited by HOST: waiting until HH:MM:SS", `r` says
why it does not poll, nothing of that host is asked meanwhile, and the other vendor is polled.
A 503 that says when to come back (Retry-After) is the same kind of wait, said as such."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from hostile import Answered, HostileServer, aimed_at, answering
from ui_kit import idle, list_lines, said, screen_text
from ui_kit import until as until_shown

from d7tui.client import Engine, RetryPolicy
from d7tui.clock import ManualClock
from d7tui.errors import RateLimited
from d7tui.models import IdKind, Target
from d7tui.pollstate import PollConfig
from d7tui.ui.app import make_app
from d7tui.ui.format import format_clock
from d7tui.ui.widgets.watchlist_table import WatchlistTable

FIRST = "aaaaaaaa-2222-4333-8444-555555555555"
SECOND = "bbbbbbbb-2222-4333-8444-555555555555"
BULK = "BULK-FREE"
WAIT = 90  # seconds the D7 host asks for: shorter than the engine's cap (120)


class Server:
    """D7 answers every status request with `status` (429 or 503) and Retry-After; the balances
    and Infobip answer.

    D7's balance answers: were it held too, the balance read (sent first, as the app starts)
    could hear the wait before the polls go out, and they would then be refused by the engine
    with what is left of it on the real clock, 90 s less the moment between, while the test's
    clock stands still: the hold's end a second early whenever that moment crossed a second
    (the flake of a loaded machine: `waiting until 10:00:29` never became `…:30`)."""

    def __init__(self, status: int = 429) -> None:
        self.status = status
        self.d7_asked = 0
        self.infobip_asked = 0

    def answer(self, method: str, target: str, credential: str) -> Answered:
        url = urlsplit(target)
        if url.path == "/account/1/balance":
            return b'{"balance": 10, "currency": "EUR"}'
        if url.path == "/messages/v1/balance":
            return b'{"balance": 10}'
        if url.path.startswith("/sms/3/logs"):
            self.infobip_asked += 1
            (bulk,) = parse_qs(url.query)["bulkId"]
            item = {
                "messageId": "m1",
                "bulkId": bulk,
                "destination": "41793026727",
                "status": {"groupId": 1, "groupName": "PENDING", "name": "PENDING_ENROUTE"},
            }
            return json.dumps({"results": [item]}).encode()
        if url.path.startswith(("/report/", "/whatsapp/")):
            self.d7_asked += 1
        return self.status, b'{"detail": "Try later"}', {"Retry-After": str(WAIT)}


HOLDS = pytest.mark.parametrize(
    ("status", "said_as"),
    [(429, "rate limited by 127.0.0.1"), (503, "127.0.0.1 unavailable (HTTP 503)")],
    ids=["429", "503"],
)


@HOLDS
async def test_a_rate_limited_host_says_until_when_and_r_says_why_it_waits(
    tmp_path: Path, status: int, said_as: str
) -> None:
    server = Server(status)
    clock = ManualClock()
    # Two hosts: the engine holds a host, not a vendor.
    async with (
        HostileServer(answering(server.answer)) as d7,
        HostileServer(answering(server.answer)) as infobip,
    ):
        app = make_app(
            aimed_at(d7.base_url, infobip.base_url),
            ids=[Target(FIRST, "sms"), Target(SECOND, "sms"), Target(BULK, "infobip", IdKind.BULK)],
            clock=clock,
            poll_config=PollConfig(workers=2),
            store_path=tmp_path / "d7tui.sqlite3",
            bell=False,
        )
        async with app.run_test(size=(160, 45), notifications=True) as pilot:
            await idle(pilot, app)
            until = format_clock(clock.now() + WAIT, clock.now())
            waiting = f"{said_as}: waiting until {until}"
            table = app.screen.query_one(WatchlistTable)
            for rid in (FIRST, SECOND):
                table.select(rid)
                # The detail's head grows to fit its lines: a frame more when its height moves.
                await until_shown(pilot, lambda: waiting in screen_text(app))
                screen = screen_text(app)
                assert waiting in screen, screen  # the detail's schedule line, and the status line
                assert "next poll in now" not in screen and "polling now" not in screen
                assert "queued" not in screen
            status_line = "".join(screen.splitlines()[-3:-1])
            assert waiting in status_line, status_line
            asked = server.d7_asked

            await pilot.press("r")
            await idle(pilot, app)
            assert said(app)[-1] == f"Not polled now: {waiting}, then it is."
            assert server.d7_asked == asked  # the host is not asked: it said to wait

            infobip = server.infobip_asked
            await pilot.press("R")
            await idle(pilot, app)
            assert f"The rest wait: {waiting}." in said(app)[-1]
            assert server.infobip_asked > infobip  # the other vendor is polled at once
            assert server.d7_asked == asked

            clock.advance(WAIT / 2)  # the ids' own schedule comes round: still waiting
            await idle(pilot, app)
            assert server.d7_asked == asked
            assert waiting in screen_text(app)


@HOLDS
async def test_a_wait_longer_than_the_deadline_refuses_the_hosts_other_requests_at_once(
    status: int, said_as: str
) -> None:
    """Before, a request to a host another request's 429 held slept out the whole wait (up to
    two minutes) before it even started its deadline: a monitor showed it as "queued"."""
    server = Server(status)
    async with (
        HostileServer(answering(server.answer)) as hostile,
        Engine(timeout=10, policy=RetryPolicy(attempts=1)) as engine,
    ):
        url = f"{hostile.base_url}/report/v1/message-log/{FIRST}"
        with pytest.raises(RateLimited) as first:
            await engine.get("sms", url, headers={})
        with pytest.raises(RateLimited) as second:
            await engine.get("sms", url.replace(FIRST, SECOND), headers={})
    assert server.d7_asked == 1  # the second never went out: the host had said to wait
    assert first.value.host == second.value.host == "127.0.0.1"
    assert first.value.retry_after == WAIT
    assert first.value.status == second.value.status == status
    assert second.value.retry_after is not None and 0 < second.value.retry_after <= WAIT


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            b'{"requestError":{"serviceException":{"messageId":"E429","text":"Too many requests"}}}',
            "rate limited by the API (HTTP 429): E429: Too many requests",
        ),
        (
            b'{"errorCode":"E429","description":"Too many requests","violations":[]}',
            "rate limited by the API (HTTP 429): E429: Too many requests",
        ),
        (b'{"throttle":{"window":60,"used":61}}', "rate limited by the API (HTTP 429)"),
    ],
    ids=["infobip-older", "infobip-newer", "unknown-shape"],
)
async def test_a_429s_reason_says_what_the_api_said_never_its_raw_json(
    tmp_path: Path, body: bytes, reason: str
) -> None:
    """The reason cell read `rate limited by the API (HTTP 429): {…`: the start of Infobip's
    E429 body (a gateway in front of D7 answers in it), a shape the D7 parser did not know."""
    server = Server()

    def answer(method: str, target: str, credential: str) -> Answered:
        said = server.answer(method, target, credential)
        return (429, body, {"Retry-After": str(WAIT)}) if isinstance(said, tuple) else said

    async with HostileServer(answering(answer)) as d7:
        app = make_app(
            aimed_at(d7.base_url),
            ids=[Target(FIRST, "sms")],
            clock=ManualClock(),
            store_path=tmp_path / "d7tui.sqlite3",
            bell=False,
        )
        async with app.run_test(size=(200, 30)) as pilot:
            await idle(pilot, app)
            await until_shown(pilot, lambda: reason in screen_text(app))
            screen = screen_text(app)
            assert "{" not in screen, screen  # neither in the reason cell nor in the detail
            (row,) = [line for line in list_lines(app) if "aaaaaaaa" in line]
            assert "rate limited by th" in row
