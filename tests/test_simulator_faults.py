"""The simulator misbehaves on demand, the way real vendors and their proxies do: 5xx, 429 with
Retry-After in both forms, requests never answered, broken 200 bodies, hostile strings."""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
from collections.abc import Iterator

import httpx
import pytest
from pollkit import until

from d7tui.simulator import Faults, FaultSpecError, Simulator, parse_fault_specs
from d7tui.simulator import hostile as hostile_mod

D7 = {"Authorization": "Bearer sim-token"}
IB = {"Authorization": "App sim-infobip-key"}


@pytest.fixture
def sim() -> Iterator[Simulator]:
    s = Simulator(seed=3, speed=0)
    s.start()
    yield s
    s.stop()


def sms_path(sim: Simulator, *recipients: str) -> str:
    return "/report/v1/message-log/" + sim.create_request("sms", list(recipients or ["+1"]))


def test_server_errors_come_at_the_asked_share_in_each_vendors_dress(sim):
    sim.set_faults(Faults(error_rate=0.3, seed=1))
    path = sms_path(sim)
    with httpx.Client(base_url=sim.base_url, headers=D7) as client:
        replies = [client.get(path) for _ in range(200)]
        errors = [r for r in replies if r.status_code >= 500]
        assert 35 < len(errors) < 90
        assert {r.status_code for r in errors} == {500, 502, 503}
        assert all(r.status_code in (200, 500, 502, 503) for r in replies)
        assert (
            next(r for r in errors if r.status_code == 502).headers["content-type"] == "text/html"
        )
        sim.set_faults(Faults(error_rate=1.0, seed=4))
        infobip = [client.get("/sms/1/reports", headers=IB) for _ in range(20)]
        plain500 = [r for r in infobip if r.status_code == 500]
        assert plain500 and all("requestError" in r.json() for r in plain500)
        # A path that is no route is not a vendor endpoint: no faults there.
        assert client.get("/no/such/route").status_code == 404


def test_rate_limit_bursts():
    s = Simulator(faults=Faults(burst_every=20, burst_len=5))
    s.start()
    try:
        path = sms_path(s)
        with httpx.Client(base_url=s.base_url, headers=D7) as client:
            codes = [client.get(path).status_code for _ in range(40)]
        assert codes[:5] == [429] * 5 and codes[5:20] == [200] * 15
        assert codes.count(429) == 10
    finally:
        s.stop()


def test_429_carries_the_vendors_body_and_retry_after_in_both_forms(sim):
    path = sms_path(sim)
    with httpx.Client(base_url=sim.base_url) as client:
        sim.set_faults(Faults(rate_limit=1.0, retry_after=3))
        reply = client.get(path, headers=D7)
        assert reply.status_code == 429 and reply.headers["retry-after"] == "3"
        assert reply.json() == {
            "detail": {"code": "TOO_MANY_REQUESTS", "message": "Too many requests."}
        }
        reply = client.get("/sms/1/logs", headers=IB)
        assert reply.status_code == 429
        body = reply.json()
        assert list(body) == ["errorCode", "description", "action", "violations", "resources"]
        assert (body["errorCode"], body["violations"], body["resources"]) == ("E429", [], [])

        sim.set_faults(Faults(rate_limit=1.0, retry_after=3, retry_after_http_date=True))
        before = time.time()
        reply = client.get(path, headers=D7)
        when = email.utils.parsedate_to_datetime(reply.headers["retry-after"]).timestamp()
        assert before + 3 <= when <= time.time() + 4  # rounded up to whole seconds, never shorter

        sim.set_faults(Faults(rate_limit=1.0, retry_after_http_date=0.5, seed=2))
        forms = {
            "date" if "GMT" in client.get(path, headers=D7).headers["retry-after"] else "seconds"
            for _ in range(30)
        }
        assert forms == {"date", "seconds"}


async def test_a_request_never_answered_does_not_block_others(sim):
    path = sms_path(sim)
    sim.set_faults(Faults(timeout_rate=1.0))
    async with httpx.AsyncClient(base_url=sim.base_url, headers=D7) as hung_client:
        seen = sim.request_count
        hanging = asyncio.create_task(hung_client.get(path, timeout=30))
        await until(None, lambda: sim.request_count > seen)  # the server has taken it in
        sim.set_faults(Faults())
        async with httpx.AsyncClient(base_url=sim.base_url, headers=D7) as other:
            replies = await asyncio.gather(*(other.get(path, timeout=5) for _ in range(20)))
        assert {r.status_code for r in replies} == {200}
        assert not hanging.done()
        hanging.cancel()
    # A client that gives up gets its timeout, and the server still stops at once.
    sim.set_faults(Faults(timeout_rate=1.0))
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(sim.base_url + path, headers=D7, timeout=0.3)


def test_malformed_200_bodies_are_broken_at_the_envelope(sim):
    path = sms_path(sim)
    bulk, _ = sim.create_infobip_bulk(["41793026727"])
    sim.set_faults(Faults(malformed_rate=1.0, seed=5))
    with httpx.Client(base_url=sim.base_url) as client:
        for url, headers, key in ((path, D7, "messages"), ("/sms/1/logs", IB, "results")):
            kinds = set()
            for _ in range(30):
                reply = client.get(url, headers=headers)
                assert reply.status_code == 200
                try:
                    data = json.loads(reply.content)
                except ValueError:
                    kinds.add(reply.headers["content-type"])
                    continue
                assert not isinstance(data, dict) or not isinstance(data.get(key), list)
                kinds.add(type(data).__name__)
            assert {"text/html", "dict", "list"} <= kinds
        # Error answers and sends stay well-formed.
        assert client.get(f"/report/v1/viber-log/{bulk}", headers=D7).status_code == 422
        missing = client.get("/report/v1/viber-log/" + "0" * 32, headers=D7)
        assert missing.json()["detail"]["code"] == "VIBER_MESSAGE_LOG_NOT_EXISTS"
        body = {"messages": [{"recipients": ["+1"], "content": "x"}]}
        assert "request_id" in client.post("/messages/v1/send", json=body, headers=D7).json()


def test_hostile_strings_reach_every_text_field(sim):
    sms = sms_path(sim, "+971501234567", "+971507654321")
    wa = "/whatsapp/v2/report/" + sim.create_request("whatsapp", ["+919061700000"])
    bulk, _ = sim.create_infobip_bulk(["41793026727", "41793026834"])
    sim.advance(600)
    sim.set_faults(Faults(hostile=True, seed=2))
    raw: list[bytes] = []
    with httpx.Client(base_url=sim.base_url) as client:
        for _ in range(40):
            raw += [client.get(sms, headers=D7).content, client.get(wa, headers=D7).content]
            raw.append(client.get("/sms/1/logs", headers=IB, params={"bulkId": bulk}).content)
        raw.append(client.get("/sms/1/reports", headers=IB).content)
    joined = b"".join(raw)
    for needle in (
        b"[bold red]x[/]",
        b"[@click=app.quit]",
        b"\\u001b[31m",  # ESC, JSON-escaped
        b"\\u001b]0;pwned\\u0007",  # OSC retitling the terminal
        "\u202e".encode(),  # right-to-left override
        "\x9b".encode(),  # a C1 CSI, raw in the body
    ):
        assert needle in joined, needle
    undecodable = 0
    recipients: set[tuple[str, ...]] = set()
    for body in raw:
        try:
            data = json.loads(body.decode("utf-8"))
        except UnicodeDecodeError:
            undecodable += 1
            continue
        if "total_recipients" in data:
            recipients.add(tuple(m["recipient"] for m in data["messages"]))
    assert undecodable > 0  # now and then the body is not even UTF-8
    # Identity fields are spoiled the same way on every poll: one odd recipient, not a new one.
    assert len(recipients) == 1
    assert all(r.startswith("+97150") and r != "+971501234567" for r in next(iter(recipients)))


def test_hostile_fields_are_sometimes_a_megabyte(sim, monkeypatch):
    rng = random.Random(9)
    draws = [hostile_mod.noisy(rng, "x") for _ in range(500)]
    assert any(len(d) > 1_000_000 for d in draws) and any(len(d) < 100 for d in draws)
    # And such a body goes over the wire whole.
    monkeypatch.setattr(hostile_mod, "MEGABYTE_SHARE", 1.0)
    wa = "/whatsapp/v1/report/" + sim.create_request("whatsapp", ["+919061700000"])
    sim.set_faults(Faults(hostile=True, seed=1))
    reply = httpx.get(sim.base_url + wa, headers=D7, timeout=10)
    assert reply.status_code == 200 and len(reply.content) > 3_000_000


def test_fault_specs_parse_and_refuse_nonsense():
    f = parse_fault_specs(
        ["5xx=0.3,429=0.1", "hostile", "retry-after=2", "timeout=0.05", "malformed=0.05"]
    )
    assert (f.error_rate, f.rate_limit, f.hostile, f.retry_after) == (0.3, 0.1, True, 2)
    assert (f.timeout_rate, f.malformed_rate) == (0.05, 0.05)
    f = parse_fault_specs(["retry-after-date", "burst-every=100", "burst-len=10", "seed=4"])
    assert (f.retry_after_http_date, f.burst_every, f.burst_len, f.seed) == (True, 100, 10, 4)
    assert parse_fault_specs(["retry-after-date=0.5"]).retry_after_http_date == 0.5
    assert parse_fault_specs([], base=Faults(seed=7)).seed == 7
    for bad in (
        "5xx=2",
        "explode",
        "timeout=x",
        "429",
        "retry-after=-1",
        "burst-len=1.5",
        "5xx=nan",
    ):
        with pytest.raises(FaultSpecError) as info:
            parse_fault_specs([bad])
        assert "\n" not in str(info.value)
