"""A server (or an echoing proxy, or a gateway) that puts the credential it was sent into a 200
answer: in a recipient, a reason, a country, an Infobip sender or description, a send's answer,
a balance's currency, plainly or spelled with JSON escapes. The exact D7 token and Infobip key
are replaced by ••• before anything parses the answer: they reach no table, no --json, no
screen, no screenshot, no store file and no export (fresh-eyes finding F22). Each vendor's answer
also echoes the OTHER vendor's credential, as a gateway in front of both may (finding J2)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest
from hostile import HostileServer, aimed_at, answering, cli_env, monitor_views

from d7tui.cli import main
from d7tui.config import Settings
from d7tui.models import IdKind, Target
from d7tui.safety import Secret

TOKEN = "TOKZZ-d7-9f8e7d6c5b4a"
KEY = "IBKEYZZ-0a1b2c3d"
RID = "aaaaaaaa-2222-4333-8444-555555555555"
BULK = "BULK-ECHO"
SENT_RID = "bbbbbbbb-2222-4333-8444-555555555555"


def _escaped(text: str) -> str:
    """`text` as JSON may spell it: every character a \\u escape."""
    return "".join(f"\\u{ord(c):04X}" for c in text)


def _json(value: object, credential: str) -> bytes:
    """`value` as JSON, with "@ESCAPED@" standing for the credential spelled in escapes."""
    return json.dumps(value).replace("@ESCAPED@", _escaped(credential)).encode()


def other(credential: str) -> str:
    return KEY if credential == TOKEN else TOKEN


def echo(method: str, target: str, credential: str) -> bytes | None:
    """Every route d7tui asks, answered 200 with the credential it was sent in many fields, and
    the other vendor's in one."""
    url = urlsplit(target)
    query = parse_qs(url.query)
    path = url.path
    if path.startswith(("/report/v1/", "/whatsapp/")):
        item = {
            "msg_id": credential,
            "recipient": "+49" + credential,
            "status": "sent",
            "reason": f"your token {credential} and @ESCAPED@",
            "country": credential,
            "operator": other(credential),
            credential: "a key",
        }
        return _json({"request_id": RID, "messages": [item]}, credential)
    if path.startswith(("/sms/3/logs", "/sms/1/logs", "/sms/3/reports", "/sms/1/reports")):
        item = {
            "messageId": "m-" + credential,
            "bulkId": query.get("bulkId", [BULK])[0],
            "destination": credential,
            "sender": "@ESCAPED@",
            "status": {
                "groupId": 1,
                "groupName": "PENDING",
                "id": 26,
                "name": "PENDING_ACCEPTED",
                "description": f"key {credential} and {other(credential)}",
            },
            "price": {"pricePerMessage": 0.01, "currency": credential},
        }
        return _json({"results": [item]}, credential)
    if path == "/messages/v1/send":
        return _json({"request_id": SENT_RID, "status": "accepted " + credential}, "")
    if path == "/sms/3/messages":
        message = {
            "messageId": "m1",
            "destination": credential,
            "status": {"groupName": "PENDING", "name": "@ESCAPED@", "description": credential},
        }
        return _json({"bulkId": BULK, "messages": [message]}, credential)
    if path in ("/messages/v1/balance", "/account/1/balance"):
        return _json({"balance": 10.5, "currency": "@ESCAPED@"}, credential)
    return None


@pytest.fixture
def server():
    with HostileServer(answering(echo)) as started:
        yield started


@pytest.fixture
def d7tui(
    tmp_path: Path,
    server: HostileServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Callable[..., str]:
    """`d7tui ARGV...` run in this process (its `main`), in its own home aimed at the server:
    the same code as the command, without the second it costs to start one fourteen times.
    What it printed, out and err."""
    for name, value in cli_env(server.base_url, tmp_path, TOKEN, KEY).items():
        monkeypatch.setenv(name, value)

    def run(*argv: str) -> str:
        code = main(list(argv))
        out, err = capsys.readouterr()
        assert code == 0, out + err
        return out + err

    return run


def assert_hidden(text: str) -> None:
    assert TOKEN not in text and KEY not in text
    assert _escaped(TOKEN) not in text and _escaped(KEY) not in text


def test_status_json_store_and_export_never_hold_an_echoed_credential(d7tui, tmp_path) -> None:
    shown = [
        d7tui("status", "--channel", channel, RID, *json_flag)
        for channel in ("sms", "viber", "whatsapp")
        for json_flag in ((), ("--json",))
    ]
    # One-time reports are kept in the store, raw, as they came.
    for source in ("logs", "reports"):
        shown.append(d7tui("status", "--channel", "infobip", "--infobip-source", source, BULK))
        shown.append(
            d7tui("status", "--channel", "infobip", "--infobip-source", source, "--json", BULK)
        )
    for text in shown:
        assert_hidden(text)
        assert "•••" in text  # the answer was read: the credential stands as •••
    table = shown[0]
    assert "+49•••" in table and "your token ••• and •••" in table
    infobip = shown[-1]
    record = json.loads(infobip)
    (recipient,) = record["recipients"]
    assert recipient["recipient"] == "•••" and recipient["reason"] == "key ••• and •••"
    assert recipient["fields"]["sender"] == "•••"  # the one spelled in escapes too

    d7tui("add", "--channel", "sms", RID)
    exported = tmp_path / "export.json"
    d7tui("export", "-o", str(exported))
    assert RID in exported.read_text()
    files = [p for p in (tmp_path / "data").rglob("*") if p.is_file()] + [exported]
    held = b"".join(path.read_bytes() for path in files)
    assert "m-•••".encode() in held  # the report pulled was stored, as it was made safe
    assert_hidden(held.decode("latin-1"))


def test_send_never_shows_an_echoed_credential(d7tui) -> None:
    for channel in ("sms", "infobip"):
        out = d7tui(
            "send", "--channel", channel, "--to", "+4915112345678", "--text", "hi",
            "--from", "D7TEST", "--yes",
        )  # fmt: skip
        assert_hidden(out)
        assert "•••" in out  # what the answer said is shown, without the credential
    assert_hidden(d7tui("export"))


async def test_the_monitor_shows_stores_and_exports_no_echoed_credential(
    server: HostileServer, tmp_path: Path, caplog
) -> None:
    db = tmp_path / "data" / "d7tui.sqlite3"
    settings = aimed_at(server.base_url, d7_token=Secret(TOKEN), infobip_key=Secret(KEY))
    ids = [Target(RID, "sms"), Target(BULK, "infobip", IdKind.BULK)]
    shown = await monitor_views(settings, ids, db)
    assert "+49•••" in shown[0]  # the answer was shown, without the token
    assert "key •••" in shown[2]  # the Infobip detail, and its balance's currency
    files = [p for p in db.parent.iterdir() if p.is_file()]
    assert any(p.suffix == ".json" for p in files)  # the export
    for text in [*shown, caplog.text, *(p.read_bytes().decode("latin-1") for p in files)]:
        assert_hidden(text)


def test_every_credential_set_is_one_to_blot_out() -> None:
    settings = Settings(
        d7_token=Secret(TOKEN),
        infobip_key=Secret(KEY),
        database_url=Secret("postgresql://desk:pw-5e6f7a8b9c@db.example/desk"),
    )
    assert settings.secrets() == [TOKEN, KEY, "pw-5e6f7a8b9c"]
    assert Settings().secrets() == []


# A token echoed as a server may transform it: percent-encoded (a redirect's callback URL),
# upper-cased (an error page), base64 (a header shown back). K8: each was printed as it came.
TOKEN_WITH_DASHES = "sim-token-SECRET-abcdef123456"
FORMS = [
    quote(TOKEN_WITH_DASHES, safe=""),
    TOKEN_WITH_DASHES.upper(),
    base64.b64encode(TOKEN_WITH_DASHES.encode()).decode().rstrip("="),
    # L3: every byte percent-encoded; base64 of the whole header value, or of user:password.
    "".join(f"%{byte:02x}" for byte in TOKEN_WITH_DASHES.encode()),
    base64.b64encode(f"Bearer {TOKEN_WITH_DASHES}".encode()).decode(),
    base64.urlsafe_b64encode(f":{TOKEN_WITH_DASHES}".encode()).decode(),
    # K8's leftovers: in a mix of cases; percent-encoded, then lower-cased.
    "SIM-TOKEN-secret-abcdef123456",
    "Sim-Token-Secret-Abcdef123456",
    quote(TOKEN_WITH_DASHES, safe="").lower(),
    # t8 #6: in hex, and cut to a half (an error page's "token sim-token-SE… is invalid").
    TOKEN_WITH_DASHES.encode().hex(),
    TOKEN_WITH_DASHES.encode().hex().upper(),
    TOKEN_WITH_DASHES[: len(TOKEN_WITH_DASHES) // 2],
    TOKEN_WITH_DASHES[-(len(TOKEN_WITH_DASHES) // 2) :],
]


@pytest.mark.parametrize("status", [200, 400, 302])
def test_a_credential_echoed_transformed_is_hidden_too(tmp_path, monkeypatch, capsys, status):
    said = " ".join(FORMS)

    def transformed(method: str, target: str, credential: str):
        if status == 302:
            location = f"http://127.0.0.1:9/cb?t={FORMS[0]}&u={FORMS[1]}&b={FORMS[2]}"
            return 302, b"", {"Location": location}
        if status == 400:
            return 400, json.dumps({"detail": {"code": "BAD", "message": said}}).encode(), {}
        item = {"msg_id": "m1", "recipient": "+4917612345", "status": "sent", "reason": said}
        return json.dumps({"request_id": RID, "messages": [item]}).encode()

    with HostileServer(answering(transformed)) as server:
        env = cli_env(server.base_url, tmp_path, TOKEN_WITH_DASHES, KEY)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        main(["status", RID, "--channel", "sms", "--json"])
    out, err = capsys.readouterr()
    shown = out + err
    assert "•••" in shown, shown
    for form in FORMS:
        assert form not in shown, (form, shown)
    assert TOKEN_WITH_DASHES.lower() not in unquote(shown).lower(), shown


# K8: split by a character that draws nothing (zero-width space, soft hyphen, word joiner, a
# control), as it came or as a JSON escape, the token was printed with `<U+200B>` in it.
SPLIT = [
    "sim-token-\u200bSECRET-abcdef123456",
    "sim-\u00adtoken-SECRET-abc\u2060def123456",
    "SIM-TOKEN-\ufeffSECRET-ABCDEF123456",
    "sim-token-SECRET-\x01abcdef123456",
    "Sim-Token-\u200bSecret-ABCdef123456",  # in a mix of cases too
]
# Split by an invisible character, then percent-encoded (the character's bytes in it too).
PERCENT_SPLIT = [
    quote("sim-token-SECRE\u200bT-abcdef123456", safe=""),
    "".join(f"%{byte:02X}" for byte in "sim-token-\u00adSECRET-abcdef123456".encode()),
]


def _read(text: str) -> str:
    """`text` as a reader takes it in: what draws nothing, and how d7tui shows it, left out."""
    return re.sub(r"<U\+[0-9A-F]{4,6}>|[\u2400-\u2421\u200b\u00ad\u2060\ufeff\x01]", "", text)


@pytest.mark.parametrize("status", [200, 400])
@pytest.mark.parametrize("ascii_only", [True, False], ids=["escaped", "raw"])
def test_a_credential_split_by_an_invisible_character_is_hidden_too(
    tmp_path, monkeypatch, capsys, status, ascii_only
):
    said = " and ".join([*SPLIT, *PERCENT_SPLIT])

    def split(method: str, target: str, credential: str):
        if status == 400:
            body = {"detail": {"code": "BAD", "message": said}}
            return 400, json.dumps(body, ensure_ascii=ascii_only).encode(), {}
        item = {"msg_id": "m1", "recipient": "+4917612345", "status": "sent", "reason": said}
        return json.dumps({"request_id": RID, "messages": [item]}, ensure_ascii=ascii_only).encode()

    with HostileServer(answering(split)) as server:
        env = cli_env(server.base_url, tmp_path, TOKEN_WITH_DASHES, KEY)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        main(["status", RID, "--channel", "sms", "--json"])
        main(["status", RID, "--channel", "sms"])
        main(["export", "--format", "json"])
    out, err = capsys.readouterr()
    shown = _read(unquote(out + err)).lower()
    assert "•••" in shown, shown
    assert TOKEN_WITH_DASHES.lower() not in shown, shown
