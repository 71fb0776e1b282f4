"""What a hostile server's numbers and shapes become (fresh-eyes findings F13, F15).

F13: a cost of 1e308 (two of them add up to infinity), a price of 1e300 times 1e308 parts, a cost
of -1, a part count of -5 or of 309 digits. No message costs that or is cut into that many parts:
the recipient has no cost or part count (`-` in the table and on screen, null in --json and the
export) and the vendor's value stays in its fields. A sane cost beside them still adds up.

F15: a body that is `null`, a list where an object belongs, JSON nested 200,000 deep: said in
JSON's words (`null`, `a string`, `nested too deeply`), never in Python's (`NoneType`, `str`).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from hostile import HostileServer, aimed_at, answering, cli_env, monitor_views

from d7tui.cli import main
from d7tui.models import IdKind, Target

RID = "aaaaaaaa-2222-4333-8444-555555555555"
BULK = "BULK-NUMBERS"
DELIVERED = {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET"}


# Written by hand, as the tester's server sent them: json.dumps writes 1e308 as 1e+308.
def _d7_item(n: int, cost: str, parts: str) -> str:
    return (
        f'{{"msg_id": "m{n}", "recipient": "+4915112345{n:03d}", "status": "delivered", '
        f'"sms_cost": {cost}, "number_of_sms": {parts}}}'
    )


def _infobip_item(n: int, count: str, price: str) -> str:
    return (
        f'{{"messageId": "m{n}", "bulkId": "{BULK}", "destination": "4915112345{n:03d}", '
        f'"messageCount": {count}, "price": {{"pricePerMessage": {price}, "currency": "EUR"}}, '
        f'"status": {json.dumps(DELIVERED)}}}'
    )


D7_ITEMS = [
    _d7_item(1, "1e308", "1e308"),
    _d7_item(2, "1e308", "-1e308"),  # with the first: a sum of infinity
    _d7_item(3, "-0.5", "-3"),
    _d7_item(4, "0.0125", "2"),
]
D7_BODY = f'{{"request_id": "{RID}", "messages": [{", ".join(D7_ITEMS)}]}}'
INFOBIP_ITEMS = [
    _infobip_item(1, "1e308", "1e300"),
    _infobip_item(2, "-5", "-1"),
    _infobip_item(3, "1.5", "1e308"),
    _infobip_item(4, "2", "0.01"),
]
INFOBIP_BODY = f'{{"results": [{", ".join(INFOBIP_ITEMS)}]}}'

SANE_D7 = "0.0125"  # the one sane D7 cost, alone in the total
SANE_INFOBIP = "0.02 EUR"  # 2 parts at 0.01


def numbers(method: str, target: str, credential: str) -> bytes | None:
    url = urlsplit(target)
    if url.path.startswith("/report/v1/"):
        return D7_BODY.encode()
    if url.path.startswith("/sms/3/logs"):
        assert parse_qs(url.query)["bulkId"] == [BULK]
        return INFOBIP_BODY.encode()
    if url.path in ("/messages/v1/balance", "/account/1/balance"):
        return b'{"balance": 10, "currency": "EUR"}'
    return None


def d7tui(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "d7tui", *argv], capture_output=True, env=env, timeout=60, text=True
    )


def strict_loads(line: str) -> object:
    def refuse(token: str) -> object:
        raise ValueError(f"not JSON: {token}")

    return json.loads(line, parse_constant=refuse)


def assert_no_absurd_number(text: str) -> None:
    assert not re.search(r"\binf\b|Infinity|NaN", text), text
    assert not re.search(r"\d{16}", text), text  # a float written as a 309-digit integer
    assert not re.search(r"(?<![\w.])-\d", text), text  # -1 EUR, -5 parts, -0.5


@pytest.fixture
def server():
    with HostileServer(answering(numbers)) as started:
        yield started


def test_absurd_costs_and_part_counts_are_no_cost_in_the_table_and_the_json(
    server, tmp_path
) -> None:
    env = cli_env(server.base_url, tmp_path)
    for argv, sane, unit in (
        (("--channel", "sms", RID), SANE_D7, (" D7 credits", " cr")),  # never a bare number
        (("--channel", "infobip", BULK), SANE_INFOBIP, ("", "")),
    ):
        table = d7tui(env, "status", *argv)
        assert table.returncode == 0, table.stderr
        assert_no_absurd_number(table.stdout)
        head = table.stdout.splitlines()[0]
        assert head.endswith(f"cost {sane}{unit[0]}"), head  # only the sane cost adds up
        assert max(len(line) for line in table.stdout.splitlines()) < 250
        rows = [line for line in table.stdout.splitlines() if "4915112345" in line]
        assert len(rows) == 4 and sum(f"{sane}{unit[1]}" in row for row in rows) == 1

        as_json = d7tui(env, "status", "--json", *argv)
        assert as_json.returncode == 0, as_json.stderr
        record = strict_loads(as_json.stdout)
        assert isinstance(record, dict)
        costs = [r["cost"] for r in record["recipients"]]
        parts = [r["parts"] for r in record["recipients"]]
        assert costs.count(None) == 3 and parts.count(None) == 3
        assert all(isinstance(n, int | float) and 0 <= n < 10 for n in costs + parts if n)
        # What the vendor sent is still among its fields.
        first = record["recipients"][0]["fields"]
        assert first.get("sms_cost", first.get("messageCount")) == 1e308


async def test_the_monitor_and_its_export_show_no_absurd_number(server, tmp_path) -> None:
    db = tmp_path / "data" / "d7tui.sqlite3"
    ids = [Target(RID, "sms"), Target(BULK, "infobip", IdKind.BULK)]
    shown = await monitor_views(aimed_at(server.base_url), ids, db)
    for screen in shown:
        assert_no_absurd_number(screen)
    # The status line's total, the list's costs, the detail's: the sane costs alone.
    assert f"cost {SANE_INFOBIP} + {SANE_D7}" in shown[0]
    assert f"cost {SANE_D7}" in shown[1] and f"cost {SANE_INFOBIP}" in shown[2]
    (exported,) = db.parent.glob("*.json")
    data = strict_loads(exported.read_text())
    assert isinstance(data, dict)
    recipients = data["recipients"]
    assert len(recipients) == 8
    assert sorted(r["cost"] for r in recipients if r["cost"] is not None) == [0.0125, 0.02]
    assert sorted(r["parts"] for r in recipients if r["parts"] is not None) == [2, 2]


# ---------------------------------------------------------------------------------------------
# F15: shapes said in JSON's words


def _body(text: str) -> Callable[[str, str, str], bytes | None]:
    return lambda method, target, credential: text.encode()


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("null", "expected a JSON object, got null"),
        ('"text"', "expected a JSON object, got a string"),
        ("[1]", "expected a JSON object, got a list"),
        ("[" * 200_000 + "]" * 200_000, "response is JSON nested too deeply to read"),
        ("[" + "9" * 5000 + "]", "response holds a number too long to read"),
        ('{"messages": "x", "results": "x"}', "is a string, not a list"),
        ('{"messages": {}, "results": {}}', "is an object, not a list"),
        ('{"messages": 7, "results": 7}', "is a number, not a list"),
        ('{"messages": true, "results": false}', "is true or false, not a list"),
    ],
    ids=["null", "string", "list", "deep", "long-number", "str", "dict", "int", "bool"],
)
def test_a_wrong_shape_is_said_in_json_words(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], body, says
) -> None:
    # `d7tui status` run in this process (its `main`): the same code as the command, without
    # the second it costs to start one eighteen times.
    with HostileServer(answering(_body(body))) as server:
        for name, value in cli_env(server.base_url, tmp_path).items():
            monkeypatch.setenv(name, value)
        for argv in (("--channel", "sms", RID), ("--channel", "infobip", "--json", BULK)):
            assert main(["status", *argv]) == 5
            out, err = capsys.readouterr()
            shown = out + err
            assert says in shown, shown
            assert not re.search(r"NoneType|\bstr\b|\bdict\b|\blist,|\bint\b|\bbool\b", shown)


# ---------------------------------------------------------------------------------------------
# Currencies: a server's text never becomes a unit (fresh-eyes finding H1)

JUNK_CURRENCIES = ["[red]RED[/red] [link=https://x]y[/link]", "\x1b[31mEUR\x1b[0m", "EURO", "€", 7]


def test_a_currency_is_three_letters_or_a_question_mark() -> None:
    from d7tui.channels.account import parse_balance
    from d7tui.channels.infobip import parse_page

    given: list[object] = ["EUR", "usd", *JUNK_CURRENCIES, None]
    items = [
        {"messageId": f"m{n}", "price": {"pricePerMessage": 0.01, "currency": currency}}
        for n, currency in enumerate(given)
    ]
    got = [r.currency for r in parse_page(json.dumps({"results": items}).encode())]
    assert got == ["EUR", "USD", *["?"] * len(JUNK_CURRENCIES), None]
    for currency in JUNK_CURRENCIES:
        body = json.dumps({"balance": 1.0, "currency": currency}).encode()
        assert parse_balance("infobip", body).currency == "?"


async def test_junk_currencies_are_one_unknown_currency_on_screen(tmp_path) -> None:
    """Four currencies of junk made the status line seven lines high at 80×24 and the detail's
    head three: now they are one unknown currency, added up as one."""

    def junk(method: str, target: str, credential: str) -> bytes | None:
        url = urlsplit(target)
        if url.path.startswith("/sms/3/logs"):
            items = [
                {
                    "messageId": f"m{n}",
                    "bulkId": BULK,
                    "destination": f"4915112345{n:03d}",
                    "price": {"pricePerMessage": 0.01, "currency": currency},
                    "status": DELIVERED,
                }
                for n, currency in enumerate(JUNK_CURRENCIES)
            ]
            return json.dumps({"results": items}).encode()
        if url.path in ("/messages/v1/balance", "/account/1/balance"):
            return b'{"balance": 10, "currency": "EUR"}'
        return None

    with HostileServer(answering(junk)) as hostile:
        db = tmp_path / "data" / "d7tui.sqlite3"
        shown = await monitor_views(
            aimed_at(hostile.base_url), [Target(BULK, "infobip", IdKind.BULK)], db
        )
    for screen in shown:
        assert "[red]" not in screen and "EURO" not in screen
    assert "cost 0.05 ?" in shown[0]  # the status line: one total for the unknown currency
