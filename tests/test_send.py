"""A test message to watch: `d7tui send` over real loopback HTTP. Its bodies are the official
SDK's, key for key; it is sent once and never retried after the server may have taken it; it
asks before spending money; the id it gets back is watched, labelled "test"; balances read."""

from __future__ import annotations

import asyncio
import io
import json
import os
import pty
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import hostile
import pytest
from httpstub import HttpStub, Reply, refused_url
from shell import as_from_a_shell

from d7tui.channels.account import AccountClient, parse_balance
from d7tui.channels.infobip import parse_page
from d7tui.channels.send import MaybeSent, Message, SendProblem, body, check
from d7tui.channels.status import StatusClient
from d7tui.cli import main
from d7tui.client import Engine, RetryPolicy
from d7tui.errors import ApiError, AuthError, ProtocolError, Unreachable
from d7tui.explain import explain
from d7tui.models import Channel, IdKind, Target
from d7tui.safety import Secret
from d7tui.simulator import Simulator
from d7tui.store import Which, open_store

TOKEN = "sim-token-send-9f3a"
IB_KEY = "sim-infobip-key-send-51c0"
FAST = RetryPolicy(attempts=3, base=0.01, cap=0.02)


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    simulator = Simulator(token=TOKEN, infobip_key=IB_KEY, seed=13, speed=0)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def env(sim: Simulator, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for key, value in {
        "D7_API_TOKEN": TOKEN,
        "D7_BASE_URL": sim.base_url,
        "INFOBIP_API_KEY": IB_KEY,
        "INFOBIP_BASE_URL": sim.base_url,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }.items():
        monkeypatch.setenv(key, value)


class Terminal(io.StringIO):
    """Standard input as a terminal a user types into."""

    def isatty(self) -> bool:
        return True


def run(capsys, *argv: str, stdin: io.StringIO | None = None) -> tuple[int, str, str]:
    old = sys.stdin
    sys.stdin = stdin or io.StringIO("")
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.stdin = old
    out, err = capsys.readouterr()
    return code, out, err


def settings(sim: Simulator):
    return sim.settings(d7_token=Secret(TOKEN), infobip_key=Secret(IB_KEY))


# -- the bodies are the SDK's --------------------------------------------------------------------


async def test_the_d7_bodies_are_the_official_sdks_key_for_key():
    """The SDK and d7tui send the same message to a recording server: same path, same JSON
    (but SMS data_coding: the SDK 0.0.16 says "unicode" for any text, a bug; d7tui "auto")."""
    from direct7 import Client

    async with HttpStub() as stub:
        for path in ("/messages/v1/send", "/viber/v1/send", "/whatsapp/v2/send"):
            stub.script(path, Reply(200, {"request_id": "x", "status": "accepted"}))
        sdk = Client(api_token="t")
        sdk.host(stub.base_url)
        calls = [
            (
                lambda: sdk.sms.send_messages(
                    {"recipients": ["+971501234567"], "content": "hi"}, originator="Shop"
                ),
                Message(Channel.SMS, "+971501234567", "hi", sender="Shop"),
            ),
            (
                lambda: sdk.viber.send_viber_message(
                    recipients=["+971501234567"], content="hi", label="PROMOTION", originator="Shop"
                ),
                Message(Channel.VIBER, "+971501234567", "hi", sender="Shop"),
            ),
            (
                lambda: sdk.whatsapp.send_whatsapp_freeform_message(
                    originator="+9190615", recipient="+919061700000", message_type="TEXT", body="hi"
                ),
                Message(Channel.WHATSAPP, "+919061700000", "hi", sender="+9190615"),
            ),
            (
                lambda: sdk.whatsapp.send_whatsapp_templated_message(
                    originator="+9190615",
                    recipient="+919061700000",
                    template_id="otp",
                    language="en",
                    body_parameter_values={"0": "123456"},
                ),
                Message(
                    Channel.WHATSAPP,
                    "+919061700000",
                    template="otp",
                    params=("123456",),
                    sender="+9190615",
                ),
            ),
        ]
        for sdk_call, ours in calls:
            await asyncio.to_thread(sdk_call)
            sdk_seen = stub.requests[-1]
            path, mine = body(check(ours))
            assert path == sdk_seen.path
            theirs = json.loads(sdk_seen.body)
            if ours.channel is Channel.SMS:
                assert theirs["messages"][0].pop("data_coding") == "unicode"
                assert mine["messages"][0].pop("data_coding") == "auto"
            assert mine == theirs, path


def test_bad_messages_are_refused_before_anything_is_sent():
    cases = [
        (Message(Channel.WHATSAPP, "+971501234567", template="", sender="W"), "template name"),
        (
            Message(Channel.WHATSAPP, "+971501234567", template="otp", params=("",), sender="W"),
            "parameter is empty",
        ),
        (
            Message(
                Channel.WHATSAPP, "+971501234567", template="otp", params=("a\x1bb",), sender="W"
            ),
            "a template parameter holds a control character",
        ),
        (Message(Channel.SMS, "+971501234567", "hi", sender="X\x1b[2J"), "the sender holds"),
        (Message(Channel.SMS, "+971501234567", "a\x07b", sender="X"), "the text holds"),
        (Message(Channel.SMS, "call me", "hi", sender="S"), "not a phone number"),
        (Message(Channel.SMS, "+971501234567", "hi"), "needs a sender"),
        (Message(Channel.SMS, "+971501234567", template="otp", sender="S"), "templates are for"),
        (Message(Channel.SMS, "+971501234567", "  ", sender="S"), "the text is empty"),
        (Message(Channel.INFOBIP, "+41793026727", "x" * 1001), "longer than 1000"),
    ]
    for message, said in cases:
        with pytest.raises(SendProblem, match=said):
            check(message)
    with pytest.raises(SendProblem, match="has no country code"):
        check(Message(Channel.SMS, "0501234567", "hi", sender="S"))  # a number as dialled at home
    assert check(Message(Channel.SMS, "00971501234567", "hi", sender="S")).to == "+971501234567"
    # Numbers are written as each vendor writes them.
    assert check(Message(Channel.INFOBIP, "+41 79 302 67 27", "hi")).to == "41793026727"
    assert check(Message(Channel.SMS, "971 50 123 4567", "hi", sender="S")).to == "+971501234567"


# -- sent once: a POST is never retried after the server may have taken it -----------------------


async def test_a_send_goes_once_and_a_5xx_or_a_timeout_after_it_went_is_not_retried():
    async with HttpStub() as stub, Engine(policy=FAST, timeout=0.5) as engine:
        stub.script("/s", Reply(500, "oops"))
        with pytest.raises(Unreachable, match="not retried"):
            await engine.post_json("sms", stub.base_url + "/s", headers={}, body={"a": 1})
        assert stub.count("/s") == 1
        stub.script("/t", Reply(hang=True))
        with pytest.raises(Unreachable, match="answers too slowly \\(not retried\\)"):
            await engine.post_json("sms", stub.base_url + "/t", headers={}, body={"a": 1})
        assert stub.count("/t") == 1
        stub.script("/c", Reply(close=True))
        with pytest.raises(Unreachable, match="not retried"):
            await engine.post_json("sms", stub.base_url + "/c", headers={}, body={"a": 1})
        assert stub.count("/c") == 1


async def test_a_send_refused_with_429_or_never_connected_is_tried_again():
    async with HttpStub() as stub, Engine(policy=FAST) as engine:
        stub.script(
            "/s", Reply(429, {}, headers={"Retry-After": "0"}), Reply(200, {"request_id": "r"})
        )
        reply = await engine.post_json("sms", stub.base_url + "/s", headers={"X": "1"}, body=[1])
        assert reply.status == 200 and stub.count("/s") == 2
        seen = stub.requests[-1]
        assert (seen.method, seen.body, seen.headers["content-type"]) == (
            "POST",
            b"[1]",
            "application/json",
        )
        assert seen.headers["x"] == "1"
        before = engine.stats["requests"]
        with pytest.raises(Unreachable, match="after 3 tries"):
            await engine.post_json("sms", refused_url() + "/s", headers={}, body={})
        assert engine.stats["requests"] - before == 3


async def test_a_send_without_a_usable_answer_says_it_may_have_gone_out():
    async with HttpStub() as stub:
        stub.script(
            "/messages/v1/send",
            Reply(502, "bad gateway"),
            Reply(200, {"status": "accepted"}),  # no request_id to watch
        )
        config = settings_for(stub.base_url)
        async with AccountClient(config, Engine(policy=FAST)) as client:
            message = check(Message(Channel.SMS, "+971501234567", "hi", sender="S"))
            with pytest.raises(
                MaybeSent,
                match=r"^sms: the message may have been sent, so it is not watched; "
                "look in the vendor's dashboard before sending again",
            ):
                await client.send(message)
            assert stub.count("/messages/v1/send") == 1
            with pytest.raises(
                MaybeSent,
                match=r"^sms: the message was most likely sent \(HTTP 200\).*"
                r"before sending again \(.*without a request_id\)",
            ):
                await client.send(message)


def settings_for(base_url: str):
    from d7tui.config import Settings

    return Settings(
        d7_token=Secret(TOKEN),
        d7_base_url=base_url,
        infobip_key=Secret(IB_KEY),
        infobip_base_url=base_url,
    )


# -- the command --------------------------------------------------------------------------------


def test_send_sms_is_watched_labelled_test_and_its_status_is_read(sim, env, capsys):
    code, out, err = run(
        capsys, "send", "--channel", "sms", "--to", "+971501112233", "--text", "hi",
        "--from", "Shop", "--yes", "--json",
    )  # fmt: skip
    assert code == 0, err
    sent = json.loads(out)
    assert sent["channel"] == "sms" and sent["status"] == "accepted" and sent["watching"]
    with open_store(parse_report=parse_page) as store:
        (watch,) = [w for w in store.watches(Which.LIVE) if w.request_id == sent["request_id"]]
    assert (watch.label, watch.channel) == ("test", "sms")
    assert "test message to +971501112233" in watch.note
    code, out, _ = run(capsys, "status", sent["request_id"], "--json")
    assert code == 0 and json.loads(out)["recipients"][0]["recipient"] == "+971501112233"
    assert TOKEN not in out + err


def test_infobip_send_uses_v3_and_watches_the_bulk(sim, env, capsys):
    before = sim.counts["send"]
    code, out, err = run(
        capsys, "send", "--channel", "infobip", "--to", "+41793026727", "--text", "hi", "--yes"
    )
    assert code == 0, err
    assert sim.counts["send"] == before + 1
    bulk = out.split()[1]
    assert bulk in sim.world.bulks and "PENDING_ACCEPTED" in out
    with open_store(parse_report=parse_page) as store:
        (watch,) = [w for w in store.watches(Which.LIVE) if w.request_id == bulk]
    assert (watch.channel, watch.id_kind) == ("infobip", IdKind.BULK)


def test_without_a_terminal_send_needs_yes_and_on_one_it_asks(sim, env, capsys):
    before = sim.counts["send"]
    argv = ("send", "--channel", "viber", "--to", "+380501234567", "--text", "hi", "--from", "V")
    code, out, err = run(capsys, *argv)
    assert code == 2 and "add --yes" in err and out == ""
    code, _, err = run(capsys, *argv, stdin=Terminal("n\n"))
    assert code == 1 and "It costs money. [y/N]" in err and "not sent" in err
    assert err.startswith("Send one viber (D7) message to +380501234567 from V (2 characters)?")
    code, _, err = run(capsys, *argv, stdin=Terminal(""))  # ctrl+d: no answer is no
    assert code == 1 and err.endswith("[y/N] \nd7tui send: not sent\n")
    assert sim.counts["send"] == before  # nothing was requested
    code, out, err = run(capsys, *argv, stdin=Terminal("y\n"))
    assert code == 0, err
    assert sim.counts["send"] == before + 1 and out.startswith("sent: ")


def test_a_send_the_vendor_refuses_in_its_answer_is_not_sent_and_not_watched(sim, env, capsys):
    sim.accounts.infobip = 0.0
    try:
        code, out, err = run(
            capsys, "send", "--channel", "infobip", "--to", "+41793026727", "--text", "hi", "--yes"
        )
    finally:
        sim.accounts.infobip = 50.0
    assert code == 5 and out == "" and len(err.splitlines()) == 1
    assert err.startswith(
        "d7tui send: infobip: not sent: Infobip refused it: REJECTED_NOT_ENOUGH_CREDITS: Your "
        "Infobip account is out of credit"
    )
    with open_store() as store:
        assert store.watches(Which.LIVE) == []


def test_bad_usage_and_a_refused_token_are_one_line(sim, env, capsys, monkeypatch):
    code, _, err = run(
        capsys, "send", "--channel", "sms", "--to", "12", "--text", "hi", "--from", "S", "--yes"
    )
    assert code == 2 and "not a phone number" in err and len(err.splitlines()) == 1
    monkeypatch.setenv("D7_API_TOKEN", "wrong-token-777")
    code, out, err = run(
        capsys, "send", "--channel", "sms", "--to", "+971501234567", "--text", "hi",
        "--from", "S", "--yes",
    )  # fmt: skip
    assert code == 4 and "D7_API_TOKEN" in err and "wrong-token-777" not in out + err


# -- the balance, and what happens without it -------------------------------------------------


async def test_balances_are_read_and_a_send_spends_them(sim):
    async with AccountClient(settings(sim)) as client:
        d7_before = await client.balance("d7")
        infobip = await client.balance("infobip")
        assert d7_before.currency is None and infobip.currency == "EUR"
        assert infobip.text() == f"infobip {infobip.amount:,.4f} EUR"
        await client.send(check(Message(Channel.SMS, "+971501234567", "hi", sender="S")))
        d7_after = await client.balance("d7")
    assert d7_after.amount == pytest.approx(d7_before.amount - 0.0004)
    async with AccountClient(settings(sim).__class__()) as nobody:
        with pytest.raises(AuthError):
            await nobody.balance("d7")


async def test_an_empty_account_fails_the_message_and_the_explanation_points_to_the_balance(sim):
    config = settings(sim)
    sim.accounts.d7, sim.accounts.infobip = 0.0, 0.0
    try:
        async with AccountClient(config) as client, StatusClient(config) as status:
            sent = await client.send(check(Message(Channel.SMS, "+971501234567", "hi", sender="S")))
            state = await status.fetch(Target(sent.request_id, "sms"))
            (recipient,) = state.recipients
            assert recipient.status == "insufficient_credit"
            explained = explain(Channel.SMS, recipient)
            assert explained is not None and explained.credit
            assert (
                "its balance: in D7's dashboard, or on d7tui's status line" in explained.next_step
            )
            # Infobip answers the send itself with the refusal: not sent, nothing to watch.
            with pytest.raises(
                ApiError,
                match=r"^infobip: not sent: Infobip refused it: REJECTED_NOT_ENOUGH_CREDITS: Your "
                r"Infobip account is out of credit.*Next: Top up the Infobip account",
            ):
                await client.send(check(Message(Channel.INFOBIP, "41793026727", "hi")))
    finally:
        sim.accounts.d7, sim.accounts.infobip = 100.0, 50.0


def test_a_balance_answer_without_a_number_is_a_protocol_error():
    assert parse_balance("d7", b'{"balance": 99.9999999}').amount == 99.9999999
    for raw in (b"{}", b'{"balance": "lots"}', b"[1]", b'{"balance": NaN}'):
        with pytest.raises(ProtocolError):
            parse_balance("d7", raw)
    # A number no account holds would fill the status line with its 309 digits.
    for raw in (b'{"balance": -1e308}', b'{"balance": 1e300, "currency": "EUR"}'):
        with pytest.raises(ProtocolError, match="not a believable amount"):
            parse_balance("infobip", raw)
    # One look before and after a send (H12.4: 100.00, then 99.9996), and the send shows.
    assert parse_balance("d7", b'{"balance": 100}').text() == "d7 100.0000"
    assert parse_balance("d7", b'{"balance": 99.9996}').text() == "d7 99.9996"
    assert parse_balance("d7", b'{"balance": 12345.5}').text() == "d7 12,345.5000"
    assert parse_balance("d7", b'{"balance": -0.0}').text() == "d7 0.0000"
    odd = parse_balance("infobip", b'{"balance": 1.5, "currency": "[bold]USD[/]\\u001b[2J"}')
    # Not a currency, and no markup shown; not `?` either, which read as "balance unknown".
    assert odd.text() == "infobip 1.5000 (currency unreadable)"


def test_the_simulator_answers_infobips_v3_send_and_balances_as_documented(sim):
    import httpx

    ib = {"Authorization": f"App {IB_KEY}"}
    # The request and answer shapes of Infobip's own client's tests (send_sms_messages).
    request = {
        "messages": [
            {
                "sender": "InfoSMS",
                "destinations": [
                    {"to": "41793026727", "messageId": "MY-ID-1"},
                    {"to": "41793026834"},
                ],
                "content": {"text": "This is a sample message"},
            }
        ],
        "options": {"schedule": {"bulkId": "MY-BULK-1"}},
    }
    with httpx.Client(base_url=sim.base_url) as http:
        answer = http.post("/sms/3/messages", json=request, headers=ib)
        assert answer.status_code == 200
        data = answer.json()
        assert data["bulkId"] == "MY-BULK-1"
        first, second = data["messages"]
        assert set(first) == {"messageId", "status", "destination", "details"}
        assert (first["messageId"], first["destination"]) == ("MY-ID-1", "41793026727")
        assert first["status"]["name"] == "PENDING_ACCEPTED" and first["status"]["groupId"] == 1
        assert first["details"] == {"messageCount": 1} and second["messageId"]
        again = http.post("/sms/3/messages", json=request, headers=ib)
        assert again.status_code == 400  # the same messageId twice
        assert http.post("/sms/3/messages", json={"messages": []}, headers=ib).status_code == 400
        assert http.post("/sms/3/messages", json=request).status_code == 401
        assert http.get("/sms/3/messages", headers=ib).status_code == 405
        balance = http.get("/account/1/balance", headers=ib).json()
        assert set(balance) == {"balance", "currency"} and balance["currency"] == "EUR"
        d7 = http.get("/messages/v1/balance", headers={"Authorization": f"Bearer {TOKEN}"})
        assert set(d7.json()) == {"balance"}
        assert http.get("/messages/v1/balance").status_code == 401


def test_the_low_balance_warning_is_set_per_vendor_in_config(tmp_path):
    from d7tui.config import ConfigError, load_settings

    path = tmp_path / "config.toml"
    path.write_text("[low_balance]\nd7 = 20\ninfobip = 0\n")
    assert load_settings(env={}, path=path).low_balance == {"d7": 20.0, "infobip": 0.0}
    assert load_settings(env={}, path=tmp_path / "none.toml").low_balance["d7"] == 5.0
    path.write_text("[low_balance]\nd7 = -3\n")
    with pytest.raises(ConfigError, match=r"low_balance\.d7"):
        load_settings(env={}, path=path)


def infobip_vendor_client(base_url: str):
    import warnings

    from infobip_api_client import ApiClient, Configuration
    from infobip_api_client.api.sms_api import SmsApi

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return SmsApi(ApiClient(Configuration(host=base_url, api_key=IB_KEY)))


def infobip_vendor_request(to: str, text: str, sender: str):
    from infobip_api_client.models import (
        SmsDestination,
        SmsMessage,
        SmsMessageContent,
        SmsRequest,
        SmsTextContent,
    )

    return SmsRequest(
        messages=[
            SmsMessage(
                sender=sender,
                destinations=[SmsDestination(to=to)],
                content=SmsMessageContent(SmsTextContent(text=text)),
            )
        ]
    )


def test_infobips_own_client_sends_through_the_simulator(sim):
    api = infobip_vendor_client(sim.base_url)
    answer = api.send_sms_messages(sms_request=infobip_vendor_request("41793026700", "hi", "Shop"))
    (message,) = answer.messages
    assert answer.bulk_id in sim.world.bulks and message.destination == "41793026700"
    assert message.status.name == "PENDING_ACCEPTED" and message.details.message_count == 1


async def test_the_infobip_body_is_infobips_own_clients():
    async with HttpStub() as stub:
        stub.script(
            "/sms/3/messages", Reply(200, {"bulkId": "b", "messages": [{"messageId": "m"}]})
        )
        api = infobip_vendor_client(stub.base_url)
        request = infobip_vendor_request("41793026727", "hi", "Shop")
        await asyncio.to_thread(api.send_sms_messages, sms_request=request)
        theirs = json.loads(stub.requests[-1].body)
    path, mine = body(check(Message(Channel.INFOBIP, "+41793026727", "hi", sender="Shop")))
    assert path == "/sms/3/messages" and mine == theirs


# -- no answer to watch: the user is told the message may have gone out -------------------------


def test_a_send_answered_200_with_a_body_it_cannot_read_says_it_was_most_likely_sent(
    env, capsys, monkeypatch
):
    with hostile.HostileServer(hostile.unreadable_200) as server:
        monkeypatch.setenv("D7_BASE_URL", server.base_url)
        code, out, err = run(
            capsys, "send", "--channel", "sms", "--to", "+4915112345678", "--text", "hi",
            "--from", "X", "--yes",
        )  # fmt: skip
        assert server.requests == 1  # sent once, never again
    assert code == 5 and out == "" and len(err.splitlines()) == 1
    assert err.startswith(
        "d7tui send: sms: the message was most likely sent (HTTP 200), but its answer could not "
        "be read, so it is not watched; look in the vendor's dashboard before sending again ("
    )
    with open_store(parse_report=parse_page) as store:
        assert store.watches(Which.LIVE) == []


def _d7tui(*argv: str, stdin: int | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "d7tui", *argv],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=as_from_a_shell,
    )


def _read_until(stream, marker: bytes) -> bytes:
    seen = b""
    while marker not in seen:
        byte = stream.read(1)
        assert byte, seen
        seen += byte
    return seen


def test_ctrl_c_at_the_prompt_ends_its_line_and_sends_nothing(sim, env):
    before = sim.counts["send"]
    primary, secondary = pty.openpty()  # standard input is a terminal: d7tui asks
    argv = ("send", "--channel", "sms", "--to", "+971501234567", "--text", "hi", "--from", "S")
    with _d7tui(*argv, stdin=secondary) as proc:
        os.close(secondary)
        prompt = _read_until(proc.stderr, b"[y/N] ")
        proc.send_signal(signal.SIGINT)
        rest = proc.stderr.read()
        os.close(primary)
    assert prompt.startswith(b"Send one sms (D7) message to +971501234567 from S")
    assert rest == b"\nd7tui send: not sent\n" and proc.returncode == 130
    assert sim.counts["send"] == before


def test_ctrl_c_while_sending_says_the_message_may_have_been_sent(env, monkeypatch):
    with hostile.HostileServer(hostile.silent) as server:
        monkeypatch.setenv("D7_BASE_URL", server.base_url)
        argv = ("send", "--channel", "sms", "--to", "+971501234567", "--text", "hi", "--from", "S")
        with _d7tui(*argv, "--yes", stdin=subprocess.DEVNULL) as proc:
            deadline = time.monotonic() + 30
            while server.requests == 0 and proc.poll() is None:  # the POST is on its way
                assert time.monotonic() < deadline
                time.sleep(0.02)
            proc.send_signal(signal.SIGINT)
            err = proc.stderr.read().decode()
    assert proc.returncode == 130
    assert "interrupted while sending: the message may have been sent" in err
    assert "Traceback" not in err
