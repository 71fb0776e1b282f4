"""The monitor through faults a user meets: a server that accepts connections and never answers,
and pastes nobody should have to clean up first (10,000 ids, duplicates, empty lines, ids that
try to climb out of the URL). Over real loopback HTTP, driven like a user drives it; time moves
only with the test's clock, except the HTTP timeout, which is the engine's own."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hostile import HostileServer
from hostile import head as hostile_head
from httpstub import HttpStub, Reply
from shell import as_from_a_shell
from textual import events
from textual.widgets import Input
from ui_kit import (
    BALANCE_PATHS,
    entry,
    idle,
    list_lines,
    screen_text,
    sim_settings,
    status_requests,
    until,
)

from d7tui.channels.status import StatusClient
from d7tui.client import Engine, RetryPolicy
from d7tui.clock import ManualClock
from d7tui.config import Settings
from d7tui.models import IdKind, Target
from d7tui.pollstate import PollConfig
from d7tui.safety import Secret
from d7tui.simulator import Faults, Simulator, Step
from d7tui.simulator.hostile import HOSTILE, MEGABYTE
from d7tui.ui.app import D7App, make_app
from d7tui.ui.screens.add import AddDialog
from d7tui.ui.screens.help import HelpScreen
from d7tui.ui.widgets.watchlist_table import WatchlistTable
from d7tui.watchlist import SortKey

SIZE = (120, 40)
DELIVERS = [Step(0, "accepted"), Step(4, "delivered")]


@pytest.fixture
async def silent() -> AsyncIterator[HttpStub]:
    """A server that accepts every connection, reads the request, and never answers."""
    async with HttpStub() as stub:
        stub.default = Reply(hang=True)
        yield stub


def rid(n: int) -> str:
    return str(uuid.UUID(int=n, version=4))


# ---------------------------------------------------------------------------------------------
# A server that accepts and never answers


def silent_app(stub: HttpStub, clock: ManualClock, timeout: float) -> tuple[Any, StatusClient]:
    settings = Settings(
        d7_token=Secret("never-shown-token"), d7_base_url=stub.base_url, timeout=timeout
    )
    engine = Engine(max_in_flight=4, timeout=timeout, policy=RetryPolicy(attempts=1))
    client = StatusClient(settings, engine)
    app = make_app(settings, ids=[Target(rid(1), "sms")], clock=clock, client=client, persist=False)
    return app, client


def stub_status_requests(stub: HttpStub) -> int:
    """Requests the stub was asked, but the balance reads (as ui_kit.status_requests)."""
    return stub.count() - sum(map(stub.count, BALANCE_PATHS))


async def test_a_server_that_never_answers_times_the_row_out_and_the_screen_stays_live(
    silent: HttpStub, clock: ManualClock
) -> None:
    # 2 s: long enough for a loaded machine's screen to show the request out before it ends
    app, client = silent_app(silent, clock, timeout=2.0)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await silent.wait_for(lambda stub: stub_status_requests(stub) >= 1)
            await until(pilot, lambda: "polling now" in screen_text(app), timeout=1.5)
            text = screen_text(app)
            assert "● polling" in text and "1 watched" in text and "polling now" in text
            # The request hangs; the screen does not: help opens and closes.
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            # The engine's timeout ends it, and the row says why.
            await until(pilot, lambda: entry(app, rid(1)).error is not None)
            await idle(pilot, app)
            # Reached, and no answer came in time: "too slow", as the banner says (F5, t7).
            assert entry(app, rid(1)).status_text() == "too slow"
            text = screen_text(app)
            assert "answers too slowly" in text and "1 too slow" in text
            assert app.is_running
    finally:
        await client.aclose()


async def _dribbles(
    _head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Takes the request, sends the head and a few bytes of the body, then stalls."""
    writer.write(hostile_head(content_type="application/json", content_length="900"))
    writer.write(b'{"request_id": "x", "messages": [')
    await writer.drain()
    await reader.read()  # until the client gives up and closes


async def _half_a_status_line(
    _head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    writer.write(b"HTTP/1.1 2")
    await writer.drain()
    await reader.read()


@pytest.mark.parametrize("behaviour", [_dribbles, _half_a_status_line])
async def test_a_host_reached_whose_answer_does_not_come_in_time_is_said_slow_not_unreached(
    clock: ManualClock, behaviour: Any
) -> None:
    """A server that accepted and then dribbled its answer was said `Cannot reach 127.0.0.1 …
    timed out. Check the network …`: it was reached; what is slow is its answer."""
    async with HostileServer(behaviour) as server:
        settings = Settings(
            d7_token=Secret("t"), d7_base_url=server.base_url, infobip_base_url=server.base_url
        )
        engine = Engine(timeout=0.5, policy=RetryPolicy(attempts=1))
        client = StatusClient(settings, engine)
        app = make_app(
            settings, ids=[Target(rid(1), "sms")], clock=clock, client=client, persist=False
        )
        try:
            async with app.run_test(size=SIZE) as pilot:
                watched = app.watchlist.get
                await until(pilot, lambda: getattr(watched(rid(1)), "error", None), timeout=5)
                await idle(pilot, app)
                text = screen_text(app)
                assert "127.0.0.1 (sms, whatsapp, viber) answers too slowly: 1 request" in text
                assert "reached, but it answers too slowly" in text
                assert "Cannot reach" not in text and "Check the network" not in text
                # The row and the count say so too, not "unreachable" (F5, t7).
                assert watched(rid(1)).status_text() == "too slow"  # type: ignore[union-attr]
                assert "⚠ too slow" in text and "⚠ 1 too slow" in text
                assert "unreachable" not in text
        finally:
            await client.aclose()


async def test_an_instant_server_error_held_behind_another_ids_429_is_no_ten_second_outage(
    clock: ManualClock,
) -> None:
    """Fresh-eyes F5 (t7): an HTTP 500 that came at once, whose next try waited behind another
    id's 429 on the same host, showed `⚠ unreachable` and "gave up after 10 s (1 try): server
    error (HTTP 500)": no network failed and no 10 s passed."""
    limited, failing = rid(1), rid(2)
    answer_429, answer_500 = asyncio.Event(), asyncio.Event()
    async with HttpStub() as stub:
        paths = [f"/report/v1/message-log/{i}" for i in (limited, failing)]
        stub.script(paths[0], Reply(429, b"{}", headers={"Retry-After": "60"}, gate=answer_429))
        stub.script(paths[1], Reply(500, b"<html><b>boom</b></html>", gate=answer_500))
        settings = Settings(
            d7_token=Secret("t"), d7_base_url=stub.base_url, infobip_base_url=stub.base_url
        )
        client = StatusClient(settings, Engine(timeout=10.0))
        ids = [Target(limited, "sms"), Target(failing, "sms")]
        app = make_app(settings, ids=ids, clock=clock, client=client, persist=False)
        try:
            async with app.run_test(size=SIZE) as pilot:
                # Both asked; the 429 first, then (its hold on the host taken) the 500.
                await stub.wait_for(lambda seen: all(map(seen.count, paths)))
                answer_429.set()
                await until(pilot, lambda: bool(app.poller.rate_holds()))
                answer_500.set()
                await until(pilot, lambda: entry(app, failing).error is not None)
                await until(pilot, lambda: "server error" in screen_text(app))
                row = entry(app, failing)
                assert row.status_text() == "server error"
                reason = row.outcome.reason
                assert reason.startswith("server error (HTTP 500), 1 try: not tried again")
                assert "(HTTP 429)" in reason and "gave up after" not in reason
                await until(pilot, lambda: "⚠ 1 rate limited, 1 server error" in screen_text(app))
                text = screen_text(app)
                assert "⚠ server error" in text and "unreachable" not in text
                assert "answers with errors" in text
                assert stub.count(paths[1]) == 1
        finally:
            await client.aclose()


async def test_quitting_while_a_request_hangs_does_not_wait_for_it(
    silent: HttpStub, clock: ManualClock
) -> None:
    app, client = silent_app(silent, clock, timeout=300)

    async def run() -> None:
        async with app.run_test(size=SIZE) as pilot:
            # The status request itself, not any request: the balance is read at the start too,
            # and a loaded machine may send it first.
            await silent.wait_for(lambda stub: stub_status_requests(stub) >= 1)
            await pilot.press("q")

    try:
        # A hang guard, not a timing: waiting for the request would take the full 300 s.
        await asyncio.wait_for(run(), 30)
        assert app.return_code == 0
        assert stub_status_requests(silent) == 1  # asked once, never
    finally:
        await client.aclose()


async def status_against(
    stub: HttpStub, tmp_path: Path, request_id: str
) -> asyncio.subprocess.Process:
    """`d7tui status` of one id in its own process, asking `stub`."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "d7tui", "status", "--channel", "sms", request_id),
        env={
            "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "XDG_DATA_HOME": str(tmp_path / "data"),
            "D7_API_TOKEN": "never-shown-token",
            "D7_BASE_URL": stub.base_url,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=as_from_a_shell,
    )


async def test_d7tui_status_against_a_silent_server_says_it_answers_too_slowly(
    silent: HttpStub, tmp_path: Path
) -> None:
    (tmp_path / "config" / "d7tui").mkdir(parents=True)
    (tmp_path / "config" / "d7tui" / "config.toml").write_text("timeout = 0.3\n")
    proc = await status_against(silent, tmp_path, rid(2))
    _out, err = await proc.communicate()
    assert proc.returncode == 5
    lines = err.decode().splitlines()
    assert len(lines) == 1 and "answers too slowly" in lines[0], lines
    assert "Traceback" not in err.decode()


async def test_ctrl_c_ends_d7tui_status_while_the_server_is_silent(
    silent: HttpStub, tmp_path: Path
) -> None:
    proc = await status_against(silent, tmp_path, rid(3))
    await silent.wait_requests(1)  # asked, and waiting for an answer that never comes
    proc.send_signal(signal.SIGINT)  # as Ctrl-C sends it
    _out, err = await proc.communicate()
    assert proc.returncode == 130
    assert "Traceback" not in err.decode()


# ---------------------------------------------------------------------------------------------
# Pastes


def build(sim: Simulator, clock: ManualClock, **kw: Any) -> D7App:
    # With a store (the test's own data directory): without one, no one-time Infobip report
    # would be pulled, since it could not be kept.
    return make_app(sim_settings(sim), clock=clock, poll_config=PollConfig(workers=4), **kw)


async def paste(pilot: Any, app: Any, text: str) -> None:
    app.screen.post_message(events.Paste(text))
    await until(pilot, lambda: isinstance(app.screen, AddDialog))
    await pilot.pause()


@pytest.mark.long
async def test_ten_thousand_ids_in_one_paste_with_duplicates_and_empty_lines(sim, clock):
    ids = [rid(n) for n in range(10_000)]
    # As a spreadsheet column pastes: CRLF, blank lines, stray spaces, and every tenth id twice.
    text = "\r\n".join(
        f"  {i}  " + ("\r\n\r\n" + i if n % 10 == 0 else "") for n, i in enumerate(ids)
    )
    app = build(sim, clock)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.polling)
        await pilot.press("p")  # paused: what is added is not polled, so it is countable below
        assert app.poller.paused
        await paste(pilot, app, text)
        assert "11,000 ids" in screen_text(app)
        await pilot.press("enter")
        await until(pilot, lambda: len(app.watchlist) == 10_000)
        await pilot.pause()
        assert app.screen.query_one(WatchlistTable).row_count == 10_000  # duplicates merged
        assert [e.request_id for e in app.watchlist] == ids  # in the order pasted
        assert "10,000 watched" in screen_text(app)
        assert status_requests(sim) == 0
        # The whole list moves under the keys: to the end and back.
        await pilot.press("end")
        assert app.screen.query_one(WatchlistTable).selected == ids[-1]
        await pilot.press("home")
        assert app.screen.query_one(WatchlistTable).selected == ids[0]


async def test_a_paste_with_bad_ids_among_thousands_adds_the_good_and_keeps_the_bad(sim, clock):
    good = [rid(n) for n in range(3_000)]
    bad = ["../../etc/passwd", "%2e%2e%2f%2e%2e%2fadmin", "not-a-uuid"]
    text = "\n".join([*good[:1000], bad[0], *good[1000:2000], *bad[1:], *good[2000:]])
    app = build(sim, clock)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.polling)
        await pilot.press("p")  # paused: 3,000 polls would tell nothing more about the paste
        await paste(pilot, app, text)
        await pilot.press("enter")
        await pilot.pause()
        error = str(app.screen.query_one("#add-error").render())
        assert error == (
            "Added 3,000 ids; 3 ids not valid for auto left here: not a D7 request id (expected"
            " a UUID): '../../etc/passwd' (and 2 more)."
        )
        assert app.screen.query_one("#add-ids", Input).value == " ".join(bad)  # to put right
        await pilot.press("escape")
        await pilot.pause()
        assert [e.request_id for e in app.watchlist] == good  # as `d7tui add` does


async def test_infobip_ids_that_would_climb_out_of_the_url_are_refused(sim, clock):
    app = build(sim, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        select = app.screen.query_one("#add-channel")
        select.value = "infobip"  # type: ignore[attr-defined]
        await pilot.pause()
        for attempt in ("../../reports", "bulk/../x", "x?limit=1000", "x#y", "%2e%2e%2f"):
            app.screen.query_one("#add-ids").value = attempt  # type: ignore[attr-defined]
            await pilot.press("enter")
            await pilot.pause()
            error = str(app.screen.query_one("#add-error").render())
            assert error.startswith("1 id not valid for infobip left here"), (attempt, error)
        await pilot.press("escape")
        await pilot.pause()
        assert len(app.watchlist) == 0
        assert status_requests(sim) == 0


def list_row(app: Any, request_id: str, lines: list[str] | None = None) -> str | None:
    """The row of the list that shows this request, as the screen shows it (or None); among
    `lines` read off the screen before, when given (one screenshot for many rows)."""
    shown = list_lines(app) if lines is None else lines
    return next((row for row in shown if request_id[:8] in row), None)


async def test_rows_that_changed_out_of_sight_are_right_when_scrolled_to(sim, clock):
    # Rows out of view are drawn only when they come into view: what they show then must be
    # what the last poll said, not what they showed when they were last on screen.
    ids = [sim.create_request("sms", [f"+9715000{n:05d}"], DELIVERS) for n in range(80)]
    app = build(sim, clock, ids=[Target(i, "sms") for i in ids])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        await pilot.press("end")
        await pilot.pause()
        assert "accepted" in (list_row(app, ids[-1]) or "")
        await pilot.press("home")
        await pilot.pause()
        assert list_row(app, ids[-1]) is None  # out of sight
        clock.advance(5)  # every request is delivered now, the last ones out of sight
        await idle(pilot, app)
        await pilot.press("end")
        await pilot.pause()
        row = list_row(app, ids[-1]) or ""
        assert "delivered" in row and "accepted" not in row
        await pilot.press("home")
        await pilot.pause()
        assert "delivered" in (list_row(app, ids[0]) or "")


# ---------------------------------------------------------------------------------------------
# Hostile text from the API


def rendered(app: Any) -> str:
    """Every character the screen shows, as the app's own screenshot holds it."""
    return str(app.export_screenshot())


# Characters that draw nothing: look-alike recipients, shifted columns (issue #11).
INVISIBLE = "\u200b\u200d\u2060\ufeff\U000e0041\u2028\u00ad"


@pytest.mark.parametrize("text", [*HOSTILE, MEGABYTE, f"look{INVISIBLE}alike"])
async def test_every_hostile_string_in_every_channel_is_shown_as_text(sim, clock, text):
    script = [Step(0, "sent"), Step(2, f"{text}status", text)]
    ids = [
        Target(sim.create_request(channel, [f"+97150{text[:40]}"], script), channel)
        for channel in ("sms", "whatsapp", "viber")
    ]
    bulk, _ = sim.create_infobip_bulk(
        [f"4179{text[:40]}"], [Step(0, "PENDING_ACCEPTED"), Step(2, "DELIVERED_TO_HANDSET")]
    )
    ids.append(Target(bulk, "infobip", IdKind.BULK))
    app = build(sim, clock, ids=ids, labels={t.request_id: text[:60] for t in ids})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await idle(pilot, app)
        clock.advance(3)
        await idle(pilot, app)
        for target in ids:
            assert app.screen.query_one(WatchlistTable).selected == target.request_id
            await pilot.press("enter")  # the detail of each, with every field
            await pilot.pause()
            screen = rendered(app)
            assert not any(ch in screen for ch in "\x1b\x07\x9b\u202e\u202c" + INVISIBLE)
            await pilot.press("escape", "down")
        assert app.is_running
        assert all(entry(app, t.request_id).error is None for t in ids)
        # Markup came through as the characters it is made of.
        if text.startswith("["):
            assert text[:12] in screen_text(app)
        if "\u202e" in text:
            assert "<U+202E>evil" in screen_text(app)
        if INVISIBLE in text:
            assert "look<U+200B><U+200D><U+2060>" in screen_text(app)


async def test_a_body_that_is_not_utf8_is_a_row_error_and_polling_goes_on(clock):
    async with HttpStub() as stub:
        stub.default = Reply(body=b'{"request_id": "\xff\xfe", "data": []}')
        settings = Settings(d7_token=Secret("t"), d7_base_url=stub.base_url)
        client = StatusClient(settings, Engine(policy=RetryPolicy(attempts=1)))
        app = make_app(settings, ids=[Target(rid(7), "sms")], clock=clock, client=client)
        try:
            async with app.run_test(size=SIZE) as pilot:
                await idle(pilot, app)
                assert entry(app, rid(7)).status_text() == "bad answer"
                assert "not valid UTF-8" in screen_text(app)
                clock.advance(30)
                # Asked again: one bad answer stops nothing.
                await stub.wait_for(lambda stub: stub_status_requests(stub) >= 2)
                assert app.is_running
        finally:
            await client.aclose()


async def test_a_sorted_list_holds_its_order_while_the_cursor_moves(sim, clock):
    slow = [Step(0, "sent"), Step(60, "delivered")]
    ids = [sim.create_request("sms", [f"+97150000{n:04d}"], slow) for n in range(6)]
    late = sim.create_request("sms", ["+971509999999"], [Step(0, "sent"), Step(5, "delivered")])
    app = build(sim, clock, ids=[Target(i, "sms") for i in [*ids, late]])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        assert app.watchlist.sort is SortKey.LAST_CHANGE  # the default
        # Held for as long as this test takes, however loaded the machine: it ends the hold
        # itself below (with the real 1.5 s, a slow poll ended it before the check).
        app.screen.hold_order = 3600.0
        table = app.screen.query_one(WatchlistTable)
        before = table.order
        await pilot.press("down")  # the user is moving through the list
        clock.advance(6)  # `late` changes: sorted by last change, it belongs on top
        await until(pilot, lambda: entry(app, late).latest_status == "delivered")
        app.screen._last_full = 0.0  # the last pass over the whole list: long ago
        app.screen._flush_view()  # the redraw poll news asks for
        await pilot.pause()
        assert table.order == before  # held: no row jumped from under the cursor
        assert "delivered" in (list_row(app, late) or "")  # but its row says what changed
        app.screen.flush_all()  # the hold is over
        await pilot.pause()
        assert table.order[0] == late


# ---------------------------------------------------------------------------------------------
# A minute of faults, on screen


@pytest.mark.long
async def test_a_minute_of_faults_on_screen_rows_say_why_and_nothing_is_lost(sim, clock):
    script = [Step(0, "sent"), Step(45, "delivered"), Step(110, "read")]
    ids = [sim.create_request("whatsapp", [f"+9190617{n:05d}"], script) for n in range(8)]
    fast = RetryPolicy(attempts=3, base=0.005, cap=0.02, max_retry_after=0.05)
    client = StatusClient(sim_settings(sim), Engine(policy=fast, timeout=2.0))
    app = build(sim, clock, ids=[Target(i, "whatsapp") for i in ids], client=client)

    async def step(pilot: Any, seconds: int) -> None:
        for _ in range(seconds):
            await idle(pilot, app)
            clock.advance(1)  # the simulator's time is this clock

    try:
        async with app.run_test(size=SIZE) as pilot:
            await step(pilot, 3)
            sim.set_faults(
                Faults(
                    error_rate=0.3, burst_every=40, burst_len=8, retry_after=0.05,
                    malformed_rate=0.1, seed=4,
                )
            )  # fmt: skip
            before = status_requests(sim)
            said: set[str] = set()
            for _ in range(60):
                await step(pilot, 1)
                lines = list_lines(app)  # the screen as it is after this second, once
                for request_id in ids:
                    row = list_row(app, request_id, lines) or ""
                    error = entry(app, request_id).error
                    if error is not None:  # the row says why it is not fresh
                        said.add(entry(app, request_id).status_text())
                        assert entry(app, request_id).status_text() in row
            assert said <= {"unreachable", "server error", "rate limited", "bad answer"} and said
            # Backoff held the rate down: fewer than every id's 3 tries every 2 s.
            assert status_requests(sim) - before < len(ids) * 30 * fast.attempts
            assert app.is_running

            sim.set_faults(Faults())

            def recovered() -> bool:
                return all(
                    entry(app, i).error is None and entry(app, i).latest_status == "read"
                    for i in ids
                )

            # Within 150 s of the faults ending every row is fresh and read. Nothing is read
            # off the rows meanwhile: two seconds a step (the poller's shortest interval), and
            # the last step is the one that finds them all recovered.
            for _ in range(75):
                await idle(pilot, app)
                if recovered():
                    break
                clock.advance(2)
            await idle(pilot, app)
            assert all(entry(app, i).error is None for i in ids)
            assert all(entry(app, i).latest_status == "read" for i in ids)
            # Every change the simulator logged is in the rows' timelines.
            truth = sorted((c.msg_id, c.new) for c in sim.changes if c.old is not None)
            seen = sorted(
                (t.recipient_key, t.new_status)
                for i in ids
                for t in entry(app, i).timeline
                if t.old_status is not None
            )
            assert len(truth) == len(ids) * 2 and seen == truth
    finally:
        await client.aclose()
