"""Answers in the monitor, driven as a user drives it against the simulator: what a failure means
and what to do (the detail), what is stuck (rows, status line, `f`), the balance, the insights
(`i`), a test message (`S`), the failures worklist (`e` in the problems view), and a desktop
notification only while the user looks elsewhere."""

from __future__ import annotations

import asyncio
import csv
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from hostile import HostileServer, aimed_at, answering, unreadable_200
from hostile import head as hostile_head
from textual import events
from textual.widgets import Input, Select, Static
from ui_kit import entry, idle, said, screen_text, sim_settings, status_requests, until

from d7tui.clock import ManualClock
from d7tui.models import Target
from d7tui.pollstate import PollConfig
from d7tui.simulator import Simulator, Step
from d7tui.store import Which, open_store
from d7tui.ui.accounts import BALANCE_EVERY
from d7tui.ui.app import D7App, make_app
from d7tui.ui.screens.insights import InsightsScreen
from d7tui.ui.screens.send import SendDialog
from d7tui.ui.widgets.status_line import StatusLine

SIZE = (140, 44)


def build(sim: Simulator, clock: ManualClock, ids: list[str], **kw: Any) -> D7App:
    settings = kw.pop("settings", None) or sim_settings(sim)
    return make_app(
        settings,
        ids=[Target(i) for i in ids],
        clock=clock,
        poll_config=PollConfig(workers=4),
        bell=False,
        **kw,
    )


async def test_the_detail_says_what_the_selected_recipients_status_means_and_what_to_do(sim, clock):
    rid = sim.create_request("sms", ["+971500000001"], [Step(0, "sent"), Step(2, "not_reachable")])
    app = build(sim, clock, [rid])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        clock.advance(3)
        await idle(pilot, app)
        await pilot.press("enter")  # into the detail: the recipient's fields are shown
        await pilot.pause()
        text = screen_text(app)
        assert "temporary failure: The network could not reach the phone" in text
        assert "next Ask the customer to check the phone is on and has signal" in text


async def test_a_recipient_waiting_too_long_is_stuck_in_its_row_the_status_line_and_f(sim, clock):
    waiting = sim.create_request("sms", ["+971500000002"], [Step(0, "sent")])
    fine = sim.create_request("sms", ["+971500000003"], [Step(0, "delivered")])
    app = build(sim, clock, [waiting, fine])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        assert "stuck?" not in screen_text(app)
        polls = entry(app, waiting).polls
        clock.advance(16 * 60)  # past the 15 minutes an SMS report may take: polled again
        await until(pilot, lambda: entry(app, waiting).polls > polls)
        await idle(pilot, app)
        text = screen_text(app)
        assert "sent · stuck?" in text  # the row
        assert "│  1 stuck?  │" in text  # the status line
        await pilot.press("f")
        assert [e.request_id for e in app.watchlist.visible()] == [waiting]
        await pilot.press("enter")
        await pilot.pause()
        assert "stuck? still 'sent' after 16 min: some networks and countries" in (screen_text(app))


async def test_the_balance_is_on_the_status_line_and_a_low_one_is_warned(sim, clock):
    rid = sim.create_request("sms", ["+971500000004"], [Step(0, "insufficient_credit")])
    sim.accounts.d7, sim.accounts.infobip = 3.5, 50.0
    app = build(sim, clock, [rid])
    try:
        async with app.run_test(size=SIZE) as pilot:
            await idle(pilot, app)
            text = screen_text(app)
            assert "balance ⚠ d7 3.5000 low · infobip 50.0000 EUR" in text
            assert any(
                line.startswith("Balance low: d7 3.5000 (low). Top it up") for line in said(app)
            )
            await pilot.press("enter")
            await pilot.pause()
            text = screen_text(app)
            assert "permanent failure: Your D7 account did not have enough credit" in text
            assert "balance now d7 3.5000 (low)" in text
            sim.accounts.d7 = 80.0  # topped up: read again every five minutes, on the clock
            reads = sim.counts["balance"]
            clock.advance(BALANCE_EVERY - 1)
            await idle(pilot, app)
            assert sim.counts["balance"] == reads and "d7 3.5000" in screen_text(app)
            clock.advance(1)
            await until(pilot, lambda: sim.counts["balance"] == reads + 2)  # d7's and infobip's
            await idle(pilot, app)
            assert "balance d7 80.0000 · infobip 50.0000 EUR" in screen_text(app)
            clock.advance(BALANCE_EVERY)  # and again five minutes later
            await until(pilot, lambda: sim.counts["balance"] == reads + 4)
    finally:
        sim.accounts.d7, sim.accounts.infobip = 100.0, 50.0


async def test_insights_count_the_whole_list_or_the_filtered_view(sim, clock):
    ok = sim.create_request("sms", ["+971500000005"], [Step(0, "sent"), Step(10, "delivered")])
    bad = sim.create_request("sms", ["+971500000006"], [Step(0, "sent"), Step(5, "un_delivered")])
    wa = sim.create_request("whatsapp", ["+919000000007"], [Step(0, "read")])
    app = build(sim, clock, [ok, bad, wa])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        clock.advance(12)
        await idle(pilot, app)
        await pilot.press("i")
        await pilot.pause()
        assert isinstance(app.screen, InsightsScreen)
        text = screen_text(app)
        assert "the whole watchlist: 3 requests" in text
        assert "sms" in text and "whatsapp" in text
        assert "1  sms un_delivered" in text  # top failure reasons, with counts
        assert "(first seen → delivered *)" in text  # D7: bounded by polls, said so
        assert "* D7's reports carry no times: each end is late by up to a poll" in text
        assert "Status changes per minute" in text
        await pilot.press("v")  # the filtered view (no filter: the same requests)
        assert "the filtered view: 3 of 3 requests" in screen_text(app)
        await pilot.press("escape")
        await pilot.press("f")  # problems only: the insights start on what is shown
        await pilot.press("i")
        await pilot.pause()
        assert "the filtered view: 1 of 3 requests" in screen_text(app)


async def test_insights_read_at_80x24_without_a_wrapped_line(sim, clock):
    ids = [
        sim.create_request("sms", ["+971500000013"], [Step(0, "sent"), Step(4, "delivered")]),
        sim.create_request("whatsapp", ["+919000000014"], [Step(0, "sent"), Step(4, "rejected")]),
        sim.create_request("viber", ["+380500000015"], [Step(0, "sent")]),
    ]
    app = build(sim, clock, ids)
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot, app)
        clock.advance(5)
        await idle(pilot, app)
        await pilot.press("i")
        await pilot.pause()
        lines = screen_text(app).splitlines()
        rows = {line.split()[1]: line for line in lines if "%" in line}
        # Every channel's row holds its counts and all three rates on one line.
        assert {"sms", "whatsapp", "viber", "all"} <= set(rows)
        assert all(line.count("%") == 3 for line in rows.values())
        assert any("v: whole list / filtered view · esc closes" in line for line in lines)
        await pilot.press("end")
        await pilot.pause()
        text = screen_text(app)
        assert "* D7's reports carry no times: each end is late by up to a poll" in text
        assert "Status changes per minute, the last hour" in text


@pytest.mark.long
async def test_s_sends_a_test_message_only_once_confirmed_and_watches_it(sim, clock):
    app = build(sim, clock, [])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        sends = sim.counts["send"]
        await pilot.press("S")
        assert isinstance(app.screen, SendDialog)
        await pilot.press(*"00971 50 111 2233", "tab")  # 00: the international prefix
        await pilot.press(*"Shop", "tab", *"hello", "enter")  # enter checks, it does not send
        await pilot.pause()
        text = screen_text(app)
        assert (
            "Send one sms (D7) message to +971501112233 from Shop (5 characters)? It costs money."
            in text
        )
        assert sim.counts["send"] == sends
        await pilot.press("n")  # back to the form: still nothing sent
        await pilot.press("escape")
        assert sim.counts["send"] == sends and "Nothing was sent." in said(app)
        await pilot.press("S")
        await pilot.press(*"+971501112233", "tab", *"Shop", "tab", *"hello", "enter")
        await pilot.press("y")
        await until(pilot, lambda: any(e.label == "test" for e in app.watchlist))
        assert sim.counts["send"] == sends + 1
        (sent,) = [e for e in app.watchlist if e.label == "test"]
        assert sent.target.channel == "sms" and "test message to +971501112233" in sent.note
        await idle(pilot, app)
        assert entry(app, sent.request_id).state is not None  # watched: polled like any
        assert any(line.startswith(f"Sent: {sent.request_id}") for line in said(app))


async def send_hello(pilot: Any, app: D7App) -> None:
    """`S`, the form filled, checked, and confirmed with `y`."""
    await idle(pilot, app)
    await pilot.press("S", *"+971501112233", "tab", *"Shop", "tab", *"hello", "enter")
    await pilot.press("y")


async def test_s_answered_200_but_unreadable_says_it_was_most_likely_sent_and_watches_nothing(
    sim, clock
):
    with HostileServer(unreadable_200) as server:
        app = build(sim, clock, [], settings=aimed_at(server.base_url))
        async with app.run_test(size=SIZE) as pilot:
            await send_hello(pilot, app)
            await until(pilot, lambda: any(line.startswith("Maybe sent") for line in said(app)))
            (line,) = [line for line in said(app) if line.startswith("Maybe sent")]
            # What to do comes first: a line of the event strip is cut at the screen's width.
            assert line.startswith(
                "Maybe sent to +971501112233: see D7's dashboard before sending again. sms: the "
                "message was most likely sent (HTTP 200), but its answer could not be read"
            )
            assert len(app.watchlist) == 0


@pytest.mark.long
async def test_the_command_palette_finds_insights_send_and_the_failures_worklist(sim, clock):
    app = build(sim, clock, [])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        for typed, found in (
            ("insights", "Insights (i)"),
            ("send", "Send test (S)"),
            ("worklist", "Export or failures worklist (e)"),
        ):
            await pilot.press("ctrl+p", *typed)
            await until(pilot, lambda found=found: found in screen_text(app))
            await pilot.press("escape")
        await pilot.press("ctrl+p", *"insights", "enter")
        await until(pilot, lambda: isinstance(app.screen, InsightsScreen))


async def test_quitting_while_a_test_message_is_sent_says_on_the_terminal_it_may_have_gone_out(
    sim, clock
):
    posts: list[bytes] = []

    async def never_answers_a_send(
        head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if not head.startswith(b"POST"):  # the balances
            body = b'{"balance": 10.0}'
            writer.write(hostile_head(content_length=str(len(body))) + body)
            return
        posts.append(head)
        await reader.read()

    with HostileServer(never_answers_a_send) as server:
        app = build(sim, clock, [], settings=aimed_at(server.base_url))
        async with app.run_test(size=SIZE) as pilot:
            await send_hello(pilot, app)
            await until(pilot, lambda: len(posts) == 1)
            await pilot.press("q", "q")  # the first waits for the answer, the second does not
    assert app.farewell == [
        "one sms (D7) message to +971501112233 from Shop (5 characters) was being sent when the "
        "monitor quit: it may have been sent, and is not watched; look in D7's dashboard before "
        "sending again"
    ]


async def balances_shown(clock: ManualClock, d7: bytes, infobip: bytes) -> tuple[str, int]:
    """The screen at 80x24, and the status line's height, with these balance answers."""

    def balances(_method: str, target: str, _credential: str) -> bytes | None:
        if target.startswith("/messages/v1/balance"):
            return d7
        return infobip if target.startswith("/account/1/balance") else None

    with HostileServer(answering(balances)) as server:
        app = make_app(aimed_at(server.base_url), clock=clock, bell=False, persist=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await idle(pilot, app)
            return screen_text(app), app.screen.query_one(StatusLine).region.height


async def test_an_absurd_balance_or_an_unreadable_currency_is_said_and_the_status_line_keeps_height(
    clock,
):
    _, usual = await balances_shown(
        clock, b'{"balance": 100.0}', b'{"balance": 100.0, "currency": "EUR"}'
    )
    text, height = await balances_shown(
        clock,
        b'{"balance": -1e308}',  # finite, but 309 digits
        json.dumps({"balance": 100.0, "currency": "[bold red]USD[/]\x1b[2J"}).encode(),
    )
    # `?` is a balance unknown; a known amount in a currency not given as one says so.
    assert "balance d7 ? · infobip 100.0000 (currency unreadable)" in text, text
    assert "[2J" not in text and "0,000" not in text
    assert height <= usual


class SlowSend:
    """A D7 server whose send answers only once the test says so; every other path is a 404."""

    SENT = "cccccccc-2222-4333-8444-555555555555"

    def __init__(self) -> None:
        self.posted = threading.Event()
        self.release = threading.Event()
        answer = answering(lambda *_: None)

        async def behaviour(head: bytes, reader, writer) -> None:
            if not head.startswith(b"POST /messages/v1/send"):
                await answer(head, reader, writer)
                return
            self.posted.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 30)
            body = json.dumps({"request_id": self.SENT, "status": "accepted"}).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                + f"content-length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()

        self.behaviour = behaviour


async def send_slowly(pilot, app: D7App, server: SlowSend) -> None:
    await idle(pilot, app)
    await pilot.press("S", *"+971501112233", "tab", *"Shop", "tab", *"slow one", "enter", "y")
    await until(pilot, server.posted.is_set)


async def test_q_while_a_send_is_in_flight_waits_for_its_answer_and_watches_it(clock, tmp_path):
    slow = SlowSend()
    db = tmp_path / "d7tui.sqlite3"
    with HostileServer(slow.behaviour) as server:
        app = make_app(aimed_at(server.base_url), clock=clock, bell=False, store_path=db)
        async with app.run_test(size=(80, 24)) as pilot:
            await send_slowly(pilot, app, slow)
            await pilot.press("q")
            await pilot.pause()
            assert app.is_running  # not gone with the send in flight
            assert "A send to +971501112233 is in flight: waiting up to 11 s" in screen_text(app)
            slow.release.set()
            await until(pilot, lambda: not app.is_running)
    assert app.return_code == 0 and app.farewell == []
    with open_store(db) as store:
        assert [w.request_id for w in store.watches(Which.LIVE)] == [SlowSend.SENT]


async def test_a_send_without_an_answer_says_maybe_sent_and_the_number_first_at_80_columns(clock):
    slow = SlowSend()
    with HostileServer(slow.behaviour) as server:
        settings = aimed_at(server.base_url, timeout=1.0)
        app = make_app(settings, clock=clock, bell=False, persist=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await send_slowly(pilot, app, slow)
            await until(pilot, lambda: any("Maybe sent" in line for line in said(app)))
            await pilot.pause()
            assert (
                "Maybe sent to +971501112233: see D7's dashboard before sending again"
                in screen_text(app)
            ), screen_text(app)
            assert "Not sent" not in screen_text(app), screen_text(app)
        slow.release.set()


async def test_enter_at_the_confirmation_goes_back_to_the_form_and_keeps_it(sim, clock):
    app = build(sim, clock, [])
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot, app)
        sends = sim.counts["send"]
        await pilot.press("S", *"+971501112233", "tab", *"Shop", "tab", *"hello", "enter")
        assert "costs money." in screen_text(app)
        await pilot.press("enter")  # a second enter: back to the form, nothing sent or lost
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, SendDialog) and dialog.checked is None
        assert dialog.message().to == "+971501112233" and dialog.message().text == "hello"
        assert "costs money." not in screen_text(app) and sim.counts["send"] == sends


async def test_a_whatsapp_template_with_a_text_too_is_refused_and_its_values_are_shown(sim, clock):
    app = build(sim, clock, [])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        await pilot.press("S")
        dialog = app.screen
        assert isinstance(dialog, SendDialog)
        dialog.query_one("#send-channel", Select).value = "whatsapp"
        await pilot.pause()
        for field, value in (
            ("to", "+971501112233"),
            ("from", "+971500000000"),
            ("text", "hello"),
            ("template", "order_shipped"),
            ("params", "A|B"),
        ):
            dialog.query_one(f"#send-{field}", Input).value = value
        await pilot.press("enter")
        await pilot.pause()
        assert "give either a text or a template, not both. Nothing was sent." in screen_text(app)
        dialog.query_one("#send-text", Input).value = ""
        await pilot.press("enter")
        await pilot.pause()
        confirmation = str(dialog.query_one("#send-confirm", Static).render())
        assert confirmation.startswith(
            "Send one whatsapp (D7) message to +971501112233 from +971500000000 (template "
            "'order_shipped', {{1}}=A, {{2}}=B)? It costs money."
        )
        assert "{{2}}=B" in screen_text(app)


async def test_a_bad_form_is_named_and_nothing_is_sent(sim, clock):
    app = build(sim, clock, [])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        sends = sim.counts["send"]
        await pilot.press("S", *"12", "tab", "tab", *"hi", "enter")
        await pilot.pause()
        assert "is not a phone number" in screen_text(app) and sim.counts["send"] == sends


async def test_e_in_the_problems_view_writes_the_failures_worklist(sim, clock, tmp_path):
    bad = sim.create_request("sms", ["+971500000008"], [Step(0, "spam_content")])
    ok = sim.create_request("sms", ["+971500000009"], [Step(0, "delivered")])
    app = build(sim, clock, [bad, ok], store_path=tmp_path / "d7tui.sqlite3")
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        await pilot.press("f", "e")
        await until(
            pilot,
            lambda: any(
                line.startswith("Worklist of 1 failed (number, reason, what to do): ")
                for line in said(app)
            ),
        )
    (path,) = Path(tmp_path).glob("d7tui-failures-*.csv")
    rows = list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))
    assert [(r["recipient"], r["status"], r["outcome"]) for r in rows] == [
        ("+971500000008", "spam_content", "permanent failure")
    ]
    assert rows[0]["next_step"].startswith("Sending the same text fails again")


def two_failures(sim: Simulator, clock: ManualClock, then: float) -> tuple[D7App, str, list[str]]:
    """The monitor on +971500000010, failing at 3 s, and +971500000011, failing at `then`; what
    it writes to the terminal for notifications is kept (the driver's write, in a terminal)."""
    first = sim.create_request("sms", ["+971500000010"], [Step(0, "sent"), Step(3, "un_delivered")])
    second = sim.create_request(
        "sms", ["+971500000011"], [Step(0, "sent"), Step(then, "un_delivered")]
    )
    app = build(sim, clock, [first, second])
    written: list[str] = []
    app.notifier.write = written.append
    return app, second, written


async def look_away(pilot: Any, app: D7App) -> None:
    """The monitor settled, then the user switches to another window (the terminal says so)."""
    await idle(pilot, app)
    app.post_message(events.AppBlur())
    await until(pilot, lambda: not app.app_focus)


async def test_a_failure_raises_a_desktop_notification_only_while_the_user_looks_away(sim, clock):
    app, second, written = two_failures(sim, clock, 30)
    app.notifier.min_gap = 0
    async with app.run_test(size=SIZE) as pilot:
        await look_away(pilot, app)
        clock.advance(4)
        await idle(pilot, app)
        assert len(written) == 1 and written[0].startswith("\x1b]9;d7tui: a message failed: ✗ ")
        assert "+971500000010: sent → un_delivered" in written[0]
        app.post_message(events.AppFocus())  # back: the screen tells it, nothing else
        await until(pilot, lambda: app.app_focus)
        clock.advance(30)
        await idle(pilot, app)
        assert entry(app, second).phase is not None and len(written) == 1


async def test_a_failure_held_back_by_the_gap_is_notified_when_the_gap_is_over(sim, clock):
    app, second, written = two_failures(sim, clock, 6)
    async with app.run_test(size=SIZE) as pilot:
        await look_away(pilot, app)
        clock.advance(4)
        await idle(pilot, app)
        clock.advance(3)  # the second fails 3 s after the first: held back (one per 10 s)
        await idle(pilot, app)
        assert len(written) == 1 and entry(app, second).problem
        clock.advance(10)  # no later failure comes to carry it: it goes once the gap is over
        await until(pilot, lambda: len(written) == 2)
        assert "+971500000011: sent → un_delivered" in written[1]


async def test_desktop_notifications_can_be_turned_off(sim, clock):
    rid = sim.create_request("sms", ["+971500000012"], [Step(0, "sent"), Step(3, "un_delivered")])
    settings = sim_settings(sim, desktop_notifications=False)
    app = build(sim, clock, [rid], settings=settings)
    written: list[str] = []
    app.notifier.write = written.append
    async with app.run_test(size=SIZE) as pilot:
        await look_away(pilot, app)
        clock.advance(4)
        await idle(pilot, app)
        assert entry(app, rid).problem and written == []
        assert status_requests(sim) > 0


async def test_privacy_mode_masks_the_number_in_the_reason_the_label_and_the_notification(
    sim, clock
):
    number = "+971501239999"
    rid = sim.create_request(
        "whatsapp", [number], [Step(0, "sent"), Step(3, "failed", f"Absent subscriber {number}")]
    )
    app = build(sim, clock, [rid], mask=True, labels={rid: f"Cust {number}"})
    written: list[str] = []
    app.notifier.write = written.append
    async with app.run_test(size=(160, 40)) as pilot:
        await look_away(pilot, app)
        clock.advance(4)
        await idle(pilot, app)
        assert len(written) == 1 and "Absent subscriber +97150•••••99" in written[0]
        assert "Cust +97150•••••99" in written[0]
        await pilot.press("enter")  # the detail: head, recipients, timeline, fields
        await pilot.pause()
        shown = screen_text(app)
        assert "Absent subscriber +97150•••••99" in shown
        assert number not in shown and number not in written[0]
        await pilot.press("escape", "i")  # the insights quote failure reasons too (K15)
        await pilot.pause()
        assert isinstance(app.screen, InsightsScreen)
        shown = screen_text(app)
        assert "Absent subscriber +97150•••••99" in shown and number not in shown
        await pilot.press("escape", "m")  # privacy mode off: the number is the user's to see
        await pilot.pause()
        assert f"Cust {number}" in screen_text(app)


async def test_s_at_80_columns_shows_every_field_hint_whole(sim, clock):
    from textual.widgets import Select

    app = build(sim, clock, [])
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot, app)
        await pilot.press("S")
        app.screen.query_one("#send-channel", Select).value = "whatsapp"
        await pilot.pause()
        shown = screen_text(app)
        for hint in ("from: sender", "or a template", "language (en)", "params: a|b"):
            assert hint in shown
