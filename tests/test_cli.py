"""`d7tui status`: what a user running it against the (simulated) APIs sees, and its exit codes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from d7tui.cli import main
from d7tui.simulator import Simulator

TOKEN = "sim-token-5f0c2b"
IB_KEY = "sim-infobip-key-77aa"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    simulator = Simulator(token=TOKEN, infobip_key=IB_KEY, seed=7)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def env(sim: Simulator, monkeypatch: pytest.MonkeyPatch, tmp_path) -> dict[str, str]:
    values = {
        "D7_API_TOKEN": TOKEN,
        "D7_BASE_URL": sim.base_url,
        "INFOBIP_API_KEY": IB_KEY,
        "INFOBIP_BASE_URL": sim.base_url,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("D7TUI_INFOBIP_SOURCE", raising=False)
    return values


def run(capsys: pytest.CaptureFixture[str], *argv: str, stdin: str = "") -> tuple[int, str, str]:
    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    finally:
        sys.stdin = old
    out, err = capsys.readouterr()
    return code, out, err


def test_status_table_shows_every_recipient(sim, env, capsys):
    rid = sim.create_request("sms", recipients=["+971501234567", "+971507654321"])
    code, out, err = run(capsys, "status", rid)
    assert code == 0, err
    assert rid in out
    assert "+971501234567" in out and "+971507654321" in out
    assert "sms" in out
    assert err == ""


def test_auto_finds_the_channel_that_has_the_id(sim, env, capsys):
    rid = sim.create_request("viber", recipients=["+971501112233"])
    code, out, _ = run(capsys, "status", rid, "--json")
    assert code == 0
    line = json.loads(out)
    assert line["channel"] == "viber"
    recipient = line["recipients"][0]
    for key in (
        "msg_id",
        "recipient",
        "status",
        "phase",
        "final",
        "reason",
        "cost",
        "currency",
        "parts",
        "country",
        "schedule_time",
    ):
        assert key in recipient
    assert recipient["recipient"] == "+971501112233"


def test_json_lines_keep_input_order_and_read_stdin(sim, env, capsys):
    ids = [sim.create_request("sms", recipients=[f"+97150000000{i}"]) for i in range(5)]
    code, out, _ = run(capsys, "status", "-", "--channel", "sms", "--json", stdin="\n".join(ids))
    assert code == 0
    assert [json.loads(line)["request_id"] for line in out.splitlines()] == ids


def test_duplicates_are_merged(sim, env, capsys):
    rid = sim.create_request("sms", recipients=["+971500000009"])
    code, out, _ = run(capsys, "status", rid, rid.upper(), "--json")
    assert code == 0
    assert len(out.splitlines()) == 1


def test_bad_id_is_refused_before_anything_is_requested(sim, env, capsys):
    before = sim.request_count
    code, out, err = run(capsys, "status", str(uuid.uuid4()), "../../etc/passwd")
    assert code == 2
    assert out == ""
    assert "not a D7 request id" in err
    assert len(err.strip().splitlines()) == 2  # the refused id, and "nothing was requested"
    assert sim.request_count == before


def test_unknown_id_exits_3_with_one_line(sim, env, capsys):
    found = sim.create_request("sms", recipients=["+971500000010"])
    missing = str(uuid.uuid4())
    code, out, err = run(capsys, "status", found, missing)
    assert code == 3
    assert found in out
    assert err.count("\n") == 1 and missing in err and "not found" in err


def test_wrong_token_exits_4_names_the_setting_and_never_prints_it(sim, env, capsys, monkeypatch):
    monkeypatch.setenv("D7_API_TOKEN", "wrong-token-123456")
    code, out, err = run(capsys, "status", str(uuid.uuid4()), "--channel", "sms")
    assert code == 4
    assert "D7_API_TOKEN" in err
    assert "wrong-token-123456" not in out + err
    assert TOKEN not in out + err


def test_missing_token_exits_4(sim, env, capsys, monkeypatch):
    monkeypatch.delenv("D7_API_TOKEN")
    code, _, err = run(capsys, "status", str(uuid.uuid4()))
    assert code == 4
    assert "D7_API_TOKEN" in err


def test_unreachable_exits_5(env, capsys, monkeypatch):
    # A port nothing listens on: connection refused, retried, then one clear line.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("D7_BASE_URL", f"http://127.0.0.1:{port}")
    code, _, err = run(capsys, "status", str(uuid.uuid4()), "--channel", "sms")
    assert code == 5
    assert "unreachable" in err
    assert len(err.strip().splitlines()) == 1


def test_infobip_reports_are_shown_then_remembered(sim, env, capsys):
    bulk_id, _ = sim.create_infobip_bulk(["41793026727", "41793026834"])
    sim.advance(600)  # every message finished: its report is waiting
    reports = ("--infobip-source", "reports")
    code, out, err = run(capsys, "status", bulk_id, "--channel", "infobip", "--json", *reports)
    assert code == 0, err
    line = json.loads(out)
    assert {r["recipient"] for r in line["recipients"]} == {"41793026727", "41793026834"}
    assert all("bulkId" in r["fields"] and "sentAt" in r["fields"] for r in line["recipients"])
    # The first pull of one-time reports from an account says what it costs others, once.
    assert "warning: Infobip delivery reports are one-time" in err
    assert len(err.splitlines()) == 1
    # The API hands a report out once; the store remembers it, so the next look still shows it.
    before = sim.counts.get("infobip_reports", 0)
    code, out, err = run(capsys, "status", bulk_id, "--channel", "infobip", "--json", *reports)
    assert "one-time" not in err  # said once per account and data directory
    assert code == 0, err
    assert sim.counts.get("infobip_reports", 0) > before  # it did ask again
    assert {r["recipient"] for r in json.loads(out)["recipients"]} == {
        "41793026727",
        "41793026834",
    }


def test_infobip_bulk_never_reported_says_why(sim, env, capsys):
    bulk_id, _ = sim.create_infobip_bulk(["41793026000"])  # still pending: no report yet
    code, _, err = run(
        capsys, "status", bulk_id, "--channel", "infobip", "--infobip-source", "reports"
    )
    assert code == 3
    assert "handed out once" in err


def test_add_then_export_round_trip(sim, env, capsys):
    rid = sim.create_request("sms", recipients=["+971500000077"])
    code, out, err = run(capsys, "add", rid, "not-an-id", "--label", "VIP [bold]x[/]")
    assert code == 2
    assert "added 1" in out and "refused 1" in out
    assert "not a D7 request id" in err
    code, out, _ = run(capsys, "add", "-", stdin=rid)
    assert code == 0 and "already watched 1" in out
    code, out, err = run(capsys, "export", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    watched = [w for w in data["watchlist"] if w["request_id"] == rid]
    assert watched and watched[0]["label"] == "VIP [bold]x[/]"
    assert TOKEN not in out


def test_infobip_logs_can_be_reread(sim, env, capsys):
    bulk_id, _ = sim.create_infobip_bulk(["41790000001"])
    sim.advance(600)
    for _ in range(2):
        code, out, _ = run(
            capsys, "status", bulk_id, "--channel", "infobip", "--infobip-source", "logs", "--json"
        )
        assert code == 0
        assert json.loads(out)["recipients"][0]["recipient"] == "41790000001"


def test_bad_usage_is_one_line(env, capsys):
    code, _, err = run(capsys, "status", "--channel", "telegram", str(uuid.uuid4()))
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "telegram" in err


def test_console_script_runs_as_a_module(sim, env):
    rid = sim.create_request("whatsapp", recipients=["+919061700000"])
    proc = subprocess.run(
        [sys.executable, "-m", "d7tui", "status", rid, "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["channel"] == "whatsapp"


def test_status_explains_each_outcome_in_words_and_json(sim, env, capsys):
    rid = sim.create_request(
        "sms",
        recipients=["+971500000101", "+971500000102"],
        script=[[(0, "sent"), (5, "spam_content")], [(0, "sent"), (5, "delivered")]],
    )
    sim.advance(10)
    code, out, err = run(capsys, "status", rid, "--channel", "sms")
    assert code == 0, err
    assert "what it means:" in out
    assert "spam_content (+971500000101): permanent failure" in out
    assert "delivered (+971500000102): success" in out
    assert "Next: Sending the same text fails again" in out
    code, out, err = run(capsys, "status", rid, "--channel", "sms", "--json")
    assert code == 0, err
    by_number = {r["recipient"]: r["explanation"] for r in json.loads(out)["recipients"]}
    spam = by_number["+971500000101"]
    assert spam["code"] == "spam_content" and spam["known"] is True
    assert spam["outcome"] == "permanent failure" and spam["permanent"] is True
    assert "spam" in spam["meaning"] and spam["next_step"]
    assert by_number["+971500000102"]["outcome"] == "success"


def test_status_explains_infobip_status_and_error_together(sim, env, capsys):
    bulk_id, _ = sim.create_infobip_bulk(
        ["41793026999"], script=[(0, "PENDING_ACCEPTED"), (5, "UNDELIVERABLE_NOT_DELIVERED")]
    )
    sim.advance(10)
    code, out, err = run(
        capsys, "status", bulk_id, "--channel", "infobip", "--infobip-source", "logs", "--json"
    )
    assert code == 0, err
    explanation = json.loads(out)["recipients"][0]["explanation"]
    assert explanation["code"] == "UNDELIVERABLE_NOT_DELIVERED / EC_ABSENT_SUBSCRIBER"
    assert explanation["outcome"] == "temporary failure"
    assert "off or out of coverage" in explanation["meaning"]


def test_export_into_a_reader_that_stops_early_ends_quietly(env, tmp_path):
    ids = [str(uuid.uuid4()) for _ in range(400)]
    environ = {**os.environ, **env}
    subprocess.run(
        [sys.executable, "-m", "d7tui", "add", *ids], env=environ, capture_output=True, timeout=60
    )
    # `d7tui export | head -1`: the pipe closes after one line.
    shell = f"'{sys.executable}' -m d7tui export | head -1; exit ${{PIPESTATUS[0]}}"
    proc = subprocess.run(
        ["bash", "-c", shell], env=environ, capture_output=True, text=True, timeout=60
    )
    assert proc.stdout == "{\n"
    assert proc.stderr == ""
    assert proc.returncode == 0


def test_status_asks_many_infobip_ids_in_one_call(sim, env, capsys):
    ids = [sim.create_infobip_bulk([f"4179{n:07d}"])[0] for n in range(30)]
    before = sim.infobip_calls.get("/sms/3/logs", 0)
    code, out, err = run(capsys, "status", *ids, "--channel", "infobip", "--json")
    assert code == 0, err
    assert sim.infobip_calls["/sms/3/logs"] - before == 1  # not 30
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["request_id"] for line in lines] == ids  # in the order given
    assert all(len(line["recipients"]) == 1 for line in lines)
    status = lines[0]["recipients"][0]["fields"]["status"]
    assert {"groupId", "groupName", "id", "name", "description"} <= set(status)
    assert lines[0]["recipients"][0]["fields"]["content"] == {"text": "(hidden)"}


def test_status_shows_an_id_past_the_logs_48_hours_from_memory(env, capsys, monkeypatch):
    import asyncio
    import time

    from d7tui.channels import infobip
    from d7tui.channels.infobip import parse_page
    from d7tui.channels.status import StatusClient
    from d7tui.config import load_settings
    from d7tui.models import Channel, IdKind, RequestStatus, Target, observe
    from d7tui.store import open_store

    old = Simulator(token=TOKEN, infobip_key=IB_KEY, seed=3, speed=0)
    old.start()
    try:
        monkeypatch.setenv("INFOBIP_BASE_URL", old.base_url)
        # Sent two days ago (by the real clock) and stored then by a monitor: not asked at all.
        sent = infobip.format_time(int((time.time() - 49 * 3600) * 1000))
        item = {
            "bulkId": "B-OLD",
            "messageId": "m-1",
            "destination": "41793026727",
            "sentAt": sent,
            "status": {"groupName": "PENDING", "name": "PENDING_ENROUTE"},
        }
        stored = RequestStatus("B-OLD", Channel.INFOBIP, (infobip.parse_item(item, 0),))
        with open_store(parse_report=parse_page) as store:
            store.save_observation(*observe(None, stored, 1.0))
        code, out, err = run(capsys, "status", "B-OLD", "--channel", "infobip")
        assert code == 0, err
        assert "from memory, last seen" in out and "PENDING_ENROUTE" in out
        assert old.infobip_calls == {}  # not asked in vain

        # Seen by a monitor, then forgotten by the API: asked, and the store's state shown.
        bulk, _ = old.create_infobip_bulk(["41793026727"], [(0, "PENDING_ACCEPTED")])
        target = Target(bulk, "infobip", IdKind.BULK)

        async def seen_by_the_monitor() -> None:
            async with StatusClient(load_settings()) as client:
                state, transitions = observe(None, await client.fetch(target), 1.0)
            with open_store(parse_report=parse_page) as store:
                store.save_observation(state, transitions)

        asyncio.run(seen_by_the_monitor())
        old.advance(49 * 3600)
        code, out, err = run(capsys, "status", bulk, "--channel", "infobip", "--json")
        assert code == 0, err
        line = json.loads(out)
        assert line["from_memory"] is True and line["recipients"][0]["status"] == "PENDING_ACCEPTED"
    finally:
        old.stop()


def test_add_refuses_a_note_it_would_cut_and_keeps_line_breaks_as_spaces(env, capsys):
    rid = str(uuid.uuid4())
    code, out, err = run(capsys, "add", rid, "--note", "M" * 10_000 + "END")
    assert code == 2 and out == ""
    assert (
        err
        == "d7tui add: the note is 10,003 characters; at most 4,096 are kept, so nothing was added\n"
    )
    code, _, err = run(capsys, "add", rid, "--label", "line1\nline2\ttab", "--note", "n1\r\nn2")
    assert code == 0, err
    code, out, _ = run(capsys, "export", "--format", "json")
    (watch,) = json.loads(out)["watchlist"]
    assert (watch["label"], watch["note"]) == ("line1 line2 tab", "n1 n2")


def test_monitor_options_before_a_command_are_refused_not_ignored(env, capsys):
    rid = str(uuid.uuid4())
    code, out, err = run(capsys, "--demo", "status", rid)
    assert code == 2 and out == ""
    assert err == "d7tui: --demo is for the monitor (d7tui --demo), not for d7tui status\n"
    code, _, err = run(capsys, "--demo", "--mask", "export")
    assert code == 2 and "--demo and --mask are for the monitor" in err


def test_ids_after_an_option_are_ids_and_a_stray_option_names_its_command(sim, env, capsys):
    first, second = (sim.create_request("sms", [f"+97150000070{n}"]) for n in range(2))
    code, out, err = run(capsys, "status", first, "--channel", "sms", second, "--json")
    assert code == 0, err
    assert [json.loads(line)["request_id"] for line in out.splitlines()] == [first, second]
    code, _, err = run(capsys, "status", first, "--colour")
    assert code == 2
    assert err == "d7tui status: unrecognized arguments: --colour (see d7tui status --help)\n"
