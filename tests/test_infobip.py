"""Infobip done the current way: v3 logs and reports (v1 where v3 is missing), a bulk shown whole
whatever its size, many ids in one call, the logs' throttling, message text kept out of sight.

Everything runs over loopback HTTP against the simulator (or, for exact error corners, the
scripted stub); the vendor's own Python client (infobip-api-python-client 6.0.0, a test-only
dependency) is the outside witness that the simulator's v3 bodies are what Infobip sends.
"""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from hostile import HostileServer, answering
from httpstub import HttpStub, Reply

from d7tui.channels import infobip
from d7tui.channels.infobip_logs import MAX_PAGES, id_lists
from d7tui.channels.pacer import Pacer
from d7tui.channels.routes import RouteVersions
from d7tui.channels.status import StatusClient
from d7tui.client import Engine, RetryPolicy
from d7tui.clock import ManualClock
from d7tui.config import Settings
from d7tui.errors import RateLimited, Unreachable
from d7tui.models import IdKind, InfobipSource, Phase, Target
from d7tui.safety import Secret
from d7tui.simulator import Simulator, Step

KEY = "sim-infobip-key"
FAST = RetryPolicy(attempts=3, base=0.01, cap=0.02)
DELIVERED = [Step(0, "PENDING_ACCEPTED"), Step(5, "DELIVERED_TO_HANDSET")]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    s = Simulator(seed=1, speed=0)
    s.start()
    yield s
    s.stop()


def client_for(
    base_url: str,
    *,
    source: InfobipSource = InfobipSource.LOGS,
    message_text: bool = False,
    routes: RouteVersions | None = None,
    policy: RetryPolicy = FAST,
    clock: ManualClock | None = None,
    pacer: Pacer | None = None,
) -> StatusClient:
    settings = Settings(
        infobip_key=Secret(KEY),
        infobip_base_url=base_url,
        infobip_source=source,
        message_text=message_text,
        max_in_flight=4,
    )
    engine = Engine(max_in_flight=4, policy=policy)
    return StatusClient(settings, engine, routes=routes, clock=clock, pacer=pacer)


def numbers(count: int, start: int = 0) -> list[str]:
    return [f"4179{n:07d}" for n in range(start, start + count)]


# ---------------------------------------------------------------------------------------------
# The vendor's own client reads what the simulator serves


def vendor_api(sim: Simulator) -> Any:
    from infobip_api_client import ApiClient, Configuration
    from infobip_api_client.api.sms_api import SmsApi

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return SmsApi(ApiClient(Configuration(host=sim.base_url, api_key=KEY)))


def test_the_vendors_client_pages_v3_logs_with_its_cursor(sim: Simulator) -> None:
    bulk, ids = sim.create_infobip_bulk(numbers(1200), DELIVERED, campaign_reference_id="c-7")
    sim.advance(10)
    api = vendor_api(sim)
    first = api.get_outbound_sms_message_logs(bulk_id=[bulk], limit=1000, use_cursor=True)
    assert len(first.results) == 1000 and first.cursor.next_cursor
    rest = api.get_outbound_sms_message_logs(
        bulk_id=[bulk], limit=1000, use_cursor=True, cursor=first.cursor.next_cursor
    )
    assert len(rest.results) == 200 and rest.cursor.next_cursor is None
    assert {r.message_id for r in first.results + rest.results} == set(ids)
    log = rest.results[-1]
    # Every v3 name, typed by the vendor's own models: none of them fell through as unknown.
    assert (log.destination, log.sender, log.bulk_id) == ("41790001199", "InfoSMS", bulk)
    assert log.message_count == 1 and log.campaign_reference_id == "c-7"
    assert log.status.name == "DELIVERED_TO_HANDSET" and log.status.group_name.value == "DELIVERED"
    assert log.error.group_name.value == "OK" and log.error.permanent is False
    assert log.platform.entity_id and log.content.actual_instance.text == "Hello from d7tui"
    assert log.sent_at is not None and log.done_at is not None and log.mcc_mnc == "22801"


def test_the_vendors_client_reads_v3_reports_once(sim: Simulator) -> None:
    bulk, ids = sim.create_infobip_bulk(numbers(3), DELIVERED)
    sim.advance(10)
    api = vendor_api(sim)
    reports = api.get_outbound_sms_message_delivery_reports(bulk_id=bulk, limit=10).results
    assert sorted(r.message_id for r in reports) == sorted(ids)
    report = reports[0]
    assert report.to and report.sender == "InfoSMS" and report.message_count == 1
    assert report.callback_data and report.platform.application_id
    assert api.get_outbound_sms_message_delivery_reports(bulk_id=bulk).results == []


# ---------------------------------------------------------------------------------------------
# d7tui reads v3, and v1 where v3 is missing


async def test_v3_logs_are_read_and_parsed_under_their_v3_names(sim: Simulator) -> None:
    bulk, ids = sim.create_infobip_bulk(numbers(2), DELIVERED, campaign_reference_id="c-1")
    sim.advance(10)
    async with client_for(sim.base_url) as client:
        status = await client.fetch(Target(bulk, "infobip", IdKind.BULK))
    assert sim.infobip_calls == {"/sms/3/logs": 1}
    assert sorted(r.msg_id for r in status.recipients) == sorted(ids)
    r = status.recipients[0]
    # Today's v3 item used to parse to `recipient: None, parts: None`.
    assert r.recipient in numbers(2) and r.parts == 1
    assert (r.status, r.phase, r.final) == ("DELIVERED_TO_HANDSET", Phase.DELIVERED, True)
    assert r.fields["sender"] == "InfoSMS" and r.fields["campaignReferenceId"] == "c-1"
    assert r.fields["platform"] == {
        "entityId": "d7tui-sim-entity",
        "applicationId": "d7tui-sim-app",
    }
    assert r.fields["status"]["groupName"] == "DELIVERED" and "permanent" in r.fields["error"]


async def test_a_host_without_v3_is_read_on_v1_and_v3_is_tried_again_later() -> None:
    sim = Simulator(seed=1, speed=0, infobip_v3=False)  # a proxy or account without /sms/3
    sim.start()
    clock = ManualClock()
    routes = RouteVersions(retry_after=600, clock=clock.now)
    try:
        bulk, _ = sim.create_infobip_bulk(numbers(2), DELIVERED)
        async with client_for(sim.base_url, routes=routes) as client:
            target = Target(bulk, "infobip", IdKind.BULK)
            assert len((await client.fetch(target)).recipients) == 2
            assert sim.infobip_calls == {"/sms/3/logs": 1, "/sms/1/logs": 1}
            await client.fetch(target)  # remembered: straight to v1
            assert sim.infobip_calls == {"/sms/3/logs": 1, "/sms/1/logs": 2}
            clock.advance(601)  # v3 may have arrived meanwhile: asked again
            await client.fetch(target)
            assert sim.infobip_calls == {"/sms/3/logs": 2, "/sms/1/logs": 3}
            # One-time reports fall back the same way; the 404 handed nothing out.
            reports = client_for(sim.base_url, source=InfobipSource.REPORTS, routes=routes)
            async with reports:
                sim.advance(10)
                pulled = await reports.fetch(target)
            assert len(pulled.recipients) == 2
            assert sim.infobip_calls["/sms/3/reports"] == 1
    finally:
        sim.stop()


# ---------------------------------------------------------------------------------------------
# A bulk is shown whole


async def test_a_1200_recipient_bulk_shows_1200_on_v3(sim: Simulator) -> None:
    bulk, ids = sim.create_infobip_bulk(numbers(1200), DELIVERED)
    async with client_for(sim.base_url) as client:
        status = await client.fetch(Target(bulk, "infobip", IdKind.BULK))
    assert len(status.recipients) == 1200
    assert {r.msg_id for r in status.recipients} == set(ids)
    assert sim.infobip_calls == {"/sms/3/logs": 2}  # a cursor page of 1,000, then 200
    assert "problems" not in status.fields


async def test_a_bulk_of_whole_cursor_pages_ends_with_the_last_cursor(sim: Simulator) -> None:
    """Fresh-eyes finding H11: after a last cursor page of exactly 1,000, one more call paged on
    by sentUntil, was given the first page again, and flagged the whole bulk "may be
    incomplete"."""
    bulk, _ = sim.create_infobip_bulk(numbers(2000), DELIVERED)
    async with client_for(sim.base_url) as client:
        status = await client.fetch(Target(bulk, "infobip", IdKind.BULK))
    assert len(status.recipients) == 2000
    assert sim.infobip_calls == {"/sms/3/logs": 2}  # two pages, no third call
    assert "problems" not in status.fields


async def test_an_endless_cursor_stops_after_the_pages_it_says() -> None:
    pages = 0

    def endless(method: str, target: str, credential: str) -> bytes:
        nonlocal pages
        pages += 1
        results = [{"bulkId": "ENDLESS", "messageId": f"p{pages}-{n}"} for n in range(1000)]
        return json.dumps({"results": results, "cursor": {"nextCursor": f"c{pages}"}}).encode()

    async with HostileServer(answering(endless)) as server, client_for(server.base_url) as client:
        status = await client.fetch(Target("ENDLESS", "infobip", IdKind.BULK))
    assert pages == MAX_PAGES and len(status.recipients) == MAX_PAGES * 1000
    assert status.fields["problems"] == [
        f"stopped after {MAX_PAGES} pages of 1,000: the rest is not shown"
    ]


async def test_a_cursor_that_comes_back_is_not_followed_round_and_round() -> None:
    # A proxy cache or a server bug: the same page and the same nextCursor every time.
    page = {
        "results": [
            {"bulkId": "LOOP", "messageId": f"m{n}", "destination": "41"} for n in range(3)
        ],
        "cursor": {"limit": 1000, "nextCursor": "SAMECURSOR"},
    }
    async with HttpStub() as stub:
        stub.script("/sms/3/logs", Reply(200, page))
        async with client_for(stub.base_url) as client:
            status = await client.fetch(Target("LOOP", "infobip", IdKind.BULK))
    assert len(status.recipients) == 3
    assert stub.count("/sms/3/logs") == 2  # not 51: the account's budget is 120 a minute
    assert any("cursor went round in a circle" in p for p in status.fields["problems"])


async def test_a_1200_recipient_bulk_shows_1200_on_v1_by_moving_sent_until() -> None:
    sim = Simulator(seed=1, speed=0, infobip_v3=False)
    sim.start()
    try:
        # Four messages share each millisecond of sentAt: the page boundary falls in one.
        bulk, ids = sim.create_infobip_bulk(numbers(1200), DELIVERED)
        async with client_for(sim.base_url) as client:
            status = await client.fetch(Target(bulk, "infobip", IdKind.BULK))
        assert sorted(r.msg_id for r in status.recipients) == sorted(ids)  # each once
        assert sim.infobip_calls == {"/sms/3/logs": 1, "/sms/1/logs": 2}
    finally:
        sim.stop()


# ---------------------------------------------------------------------------------------------
# Many ids, few calls


def test_id_lists_fit_the_vendors_2048_characters() -> None:
    ids = [f"{n:036d}" for n in range(200)]  # UUID-sized
    lists = id_lists(ids)
    assert [i for chunk in lists for i in chunk] == ids  # all, in order, once
    assert all(len(",".join(chunk)) <= infobip.MAX_ID_LIST for chunk in lists)
    assert len(lists) == 4  # 55 UUIDs fit in 2,048 characters
    assert id_lists(["a" * 2048]) == [["a" * 2048]]  # one id is never split or dropped


async def test_thirty_bulks_are_one_call_and_202_message_ids_four(sim: Simulator) -> None:
    bulks = {}
    for n in range(30):
        bulk, ids = sim.create_infobip_bulk(numbers(3, 10 * n), DELIVERED)
        bulks[bulk] = ids
    sim.advance(10)
    async with client_for(sim.base_url) as client:
        answers = await client.fetch_many([Target(b, "infobip", IdKind.BULK) for b in bulks])
        assert sim.infobip_calls == {"/sms/3/logs": 1}
        for bulk, ids in bulks.items():
            assert sorted(r.msg_id for r in answers[bulk].recipients) == sorted(ids)  # type: ignore[union-attr]
        more = [sim.create_infobip_bulk([n], DELIVERED)[1][0] for n in numbers(111, 5000)]
        message_ids = [*(i for ids in bulks.values() for i in ids), "unknown-id", *more]
        answers = await client.fetch_many(
            [Target(m, "infobip", IdKind.MESSAGE) for m in message_ids]
        )
    assert sim.infobip_calls == {"/sms/3/logs": 1 + 4}
    assert answers["unknown-id"].recipients == ()  # type: ignore[union-attr]
    assert all(len(answers[m].recipients) == 1 for m in message_ids if m != "unknown-id")  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------
# Throttling: 120 logs requests a minute, 429 with E429


async def test_the_121st_logs_request_in_a_minute_is_refused_with_e429() -> None:
    clock = ManualClock()
    sim = Simulator(seed=1, speed=0, clock=clock.now)
    sim.start()
    try:
        bulk, _ = sim.create_infobip_bulk(numbers(1), DELIVERED)
        # Another consumer of the account spends the minute's 120 requests (d7tui's own pacing
        # keeps it under the limit, see below): d7tui meets the 429.
        other = client_for(sim.base_url, pacer=Pacer(None))
        d7tui = client_for(sim.base_url, policy=RetryPolicy(attempts=2, base=0.01))
        async with other, d7tui:
            target = Target(bulk, "infobip", IdKind.BULK)
            for _ in range(120):
                await other.fetch(target)
            with pytest.raises(RateLimited) as info:
                await d7tui.fetch(target)
            # The vendor's code reaches the message; no promise of "asking again" in it.
            assert str(info.value) == (
                "infobip: rate limited by the API (HTTP 429): E429: Too many requests"
            )
            assert sim.infobip_throttled == 2
            clock.advance(60)  # the window has moved on
            assert len((await d7tui.fetch(target)).recipients) == 1
    finally:
        sim.stop()


async def test_d7tui_itself_asks_logs_no_faster_than_120_a_minute() -> None:
    clock = ManualClock()
    sim = Simulator(seed=1, speed=0, clock=clock.now)
    sim.start()
    try:
        bulk, _ = sim.create_infobip_bulk(numbers(1), DELIVERED)
        async with client_for(sim.base_url, clock=clock) as client:
            target = Target(bulk, "infobip", IdKind.BULK)
            for _ in range(120):
                await client.fetch(target)
            late = asyncio.create_task(client.fetch(target))
            for _ in range(20):
                await asyncio.sleep(0)
            assert not late.done()  # the 121st waits for the minute to turn, unasked
            clock.advance(60)
            assert len((await late).recipients) == 1
        assert sim.infobip_throttled == 0 and sim.infobip_calls == {"/sms/3/logs": 121}
    finally:
        sim.stop()


async def test_a_general_error_after_every_try_is_named() -> None:
    async with HttpStub() as stub:
        error = {"requestError": {"serviceException": {"messageId": "GENERAL_ERROR", "text": "x"}}}
        stub.script("/sms/3/logs", *[Reply(500, error)] * 3)
        async with client_for(stub.base_url) as client:
            with pytest.raises(Unreachable) as info:
                await client.fetch(Target("B-1", "infobip", IdKind.BULK))
    assert str(info.value) == ("infobip: server error (HTTP 500) after 3 tries: GENERAL_ERROR: x")


# ---------------------------------------------------------------------------------------------
# Message text is not shown unless asked for; cost is per message


async def test_message_text_is_hidden_unless_asked_for(sim: Simulator) -> None:
    bulk, _ = sim.create_infobip_bulk(numbers(1), DELIVERED, text="Your code is 480213")
    target = Target(bulk, "infobip", IdKind.BULK)
    async with client_for(sim.base_url) as client:
        hidden = await client.fetch(target)
    shown_anywhere = json.dumps(hidden.to_json()) + repr(hidden)
    assert "480213" not in shown_anywhere
    assert hidden.recipients[0].fields["content"] == {"text": infobip.HIDDEN}
    async with client_for(sim.base_url, message_text=True) as client:
        shown = await client.fetch(target)
    assert shown.recipients[0].fields["content"] == {"text": "Your code is 480213"}


def test_v1_text_is_hidden_too() -> None:
    body = {"results": [{"messageId": "m", "to": "41", "text": "PIN 1234", "smsCount": 1}]}
    (r,) = infobip.parse_page(json.dumps(body).encode())
    assert r.fields["text"] == infobip.HIDDEN and r.recipient == "41"


def test_text_in_other_shapes_is_hidden_at_any_depth() -> None:
    item = {
        "messageId": "m",
        "content": {"body": {"text": "555111"}},
        "message": {"text": "555333"},
    }
    (r,) = infobip.parse_page(json.dumps({"results": [item]}).encode())
    assert "5551" not in json.dumps(r.fields) and "5553" not in json.dumps(r.fields)
    assert r.fields["message"] == {"text": infobip.HIDDEN}


def test_infobip_cost_is_price_per_part_times_parts() -> None:
    # "pricePerMessage: Price per one SMS", "smsCount: number of parts": a message of three
    # parts costs three times the price, which is what D7's per-message cost means too.
    body = {
        "results": [
            {
                "messageId": "m",
                "smsCount": 3,
                "price": {"pricePerMessage": 0.01, "currency": "EUR"},
            },
            {"messageId": "n", "messageCount": 2, "price": {"pricePerMessage": 0.05}},
        ]
    }
    three, two = infobip.parse_page(json.dumps(body).encode())
    assert (three.cost, three.currency, three.parts) == (0.03, "EUR", 3)
    assert three.fields["price"] == {"pricePerMessage": 0.01, "currency": "EUR"}  # kept as said
    assert (two.cost, two.parts) == (0.1, 2)
