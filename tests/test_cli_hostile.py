"""`d7tui status` and `d7tui add` against what a hostile server, a broken setting or odd bytes on
standard input do: one line per problem and an exit code, never a traceback, never a hang, and
JSON that a strict parser reads."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from httpstub import HttpStub, Reply

from d7tui.channels.status import StatusClient
from d7tui.cli import main
from d7tui.idinput import LINE_LIMIT

RID = "9d056a09-0fc4-4f68-9058-3846d58aa244"
SMS_PATH = f"/report/v1/message-log/{RID}"
INVISIBLE = "\u200b\u200c\u200d\u200e\u200f\u2028\u2029\u2060\u2061\u2064\ufeff\U000e0041\u00ad"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "D7_API_TOKEN": "tok",
        "INFOBIP_API_KEY": "key",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    for key in ("D7_BASE_URL", "INFOBIP_BASE_URL", "D7TUI_ALLOW_INSECURE_HTTP"):
        monkeypatch.delenv(key, raising=False)
    return values


def d7tui(env: dict[str, str], *argv: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    """d7tui as a user runs it, in a strict UTF-8 locale (a byte that is not text raises)."""
    return subprocess.run(
        [sys.executable, "-m", "d7tui", *argv],
        input=stdin,
        capture_output=True,
        env={**os.environ, **env, "PYTHONIOENCODING": "utf-8:strict"},
        timeout=60,
    )


def strict_loads(line: str) -> object:
    def refuse(token: str) -> object:
        raise ValueError(f"not JSON: {token}")

    return json.loads(line, parse_constant=refuse)


# ---------------------------------------------------------------------------------------------
# Settings the engine cannot use: refused at load, not a hang (issue #11)


@pytest.mark.parametrize(
    "url", ["http://user:pw@127.0.0.1:1", "http://[::1", "http://127.0.0.1:99999", "http://x.org"]
)
def test_status_with_a_base_url_it_cannot_use_says_so_in_one_line(env, url: str) -> None:
    proc = d7tui({**env, "D7_BASE_URL": url}, "status", RID)
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.decode().splitlines()
    assert line.startswith("d7tui: environment variable D7_BASE_URL: "), line
    assert "pw" not in line


def test_any_failure_of_an_id_is_its_one_line_and_the_others_go_on(
    env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A corner no server reaches: a bug below the channel layer raising anything at all. Before,
    # the worker died with it and `status` waited for its result for ever.
    other = str(uuid.uuid4())

    async def fetch(self: StatusClient, target: object) -> object:
        raise KeyError("a bug")

    monkeypatch.setattr(StatusClient, "fetch", fetch)
    code = main(["status", RID, other])
    _, err = capsys.readouterr()
    assert code == 5
    assert err.splitlines() == [
        f"{RID}: auto: internal error: KeyError: 'a bug'",
        f"{other}: auto: internal error: KeyError: 'a bug'",
    ]


# ---------------------------------------------------------------------------------------------
# What the API sends that JSON cannot carry, or a screen cannot show


async def test_json_output_is_strict_json_whatever_the_costs(env, capsys) -> None:
    body = (
        b'{"request_id": "%s", "messages": ['
        b'{"msg_id": "a", "recipient": "+97150000001", "status": "sent", "sms_cost": NaN},'
        b'{"msg_id": "b", "recipient": "+97150000002", "status": "sent", "sms_cost": "Infinity"},'
        b'{"msg_id": "c", "recipient": "+97150000003", "status": "sent", "sms_cost": -1e999,'
        b' "extra": {"deep": [NaN, Infinity]}}]}' % RID.encode()
    )
    async with HttpStub() as stub:
        stub.script(SMS_PATH, Reply(body=body))
        code, out, err = await _status_json(stub.base_url, env)
    assert code == 0, err
    (line,) = out.splitlines()
    data = strict_loads(line)
    assert isinstance(data, dict)
    costs = [r["cost"] for r in data["recipients"]]
    assert costs == [None, None, None]  # no cost anyone can add up
    # What the vendor said is still there, as the text it was.
    fields = [r["fields"] for r in data["recipients"]]
    assert fields[0]["sms_cost"] == "NaN"
    assert fields[1]["sms_cost"] == "Infinity"
    assert fields[2]["extra"] == {"deep": ["NaN", "Infinity"]}


async def _status_json(base_url: str, env: dict[str, str]) -> tuple[int, str, str]:
    """`d7tui status --json` of RID against `base_url`, while the test's loop serves it."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "d7tui",
        "status",
        "--channel",
        "sms",
        "--json",
        RID,
        env={**os.environ, **env, "D7_BASE_URL": base_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_invisible_characters_are_made_visible_in_the_table_and_the_json(env) -> None:
    # A look-alike recipient: "+971501234567" with zero-width characters and a tag in it.
    recipient = "+97150" + INVISIBLE + "1234567"
    body = json.dumps(
        {
            "request_id": RID,
            "messages": [
                {
                    "msg_id": "a",
                    "recipient": recipient,
                    "status": "sent",
                    "reason": INVISIBLE + "\ud800",  # a lone surrogate too (H12.7)
                }
            ],
        },
        ensure_ascii=True,
    ).encode()
    async with HttpStub() as stub:
        stub.script(SMS_PATH, Reply(body=body))
        code, out, err = await _status_json(stub.base_url, env)
    assert code == 0, err
    data = strict_loads(out)
    assert isinstance(data, dict)
    (row,) = data["recipients"]
    assert row["recipient"].startswith("+97150<U+200B><U+200C><U+200D><U+200E><U+200F><U+2028>")
    assert "<U+FEFF><U+E0041><U+00AD>1234567" in row["recipient"]
    assert row["reason"].endswith("<U+00AD><U+D800>")  # by its code point, as SECURITY.md says
    for text in (out, row["reason"]):
        assert not any(ch in text for ch in INVISIBLE)


# ---------------------------------------------------------------------------------------------
# Bytes on standard input that are not text (issue #11: a traceback)


def test_status_refuses_lines_that_are_not_text_one_line_each(env) -> None:
    stdin = b"abc\xff\n" + RID.encode() + b"\n\xc3(\n"
    proc = d7tui(env, "status", "-", stdin=stdin)
    assert proc.returncode == 2
    assert proc.stderr.decode().splitlines() == [
        "d7tui status: standard input line 1 is not UTF-8 text (byte 0xff at column 4)",
        "d7tui status: standard input line 3 is not UTF-8 text (byte 0xc3 at column 1)",
        "d7tui status: nothing was requested",  # as for any bad id: nothing is asked
    ]


def test_add_refuses_lines_that_are_not_text_and_adds_the_rest(env) -> None:
    # A list saved by an editor that starts with a byte order mark, and one line of Latin-1.
    other = str(uuid.uuid4())
    stdin = b"\xef\xbb\xbf" + RID.encode() + b"\nM\xfcller\n" + other.encode() + b"\n"
    proc = d7tui(env, "add", "-", stdin=stdin)
    assert proc.returncode == 2
    assert proc.stdout.decode() == "added 2, already watched 0, refused 1\n"
    assert proc.stderr.decode().splitlines() == [
        "d7tui add: standard input line 2 is not UTF-8 text (byte 0xfc at column 2)"
    ]
    listed = d7tui(env, "export", "--format", "json")
    assert {w["request_id"] for w in json.loads(listed.stdout)["watchlist"]} == {RID, other}


def test_add_reads_a_list_saved_as_utf16(env) -> None:
    # What Windows PowerShell's `>` writes: refused as "not UTF-8", then ids of NUL bytes (L10).
    other = str(uuid.uuid4())
    for encoding in ("utf-16-le", "utf-16-be"):
        bom = "\ufeff".encode(encoding)
        stdin = bom + f"{RID}\r\n{other}\r\n".encode(encoding)
        proc = d7tui(env, "add", "-", stdin=stdin)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == b""
    listed = d7tui(env, "export", "--format", "json")
    assert {w["request_id"] for w in json.loads(listed.stdout)["watchlist"]} == {RID, other}


def test_add_refuses_a_line_too_long_to_be_ids_without_holding_it_and_adds_the_rest(env) -> None:
    stdin = b"x" * (3 * LINE_LIMIT) + b"\n" + RID.encode() + b"\n"
    proc = d7tui(env, "add", "-", stdin=stdin)
    assert proc.returncode == 2
    assert proc.stdout.decode() == "added 1, already watched 0, refused 1\n"
    assert proc.stderr.decode().splitlines() == [
        "d7tui add: standard input line 1 is longer than 1 MB: not ids"
    ]


def test_add_reading_a_terminal_says_what_it_waits_for(env) -> None:
    import pty

    master, slave = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "d7tui", "add", "-", "--channel", "sms"],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **env},
    ) as proc:
        os.close(slave)
        os.write(master, RID.encode() + b"\n\x04")  # a line, then Ctrl-D
        out, err = proc.communicate(timeout=60)
    os.close(master)
    assert err.decode().splitlines() == [
        "d7tui add: reading ids from the terminal, one a line; Ctrl-D ends"
    ]
    assert out.decode() == "added 1, already watched 0\n"


def _address_space(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


@pytest.mark.parametrize("source", [["cat", "/dev/zero"], ["yes", RID]], ids=["zeros", "yes"])
@pytest.mark.parametrize("command", ["add", "status"])
def test_endless_standard_input_is_refused_whole_without_eating_the_machine(
    env, source: list[str], command: str
) -> None:
    # K1: `d7tui add - < /dev/zero` grew to 9.8 GB in 18 s; `yes ID |` grew for ever. Under an
    # address-space bound an unbounded reader dies of MemoryError instead of taking the machine.
    with subprocess.Popen(source, stdout=subprocess.PIPE) as feed:
        proc = subprocess.run(
            [sys.executable, "-m", "d7tui", command, "-", "--channel", "sms"],
            stdin=feed.stdout,
            capture_output=True,
            env={**os.environ, **env},
            timeout=120,
            preexec_fn=lambda: _address_space(2 << 30),
        )
        feed.kill()
    assert proc.returncode == 2, proc.stderr
    nothing = "nothing was added" if command == "add" else "nothing was requested"
    assert proc.stderr.decode().splitlines() == [
        f"d7tui {command}: standard input is longer than 32 MB (about 900,000 ids); "
        f"hand it over in parts; {nothing}"
    ]
    listed = d7tui(env, "export", "--format", "json")
    assert json.loads(listed.stdout)["watchlist"] == []


def test_an_argument_that_is_not_text_is_refused(env) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "d7tui", "status", b"\xff\xfe", RID],
        capture_output=True,
        env={**os.environ, **env},
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.decode().splitlines() == [
        "d7tui status: argument 1 is not UTF-8 text",
        "d7tui status: nothing was requested",
    ]


# ---------------------------------------------------------------------------------------------
# A server that ignores the bulkId / messageId filter: each message goes to the id it names


def _logs_item(message_id: str, bulk_id: str, status: str) -> dict[str, object]:
    return {
        "messageId": message_id,
        "bulkId": bulk_id,
        "destination": "41793026727",
        "status": {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": status},
    }


def _unfiltered(method: str, target: str, credential: str) -> bytes | None:
    if target.startswith("/sms/3/logs"):  # the whole account, whatever was asked
        items = [_logs_item(f"ibm-{i}", "IBX", "DELIVERED_TO_HANDSET") for i in range(4)]
        items.append(_logs_item("ibm-9", "STUCK1", "DELIVERED_TO_HANDSET"))
        return json.dumps({"results": items}).encode()
    return None


@pytest.mark.parametrize(
    "argv, recipients",
    [
        (("STUCK1",), {"STUCK1": ["ibm-9"]}),
        (("ibm-9", "--id-kind", "messageId"), {"ibm-9": ["ibm-9"]}),
        (("STUCK1", "IBX"), {"STUCK1": ["ibm-9"], "IBX": [f"ibm-{i}" for i in range(4)]}),
    ],
)
def test_infobip_messages_go_to_the_id_they_name_whether_one_id_is_asked_or_many(
    env, argv, recipients
) -> None:
    from hostile import HostileServer, answering

    with HostileServer(answering(_unfiltered)) as server:
        proc = d7tui(
            {**env, "INFOBIP_BASE_URL": server.base_url},
            "status", *argv, "--channel", "infobip", "--json",
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = [strict_loads(line) for line in proc.stdout.decode().splitlines()]
    shown = {line["request_id"]: [r["msg_id"] for r in line["recipients"]] for line in lines}
    assert shown == recipients


def test_one_time_reports_of_other_bulks_are_not_filed_under_the_id_asked(env) -> None:
    from hostile import HostileServer, answering

    handed_out = []

    def reports(method: str, target: str, credential: str) -> bytes | None:
        if not target.startswith("/sms/3/reports"):
            return None
        if handed_out:  # handed out once, as Infobip does
            return b'{"results": []}'
        handed_out.append(target)
        items = [
            _logs_item("rb-1", "RB1", "DELIVERED_TO_HANDSET"),
            _logs_item("other-1", "OTHER", "UNDELIVERABLE_NOT_DELIVERED"),
        ]
        return json.dumps({"results": items}).encode()

    env = {**env, "D7TUI_INFOBIP_SOURCE": "reports"}
    with HostileServer(answering(reports)) as server:
        env["INFOBIP_BASE_URL"] = server.base_url
        first = d7tui(env, "status", "RB1", "--channel", "infobip", "--json")
        # Asked again: nothing new is handed out; what the store remembers is shown.
        again = d7tui(env, "status", "RB1", "--channel", "infobip", "--json")
    for proc in (first, again):
        assert proc.returncode == 0, proc.stderr
        (line,) = [strict_loads(text) for text in proc.stdout.decode().splitlines()]
        assert [r["msg_id"] for r in line["recipients"]] == ["rb-1"]


def test_an_auto_id_no_channel_answers_names_every_channel_asked(tmp_path: Path) -> None:
    from hostile import HostileServer, cli_env, silent

    config = tmp_path / "config" / "d7tui" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("timeout = 0.5\n")
    config.chmod(0o600)
    with HostileServer(silent) as server:
        done = subprocess.run(
            [sys.executable, "-m", "d7tui", "status", RID],
            capture_output=True,
            env=cli_env(server.base_url, tmp_path),
            timeout=60,
            text=True,
        )
    # Not "sms: gave up ..." as if sms alone had been asked (H12.8).
    assert done.returncode != 0 and done.stderr.startswith(
        f"{RID}: sms, whatsapp, viber: gave up after 0.5 s"
    ), done


# ---------------------------------------------------------------------------------------------
# A D7 answer about another request (a caching proxy, a mixed-up gateway): not this id's (K3)


def _about(request_id: str) -> bytes:
    message = {"msg_id": "m-1", "recipient": "+971501234567", "status": "delivered"}
    return json.dumps({"request_id": request_id, "messages": [message]}).encode()


def test_a_d7_answer_about_another_request_is_refused_and_not_remembered(env) -> None:
    from hostile import HostileServer, answering

    other = "99999999-9999-4999-8999-999999999999"
    with HostileServer(answering(lambda method, target, credential: _about(other))) as server:
        env = {**env, "D7_BASE_URL": server.base_url}
        proc = d7tui(env, "status", RID, "--channel", "sms", "--json")
        export = d7tui(env, "export", "--format", "json")
    assert proc.returncode != 0
    (shown,) = [strict_loads(text) for text in proc.stdout.decode().splitlines()]
    assert shown["recipients"] == []
    assert shown["error"]["kind"] == "protocol"
    (line,) = proc.stderr.decode().splitlines()
    assert line.startswith(f"{RID}: sms: "), line
    assert f"the answer is about another request ({other})" in line
    assert b"+971501234567" not in export.stdout


def test_a_d7_answer_names_its_request_in_its_own_spelling(env) -> None:
    from hostile import HostileServer, answering

    with HostileServer(answering(lambda method, target, credential: _about(RID))) as server:
        env = {**env, "D7_BASE_URL": server.base_url}
        proc = d7tui(env, "status", RID.upper().replace("-", ""), "--channel", "sms", "--json")
    assert proc.returncode == 0, proc.stderr
    (line,) = [strict_loads(text) for text in proc.stdout.decode().splitlines()]
    assert [r["status"] for r in line["recipients"]] == ["delivered"]


@pytest.mark.parametrize(
    ("body", "code", "said"),
    [
        (b'{"request_id": "%s", "messages": null}', 5, "'messages' is null"),
        (b'{"request_id": "%s", "messages": []}', 3, "lists no recipient"),
        (b'{"request_id": "%s"}', 5, "no 'messages' list"),
    ],
    ids=["null", "empty", "missing"],
)
def test_a_d7_answer_that_lists_nobody_is_not_found(env, body: bytes, code: int, said: str) -> None:
    """`{"messages": null}` printed `0 recipient(s)  no recipients`, exit 0, as if found (K10)."""
    from hostile import HostileServer, answering

    answer = body % RID.encode()
    with HostileServer(answering(lambda method, target, credential: answer)) as server:
        proc = d7tui({**env, "D7_BASE_URL": server.base_url}, "status", RID, "--channel", "sms")
    assert proc.returncode == code, proc.stderr
    assert b"recipient(s)" not in proc.stdout
    (line,) = proc.stderr.decode().splitlines()
    assert line.startswith(f"{RID}: sms: ") and said in line, line


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://bob:S3cr3tPW@[::1/desk",
        "postgresql://bob:S3cr3tPW@]::1[/desk",
        "postgresql://bob:S3cr3tPW@[zz::1]/desk",
        "postgres://bob:S3cr3tPW@127.0.0.1:1/desk?application_name=%ff",
    ],
    ids=["open-bracket", "reversed", "not-ipv6", "escape"],
)
@pytest.mark.parametrize("command", [["add", "X1", "--channel", "infobip"], ["export"]])
def test_a_database_url_that_cannot_be_read_is_one_line_without_the_password(
    env, monkeypatch, capsys, url, command
) -> None:
    # L11: the URL's own parser raised inside the step that hides the password, so Python
    # printed a traceback quoting the whole URL (and `send` lost the id of a paid message).
    monkeypatch.setenv("D7TUI_DATABASE_URL", url)
    code = main(command)
    out, err = capsys.readouterr()
    assert code == 2
    assert out == "" and len(err.splitlines()) == 1
    assert "D7TUI_DATABASE_URL" in err and "S3cr3tPW" not in err and "Traceback" not in err
