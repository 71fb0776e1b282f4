"""The simulator speaks the vendors' wire format (witnessed by the official SDK), moves statuses
by itself, hands Infobip reports out once, and misbehaves on demand."""

from __future__ import annotations

import asyncio
import email.utils
import json
import uuid
from collections.abc import Iterator

import httpx
import pytest

from d7tui.simulator import Faults, Simulator, Step, parse_fault_specs
from d7tui.simulator.faults import FaultSpecError

TOKEN, KEY = "sim-token", "sim-key"
D7 = {"Authorization": f"Bearer {TOKEN}"}
IB = {"Authorization": f"App {KEY}"}


@pytest.fixture
def sim() -> Iterator[Simulator]:
    s = Simulator(token=TOKEN, infobip_key=KEY, seed=3)
    s.start()
    yield s
    s.stop()


def get(sim: Simulator, path: str, headers: dict[str, str] | None = None, **params: str):
    return httpx.get(
        sim.base_url + path,
        headers=D7 if headers is None else headers,
        params=params or None,
        timeout=5,
    )


def test_sms_body_has_the_pages_keys_in_order(sim):
    rid = sim.create_request("sms", ["+971509752655", "+971509752656"])
    reply = get(sim, f"/report/v1/message-log/{rid}")
    assert reply.status_code == 200
    body = reply.json()
    assert list(body) == ["request_id", "total_recipients", "channel", "messages"]
    assert body["channel"] == "sms" and body["total_recipients"] == 2
    assert list(body["messages"][0]) == [
        "msg_id",
        "country",
        "recipient",
        "status",
        "number_of_sms",
        "sms_cost",
        "schedule_time",
    ]


def test_viber_keeps_the_vendors_quirks(sim):
    rid = sim.create_request("viber", ["+380501234567"])
    body = get(sim, f"/report/v1/viber-log/{rid}").json()
    assert body["channel"] == "sms"  # the vendor's own sample says so
    item = body["messages"][0]
    assert "number_of_viber_message" in item and "viber_cost" in item
    assert "number_of_sms" not in item


def test_whatsapp_v1_and_v2_and_a_server_without_v2(sim):
    rid = sim.create_request("whatsapp", ["+919061700000"])
    for version in ("v1", "v2"):
        body = get(sim, f"/whatsapp/{version}/report/{rid}").json()
        assert list(body) == ["request_id", "messages", "request_stage", "schedule_time"]
        item = body["messages"][0]
        for key in (
            "originator",
            "reference",
            "conversation_type",
            "message_type",
            "template_id",
            "waConvId",
            "status",
            "reason",
        ):
            assert key in item
        assert set(item["reference"]) >= {"cust_ref", "message_tag1", "conversation_id"}
    no_v2 = Simulator(token=TOKEN, whatsapp_v2=False)
    no_v2.start()
    try:
        reply = get(no_v2, f"/whatsapp/v2/report/{uuid.uuid4()}")
        assert reply.status_code == 404 and reply.json() == {"detail": "Not Found"}
    finally:
        no_v2.stop()


def test_not_found_codes_auth_and_validation(sim):
    missing = str(uuid.uuid4())
    for path, code in (
        ("/report/v1/message-log/", "MESSAGE_LOG_NOT_EXISTS"),
        ("/report/v1/viber-log/", "VIBER_MESSAGE_LOG_NOT_EXISTS"),
        ("/whatsapp/v2/report/", "WHATSAPP_LOG_NOT_EXISTS"),
    ):
        reply = get(sim, path + missing)
        assert reply.status_code == 404 and reply.json()["detail"]["code"] == code
    # An id of one channel is unknown on another channel's route.
    rid = sim.create_request("sms", ["+971500000000"])
    assert get(sim, f"/report/v1/viber-log/{rid}").status_code == 404
    reply = get(sim, f"/report/v1/message-log/{rid}", headers={"Authorization": "Bearer nope"})
    assert reply.status_code == 401
    assert reply.json()["detail"]["code"] == "ACCESS_TOKEN_SIGNATURE_VERIFICATION_FAILED"
    reply = get(sim, "/report/v1/message-log/not-a-uuid")
    assert reply.status_code == 422 and reply.json()["detail"][0]["loc"] == ["path", "request_id"]
    assert get(sim, "/no/such/route").json() == {"detail": "Not Found"}


def test_statuses_move_with_simulated_time_and_are_logged(sim):
    rid = sim.create_request("sms", ["+971500000001"], [Step(0, "sent"), Step(30, "delivered")])
    assert get(sim, f"/report/v1/message-log/{rid}").json()["messages"][0]["status"] == "sent"
    sim.advance(31)
    assert get(sim, f"/report/v1/message-log/{rid}").json()["messages"][0]["status"] == "delivered"
    mine = [(c.old, c.new) for c in sim.changes if c.request_id == rid]
    assert mine == [(None, "sent"), ("sent", "delivered")]


def test_lifecycles_are_deterministic_for_a_seed():
    def story(seed: int) -> list[str]:
        s = Simulator(seed=seed)
        s.create_request("whatsapp", ["+1", "+2", "+3"])
        s.advance(3600)
        return [c.new for c in s.changes]

    assert story(5) == story(5)
    assert story(5) != story(6)


def test_infobip_reports_are_handed_out_once_and_logs_are_rereadable(sim):
    bulk, ids = sim.create_infobip_bulk(
        ["41793026727", "41793026834"],
        [
            Step(0, "PENDING_ACCEPTED"),
            Step(5, "DELIVERED_TO_OPERATOR"),
            Step(10, "DELIVERED_TO_HANDSET"),
        ],
    )
    assert get(sim, "/sms/1/reports", IB, bulkId=bulk).json() == {"results": []}
    sim.advance(11)
    first = get(sim, "/sms/1/reports", IB, bulkId=bulk, limit="1000").json()["results"]
    # Both the intermediate and the final report of each message, each handed out once.
    assert sorted(r["status"]["name"] for r in first) == [
        "DELIVERED_TO_HANDSET",
        "DELIVERED_TO_HANDSET",
        "DELIVERED_TO_OPERATOR",
        "DELIVERED_TO_OPERATOR",
    ]
    assert set(first[0]) >= {
        "bulkId",
        "messageId",
        "to",
        "from",
        "sentAt",
        "doneAt",
        "smsCount",
        "mccMnc",
        "callbackData",
        "price",
        "status",
        "error",
        "entityId",
        "applicationId",
    }
    assert get(sim, "/sms/1/reports", IB, bulkId=bulk).json() == {"results": []}
    for _ in range(2):
        logs = get(sim, "/sms/1/logs", IB, bulkId=bulk).json()["results"]
        assert {r["messageId"] for r in logs} == set(ids)
        assert "mccmnc" in logs[0]  # the legacy logs spelling
    assert get(sim, "/sms/1/reports", IB, limit="1001").status_code == 400
    reply = get(sim, "/sms/1/reports", {"Authorization": "App wrong"})
    assert reply.status_code == 401 and "requestError" in reply.json()


def test_reports_respect_limit_and_message_filter(sim):
    bulk, ids = sim.create_infobip_bulk(
        ["1", "2", "3"], [Step(0, "PENDING_ACCEPTED"), Step(1, "DELIVERED_TO_HANDSET")]
    )
    sim.advance(2)
    only = get(sim, "/sms/1/reports", IB, messageId=ids[1]).json()["results"]
    assert [r["messageId"] for r in only] == [ids[1]]
    page = get(sim, "/sms/1/reports", IB, bulkId=bulk, limit="1").json()["results"]
    assert len(page) == 1
    rest = get(sim, "/sms/1/reports", IB, bulkId=bulk, limit="10").json()["results"]
    assert len(rest) == 1


def test_official_sdk_sends_and_reads_status_on_all_three_channels(sim):
    from direct7 import Client

    client = Client(api_token=TOKEN)
    client.host(sim.base_url)
    sent = client.sms.send_messages(
        {"recipients": ["+971501234567"], "content": "hi", "msg_type": "text"},
        originator="d7tui",
    )
    status = client.sms.get_status(request_id=sent["request_id"])
    assert status["messages"][0]["recipient"] == "+971501234567"

    sent = client.viber.send_viber_message(
        recipients=["+380501234567"], content="hi", label="PROMOTION", originator="d7tui"
    )
    assert client.viber.get_status(request_id=sent["request_id"])["messages"]

    sent = client.whatsapp.send_whatsapp_freeform_message(
        originator="+919061500000", recipient="+919061700000", message_type="TEXT", body="hi"
    )
    status = client.whatsapp.get_status(request_id=sent["request_id"])
    assert status["messages"][0]["recipient"] == "+919061700000"
    assert status["messages"][0]["originator"] == "+919061500000"


def test_rate_limits_send_retry_after_in_both_forms(sim):
    sim.set_faults(Faults(rate_limit=1.0, retry_after=3))
    reply = get(sim, f"/report/v1/message-log/{uuid.uuid4()}")
    assert reply.status_code == 429 and reply.headers["retry-after"] == "3"
    sim.set_faults(Faults(rate_limit=1.0, retry_after=3, retry_after_http_date=True))
    reply = get(sim, "/sms/1/reports", IB)
    assert reply.status_code == 429 and reply.json()["errorCode"] == "E429"
    assert email.utils.parsedate_to_datetime(reply.headers["retry-after"]) is not None


def test_error_share_and_bursts():
    s = Simulator(faults=Faults(error_rate=0.3, seed=1))
    s.start()
    try:
        rid = s.create_request("sms", ["+1"])
        with httpx.Client(base_url=s.base_url, headers=D7) as client:
            path = f"/report/v1/message-log/{rid}"
            codes = [client.get(path).status_code for _ in range(200)]
            assert 30 < sum(c >= 500 for c in codes) < 90
            s.set_faults(Faults(burst_every=20, burst_len=5))
            codes = [client.get(path).status_code for _ in range(40)]
            assert codes.count(429) == 10
    finally:
        s.stop()


def test_a_hanging_request_does_not_block_others(sim):
    rid = sim.create_request("sms", ["+1"])
    sim.set_faults(Faults(timeout_rate=1.0))

    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=sim.base_url, headers=D7) as client:
            seen = sim.request_count
            hanging = asyncio.create_task(client.get(f"/report/v1/message-log/{rid}", timeout=30))
            for _ in range(500):  # until the server has taken the request in
                if sim.request_count > seen:
                    break
                await asyncio.sleep(0.01)
            sim.set_faults(Faults())
            reply = await client.get(f"/report/v1/message-log/{rid}", timeout=5)
            assert reply.status_code == 200
            assert not hanging.done()
            hanging.cancel()

    asyncio.run(scenario())


def test_malformed_and_hostile_bodies():
    s = Simulator(faults=Faults(malformed_rate=1.0))
    s.start()
    try:
        rid = s.create_request("sms", ["+1"])
        client = httpx.Client(base_url=s.base_url, headers=D7)
        path = f"/report/v1/message-log/{rid}"
        bodies = [client.get(path).content for _ in range(20)]
        broken = 0
        for body in bodies:
            try:
                data = json.loads(body)
                broken += not isinstance(data, dict) or not isinstance(data.get("messages"), list)
            except ValueError:
                broken += 1
        assert broken == 20
        s.set_faults(Faults(hostile=True, seed=2))
        texts = [client.get(path).content for _ in range(60)]
        client.close()
        joined = b"".join(texts)
        assert b"[bold red]" in joined or b"[@click" in joined
        assert b"\\u001b" in joined  # ESC, JSON-escaped in the body
    finally:
        s.stop()


def test_many_requests_at_sixteen_in_flight_all_complete(sim):
    rid = sim.create_request("sms", ["+1"])

    async def scenario() -> list[int]:
        limits = httpx.Limits(max_connections=16)
        async with httpx.AsyncClient(base_url=sim.base_url, headers=D7, limits=limits) as c:
            sem = asyncio.Semaphore(16)

            async def one() -> int:
                async with sem:
                    return (await c.get(f"/report/v1/message-log/{rid}")).status_code

            return await asyncio.gather(*(one() for _ in range(600)))

    assert set(asyncio.run(scenario())) == {200}
    assert sim.connections <= 16 + 1


def test_fault_specs_parse_and_refuse_nonsense():
    f = parse_fault_specs(["5xx=0.3,429=0.1", "hostile", "retry-after=2"])
    assert (f.error_rate, f.rate_limit, f.hostile, f.retry_after) == (0.3, 0.1, True, 2)
    for bad in ("5xx=2", "explode", "timeout=x"):
        with pytest.raises(FaultSpecError):
            parse_fault_specs([bad])


def test_demo_seeds_every_channel():
    s = Simulator(demo=True)
    channels = {t[1] for t in s.demo_targets()}
    assert channels == {"sms", "whatsapp", "viber", "infobip"}
    s.advance(10)
    assert len(s.changes) > len(s.demo_targets())


def test_simulate_command_refuses_a_bad_fault_in_one_line(capsys):
    from d7tui.cli import main

    assert main(["simulate", "--fault", "explode"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "explode" in err
