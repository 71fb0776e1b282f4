"""The monitor, driven like a user drives it — every key and flow of the issue — against the
simulator over real loopback HTTP. Time moves only when a test moves it (the simulator's clock is
the test's clock), so nothing here sleeps to synchronise."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import pytest
from textual import events
from textual.message import Message
from textual.widgets import Input, Select
from ui_kit import (
    entry,
    idle,
    list_lines,
    said,
    screen_text,
    sim_settings,
    status_requests,
    until,
)

from d7tui.channels.status import StatusClient
from d7tui.client import Engine, RetryPolicy
from d7tui.clock import ManualClock
from d7tui.config import Secret, Settings
from d7tui.models import IdKind, Phase, Target
from d7tui.poller import FRESH_FOR
from d7tui.pollstate import PollConfig, PollUpdate, WatchStatus
from d7tui.simulator import Faults, Simulator, Step
from d7tui.ui.app import D7App, make_app
from d7tui.ui.messages import PollNews
from d7tui.ui.screens.add import AddDialog
from d7tui.ui.screens.help import HelpScreen
from d7tui.ui.widgets.ids_input import IdsInput
from d7tui.ui.widgets.watchlist_table import WatchlistTable

SIZE = (120, 40)
DELIVERS = [Step(0, "accepted"), Step(4, "delivered")]


def create(sim: Simulator, channel: str, *recipients: str, script: Any = None, **kw: Any) -> str:
    """A request whose recipients follow `script` (default: accepted, then delivered at 4 s)."""
    return sim.create_request(channel, list(recipients), script or DELIVERS, **kw)


def build(sim: Simulator, clock: ManualClock, ids: Iterable[str] = (), **kw: Any) -> D7App:
    settings = kw.pop("settings", None) or sim_settings(sim)
    targets = [t if isinstance(t, Target) else Target(t) for t in ids]
    app = make_app(
        settings,
        ids=targets,
        clock=clock,
        poll_config=kw.pop("poll_config", PollConfig(workers=4)),
        **kw,
    )
    app.rings = 0  # type: ignore[attr-defined]

    def bell() -> None:
        app.rings += 1  # type: ignore[attr-defined]

    app.bell = bell  # type: ignore[method-assign]
    return app


async def paste(pilot: Any, app: D7App, text: str) -> None:
    """Paste into the focused widget, as a terminal's bracketed paste delivers it."""
    assert app.focused is not None
    app.focused.post_message(events.Paste(text))
    await pilot.pause()


async def paste_into_list(pilot: Any, app: D7App, text: str) -> None:
    """Paste on the list (nothing focused takes it): the add dialog opens with the ids."""
    app.screen.post_message(events.Paste(text))
    await until(pilot, lambda: isinstance(app.screen, AddDialog))


def selected(app: D7App) -> str | None:
    return app.screen.query_one(WatchlistTable).selected


def order(app: D7App) -> list[str]:
    return app.screen.query_one(WatchlistTable).order


async def test_a_status_change_flashes_the_row_and_the_event_strip_names_it(sim, clock):
    rid = create(sim, "sms", "+971509752626")
    app = build(sim, clock, [rid], labels={rid: "Order 1182"})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await idle(pilot, app)
        assert entry(app, rid).latest_status == "accepted"
        assert entry(app, rid).channel == "sms"  # `auto` found it on sms
        assert said(app) == []  # first seen: not news
        clock.advance(4)
        await idle(pilot, app)
        assert entry(app, rid).latest_status == "delivered"
        line = f"{rid[:8]} Order 1182 · +971509752626: accepted → delivered"
        assert line in said(app)
        assert rid in app.screen.flashing
        text = screen_text(app)
        assert line in text  # in the event strip, covering nothing
        assert re.search(rf"✓ +{rid[:8]}", text)  # the row, with its phase's symbol
        assert "accepted → ✓ delivered" in text  # the timeline
        assert app.rings == 0


async def test_a_failure_is_told_in_the_failure_colour_and_rings_the_bell(sim, clock):
    rid = create(
        sim,
        "whatsapp",
        "+919000000001",
        script=[Step(0, "sent"), Step(3, "rejected", "Recipient is not a WhatsApp user")],
    )
    app = build(sim, clock, [rid])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await idle(pilot, app)
        clock.advance(4)
        await idle(pilot, app)
        failures = [e.text for e in app.events if e.severity == "error"]
        assert failures == [
            f"✗ {rid[:8]} whatsapp · +919000000001: sent → rejected"
            " (Recipient is not a WhatsApp user)"
        ]
        assert app.rings == 1
        assert entry(app, rid).problem


async def test_a_flood_of_failures_rings_the_bell_once_not_once_a_poll(sim, clock):
    # 2,000 recipients failing at once rang 347 times in 3.5 s (J11): one ring per burst.
    fails = [Step(0, "sent"), Step(3, "rejected", "no")]
    first = [create(sim, "whatsapp", f"+91900000{i:04d}", script=fails) for i in range(6)]
    later = create(sim, "whatsapp", "+919000009999", script=[Step(0, "sent"), Step(9, "rejected")])
    app = build(sim, clock, [*first, later], poll_config=PollConfig(workers=1))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await idle(pilot, app)
        clock.advance(4)
        await idle(pilot, app)
        assert sum(e.severity == "error" for e in app.events) == 6  # each failure still told
        assert app.rings == 1
        clock.advance(6)  # past the bell's gap: the next failure rings again
        await idle(pilot, app)
        assert entry(app, later).problem
        assert app.rings == 2


async def test_every_recipient_final_stops_polling_after_one_confirming_poll(sim, clock):
    rid = create(sim, "sms", "+971500000001", script=[Step(0, "delivered")])
    app = build(sim, clock, [rid])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        clock.advance(2)
        await idle(pilot, app)
        assert entry(app, rid).status is WatchStatus.DONE
        requests = status_requests(sim)
        clock.advance(3600)
        await idle(pilot, app)
        assert status_requests(sim) == requests
        assert "no more polls" in screen_text(app)
        assert "✓ all final: nothing to poll" in screen_text(app)


async def test_a_request_given_up_while_pending_is_not_called_final(sim, clock):
    # K13: every request stale (given up after 72 h, still pending) read "✓ all final".
    rid = create(sim, "sms", "+971500000001", script=[Step(0, "sent")])
    app = build(sim, clock, [rid])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        clock.advance(73 * 3600)
        await idle(pilot, app)
        assert entry(app, rid).status is WatchStatus.STALE
        shown = screen_text(app)
        assert "nothing to poll: 1 stale (given up, still pending; r asks again)" in shown
        assert "all final" not in shown


async def test_add_dialog_adds_selects_and_polls_at_once(sim, clock):
    first = create(sim, "sms", "+971500000001")
    new = create(sim, "whatsapp", "+919000000001")
    app = build(sim, clock, [first])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        await pilot.press("a")
        assert isinstance(app.screen, AddDialog)
        await paste(pilot, app, new)
        await pilot.press("tab", "tab")  # past the channel, to the label
        await pilot.press(*"refund")
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, AddDialog))
        assert selected(app) == new
        await idle(pilot, app)
        assert entry(app, new).label == "refund"
        assert entry(app, new).channel == "whatsapp"
        assert entry(app, new).latest_status == "accepted"
        assert "refund" in screen_text(app)


async def test_add_an_infobip_bulk_by_its_id(sim, clock):
    bulk, _ = sim.create_infobip_bulk(
        ["41793026727"], [Step(0, "PENDING_ACCEPTED"), Step(3, "DELIVERED_TO_HANDSET")]
    )
    app = build(sim, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        await paste(pilot, app, bulk)
        await pilot.press("tab", "space")  # open the channel list
        await pilot.press(*["down"] * 4, "enter")  # infobip: the id kind appears, bulk id first
        assert app.screen.query_one("#add-kind").display
        await pilot.press("tab", "tab", "enter")  # past the kind, to the label: enter adds
        await until(pilot, lambda: bulk in app.watchlist)
        assert entry(app, bulk).target == Target(bulk, "infobip", IdKind.BULK)
        await idle(pilot, app)
        # Logs (the default) say where the message is at once; no waiting for a report.
        assert entry(app, bulk).latest_status == "PENDING_ACCEPTED"
        clock.advance(4)
        await idle(pilot, app)
        assert entry(app, bulk).latest_status == "DELIVERED_TO_HANDSET"
        text = screen_text(app)
        assert "mccMnc 22801" in text or "41793026727" in text


async def test_bad_input_is_said_in_the_dialog_and_nothing_is_requested(sim, clock):
    app = build(sim, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        await pilot.press(*"not-a-uuid")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, AddDialog)
        error = str(app.screen.query_one("#add-error").render())
        assert error == (
            "1 id not valid for auto left here: not a D7 request id (expected a UUID):"
            " 'not-a-uuid'."
        )
        assert "left here" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert len(app.watchlist) == 0
        assert status_requests(sim) == 0


async def test_the_add_dialog_adds_the_good_ids_and_keeps_the_bad_ones_with_why(sim, clock):
    good = [create(sim, "sms", f"+97150000000{i}") for i in range(2)]
    app = build(sim, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        await paste(pilot, app, f"{good[0]} oops-1 {good[1]} 12ab")
        await pilot.press("enter")
        await pilot.pause()
        assert [e.request_id for e in app.watchlist] == good  # the good ones are watched
        assert isinstance(app.screen, AddDialog)  # the bad ones wait, with why
        assert app.screen.query_one("#add-ids", Input).value == "oops-1 12ab"
        text = screen_text(app)
        assert "Added 2 ids; 2 ids not valid for auto left here" in text
        await pilot.press("escape")


async def test_a_number_typed_for_d7_is_taken_for_an_infobip_id(sim, clock):
    bulk, _ = sim.create_infobip_bulk(["41793026727"], [Step(0, "PENDING_ACCEPTED")])
    numeric = "4197421264953335780"
    app = build(sim, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a", *numeric, "enter")
        assert isinstance(app.screen, AddDialog)
        assert app.screen.query_one("#add-channel", Select).value == "infobip"
        assert "This looks like an Infobip id: channel set to infobip" in screen_text(app)
        await pilot.press("tab", "enter")  # enter on the channel list adds
        await until(pilot, lambda: numeric in app.watchlist)
        assert entry(app, numeric).target.channel == "infobip"
        assert not isinstance(app.screen, AddDialog)
        del bulk


async def test_a_paste_of_many_ids_adds_them_all(sim, clock):
    ids = [create(sim, "sms", f"+97150000000{i}") for i in range(3)]
    app = build(sim, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await paste_into_list(pilot, app, f"{ids[0]}\n{ids[1]}, {ids[2]}\n")
        await pilot.pause()
        assert "3 ids" in screen_text(app)
        box = app.screen.query_one(IdsInput)
        assert box.value == f"{ids[0]} {ids[1]}, {ids[2]}"  # shown apart, not glued
        await pilot.press("enter")
        await idle(pilot, app)
        assert [e.request_id for e in app.watchlist] == ids
        assert selected(app) == ids[0]
        assert all(entry(app, i).latest_status == "accepted" for i in ids)


async def test_a_paste_with_ids_already_watched_or_repeated_says_so(sim, clock):
    ids = [create(sim, "sms", f"+97150000000{i}") for i in range(3)]
    app = build(sim, clock, [Target(ids[0], "sms")])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await idle(pilot, app)
        # one already watched, one typed twice (once in capitals): none lost without a word
        await paste_into_list(pilot, app, f"{ids[0]}\n{ids[1]}\n{ids[2]}\n{ids[1].upper()}")
        await pilot.press("enter")
        await idle(pilot, app)
        assert [e.request_id for e in app.watchlist] == ids
        assert any(
            "Watching 2 more requests (1 already watched, 1 repeated)" in t for t in said(app)
        )


async def test_a_paste_with_an_escape_in_it_is_named_with_the_way_round(sim, clock):
    # Textual's parser turns what follows an ESC in a bracketed paste into key presses: the
    # paste that arrives still holds the ESC. The dialog must say the text may be garbled.
    good = create(sim, "sms", "+971500000001")
    app = build(sim, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await paste_into_list(pilot, app, f"{good}\n\x1b")
        await pilot.pause()
        error = str(app.screen.query_one("#add-error").render())
        assert "escape codes" in error and "d7tui add - < FILE" in error
        # pasted into the open dialog's box, the same word
        await pilot.press("ctrl+u")
        await until(pilot, lambda: str(app.screen.query_one("#add-error").render()) == "")
        await paste(pilot, app, f"{good}\x1b[31m")
        await pilot.pause()
        assert "escape codes" in str(app.screen.query_one("#add-error").render())
        # a clean paste is not warned about
        await pilot.press("escape")
        await paste_into_list(pilot, app, good)
        await pilot.pause()
        assert str(app.screen.query_one("#add-error").render()) == ""


async def test_remove_then_undo(sim, clock):
    ids = [create(sim, "sms", f"+97150000000{i}") for i in range(2)]
    app = build(sim, clock, ids)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await idle(pilot, app)
        await pilot.press("d")
        assert ids[0] not in app.watchlist and ids[0] not in app.poller
        assert order(app) == [ids[1]]
        assert any("u brings it back" in t for t in said(app))
        await pilot.press("u")
        assert [e.request_id for e in app.watchlist] == ids
        assert selected(app) == ids[0]
        assert said(app)[-1] == f"Watching {ids[0][:8]} again."  # the undo is said too
        assert ids[0] in app.poller
        clock.advance(4)
        await idle(pilot, app)
        assert entry(app, ids[0]).latest_status == "delivered"


async def test_pause_stops_polling_and_refresh_still_polls(sim, clock):
    rid = create(sim, "sms", "+971500000001")
    app = build(sim, clock, [Target(rid, "sms")])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        await pilot.press("p")
        assert "paused" in screen_text(app)
        requests = status_requests(sim)
        clock.advance(10)
        await idle(pilot, app)
        assert status_requests(sim) == requests
        await pilot.press("r")
        await idle(pilot, app)
        assert status_requests(sim) == requests + 1
        assert entry(app, rid).latest_status == "delivered"
        # Asked for a moment ago: `R` (or `r` again) does not ask for it again, and says so.
        await pilot.press("R", "R", "r")
        await idle(pilot, app)
        assert status_requests(sim) == requests + 1
        assert "Not asked again: 1 request asked for 0 s ago" in said(app)[-1]
        clock.advance(FRESH_FOR)
        await pilot.press("R")
        await idle(pilot, app)
        assert status_requests(sim) == requests + 2
        await pilot.press("p")
        assert "● polling" in screen_text(app)


async def test_a_held_refresh_key_asks_each_request_once(sim, clock):
    """Fresh-eyes finding (t8 #1): a held `R` (the key repeats ~30 times a second) asked every
    watched id again at each repeat, 560 requests in 2 s for 200 final ids."""
    ids = [create(sim, "sms", f"+9715000001{n:02d}") for n in range(12)]
    app = build(sim, clock, [Target(rid, "sms") for rid in ids])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        requests = status_requests(sim)
        await pilot.press(*["R"] * 10)
        await idle(pilot, app)
        assert status_requests(sim) == requests + len(ids)
        assert "Not asked again: 12 requests asked for 0 s ago" in said(app)[-1]
        await pilot.press("r")  # the selected one, asked a moment ago by R
        await idle(pilot, app)
        assert status_requests(sim) == requests + len(ids)


async def test_filter_problems_and_escape(sim, clock):
    ok = create(sim, "sms", "+971500000001", script=[Step(0, "delivered")])
    bad = create(sim, "sms", "+971500000002", script=[Step(0, "un_delivered")])
    app = build(sim, clock, [ok, bad], labels={ok: "alpha", bad: "beta"})
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        await pilot.press("slash", *"alp")
        assert order(app) == [ok]
        await pilot.press("enter")
        assert "filter: alp" in screen_text(app)
        await pilot.press("escape")
        assert order(app) == [ok, bad]
        await pilot.press("f")
        assert order(app) == [bad]
        assert "problems only" in screen_text(app)
        await pilot.press("f")
        assert order(app) == [ok, bad]
        await pilot.press("slash", *"+971500000002", "enter")  # by recipient
        assert order(app) == [bad]


async def test_keys_typed_fast_after_enter_in_the_filter_move_the_list(sim, clock):
    """`/ promo enter j j` typed fast put `jj` into the filter (`promojj`: nothing shown) instead
    of moving the list: the app hands each key to the focused box as it comes, and the box
    was still focused while the enter went up to its binding."""
    ids = [create(sim, "sms", f"+97150000000{n}", script=[Step(0, "delivered")]) for n in range(4)]
    app = build(sim, clock, ids, labels={rid: f"promo {n}" for n, rid in enumerate(ids)})
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        await pilot.press("slash", *"promo")
        shown = order(app)
        assert selected(app) == shown[0]
        for key, character in (("enter", "\r"), ("j", "j"), ("j", "j")):
            app.post_message(events.Key(key, character))  # one read of the terminal: no wait
        await idle(pilot, app)
        assert "filter: promo" in screen_text(app) and "promojj" not in screen_text(app)
        assert order(app) == shown  # nothing filtered away
        assert selected(app) == shown[2]  # moved twice
        await pilot.press("j")  # and the keys after them go on as ever
        assert selected(app) == shown[3]


async def test_keys_inside_a_paste_are_not_pressed(sim, clock):
    # L7: a crafted clipboard, "promo ESC[201~ <tab> +++ p", pasted into the filter box paused
    # polling and raised its rate: the reader turns what follows the end marker into keys.
    ok = create(sim, "sms", "+971500000001", script=[Step(0, "delivered")])
    app = build(sim, clock, [ok], labels={ok: "promo"})
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        await pilot.press("slash")
        interval = app.poller.interval_range()
        pasted = events.Paste("promo")
        app.post_message(pasted)  # as the terminal's reader makes them: one read, one instant
        for key in ("tab", "plus", "plus", "p"):
            tail = events.Key(key, "+" if key == "plus" else None)
            tail.time = pasted.time + 0.001
            app.post_message(tail)
        await idle(pilot, app)
        assert not app.poller.paused
        assert app.poller.interval_range() == interval
        assert any("Keys that came inside a paste were ignored" in line for line in said(app))
        await pilot.press("enter")  # the user's own keys still work
        assert "filter: promo" in screen_text(app)
        await pilot.press("p")
        assert app.poller.paused


async def test_sort_cycles_and_the_cursor_stays_on_its_request(sim, clock):
    ids = [
        create(sim, "sms", "+971500000001", script=[Step(0, "sent"), Step(6, "delivered")]),
        create(sim, "sms", "+971500000002", script=[Step(0, "un_delivered")]),
        create(sim, "sms", "+971500000003", script=[Step(0, "delivered")]),
    ]
    app = build(sim, clock, ids)
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        assert "sort: last change" in screen_text(app)  # the default, as in htop and k9s
        await pilot.press("down", "down")
        assert selected(app) == ids[2]
        await pilot.press("s")  # status: failed first, then pending, delivered last
        assert "sort: status" in screen_text(app)
        assert order(app) == [ids[1], ids[0], ids[2]]
        assert selected(app) == ids[2]  # the same request, on another row
        await pilot.press("s", "s")  # added, then last change again
        await pilot.press("up")
        cursor_on = selected(app)
        assert cursor_on != ids[0]
        clock.advance(6)  # ids[0] changes: it moves to the top, the cursor stays put
        await idle(pilot, app)
        assert order(app)[0] == ids[0]
        assert selected(app) == cursor_on
        # And the screen shows the new order, each row with its own cells.
        rows = [r for r in list_lines(app) if any(i[:8] in r for i in ids)]
        assert [next(i for i in ids if i[:8] in r) for r in rows] == order(app)
        assert "delivered" in rows[0] and "un_delivered" not in rows[0]


async def test_copy_mask_faster_slower_theme_help_palette_and_quit(sim, clock):
    rid = create(sim, "sms", "+971509752626")
    app = build(sim, clock, [rid])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await idle(pilot, app)
        await pilot.press("c")
        assert app.clipboard == rid
        await pilot.press("m")
        text = screen_text(app)
        assert "+97150•••••26" in text and "+971509752626" not in text
        await pilot.press("plus")
        assert "every 1s→30s" in screen_text(app)
        await pilot.press("minus", "minus")
        assert "every 4s→2m" in screen_text(app)
        theme = app.theme
        await pilot.press("t")
        assert app.theme != theme
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "Privacy mode" in screen_text(app)
        await pilot.press("escape")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Refresh all (R)" in titles and "Filter (/)" in titles
        await pilot.press("q")
    assert app.return_code == 0


async def test_the_palette_runs_an_action(sim, clock):
    rid = create(sim, "sms", "+971509752626")
    app = build(sim, clock, [rid])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        await pilot.press("ctrl+p", *"mask")
        await until(pilot, lambda: "Mask (m)" in screen_text(app))
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.masked)


async def test_enter_goes_into_the_detail_and_escape_comes_back(sim, clock):
    rid = create(
        sim,
        "whatsapp",
        "+919000000001",
        extra=[{"originator": "D7", "template_id": "otp", "cust_ref": "A1"}],
    )
    app = build(sim, clock, [rid])
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot, app)
        await pilot.press("enter")
        assert app.focused is not None and app.focused.id == "recipients"
        await pilot.press("tab")  # the fields, below the recipients: the detail scrolls to them
        await pilot.pause()
        text = screen_text(app)
        assert "template_id otp" in text and "cust_ref=A1" in text
        assert "d7tui" in text.splitlines()[0]  # the title stays
        await pilot.press("escape")
        assert isinstance(app.focused, WatchlistTable)
        assert app.screen.query_one(WatchlistTable).region.height > 0  # the list is back


async def test_in_the_detail_the_title_events_and_status_line_stay_and_news_shows(sim, clock):
    # Two requests with many recipients: the detail is taller than an 80x24 screen.
    long = create(sim, "whatsapp", *(f"+91900000{i:04d}" for i in range(30)))
    other = create(sim, "sms", "+380507654321", script=[Step(0, "sent"), Step(3, "undelivered")])
    app = build(sim, clock, [long, other])
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot, app)
        app.screen.query_one(WatchlistTable).select(long)
        await pilot.press("enter")
        await pilot.press("tab")  # into the fields below the recipients
        clock.advance(4)  # meanwhile the other request fails
        await idle(pilot, app)
        lines = screen_text(app).splitlines()
        assert "d7tui" in lines[0]  # the title
        assert any("✗" in line and "+380507654321" in line for line in lines[-8:])  # the news
        assert "polling every" in "".join(lines[-5:])  # the status line
        assert app.screen.query_one(WatchlistTable).region.height == 0  # the list stepped aside


async def test_a_refused_token_from_the_environment_says_to_restart_not_to_edit_the_file(
    sim, clock
):
    # The variable wins over config.toml, and a running process never sees it change (J3).
    rid = create(sim, "sms", "+971500000001")
    settings = replace(
        sim_settings(sim, token="wrong"), from_environment=frozenset({"D7_API_TOKEN"})
    )
    app = build(sim, clock, [rid], settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        assert entry(app, rid).status is WatchStatus.AUTH
        text = " ".join(screen_text(app).split())
        assert "it comes from the environment variable D7_API_TOKEN" in text
        assert "quit, set D7_API_TOKEN right (or unset it to use config.toml)" in text
        assert "in config.toml and press p" not in text


async def test_a_refused_token_stops_polling_with_a_banner_until_fixed_and_resumed(sim, clock):
    rid = create(sim, "sms", "+971500000001")
    reloaded: list[Settings] = []

    def reload() -> Settings:
        reloaded.append(sim_settings(sim))
        return reloaded[-1]

    app = build(
        sim, clock, [rid], settings=sim_settings(sim, token="wrong"), reload_settings=reload
    )
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        assert entry(app, rid).status is WatchStatus.AUTH
        text = screen_text(app)
        assert "check D7_API_TOKEN" in text
        assert "fix d7_api_token in config.toml and press p to resume" in " ".join(text.split())
        requests = status_requests(sim)
        clock.advance(60)
        await idle(pilot, app)
        assert status_requests(sim) == requests  # held, not hammered
        await pilot.press("R")
        await idle(pilot, app)
        assert said(app)[-1] == (
            "Nothing to poll now. 1 request waits for a refused credential: fix it and press p."
        )
        assert status_requests(sim) == requests
        await pilot.press("p")
        await idle(pilot, app)
        assert reloaded
        assert entry(app, rid).latest_status == "delivered"
        assert "D7_API_TOKEN" not in screen_text(app)


async def test_an_unknown_id_is_retried_then_marked_not_found_but_kept(sim, clock):
    rid = "0b0b0b0b-0000-4000-8000-000000000000"
    app = build(sim, clock, [rid], poll_config=PollConfig(workers=2, not_found_grace=10))
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        assert "not found yet" in screen_text(app)
        assert not entry(app, rid).problem
        for _ in range(6):
            clock.advance(2)
            await idle(pilot, app)
        assert entry(app, rid).status is WatchStatus.NOT_FOUND
        assert entry(app, rid).problem
        assert "not found" in screen_text(app)
        requests = status_requests(sim)
        clock.advance(600)
        await idle(pilot, app)
        assert status_requests(sim) == requests
        assert rid in app.watchlist and order(app) == [rid]


async def test_rate_limits_and_server_errors_show_and_polling_recovers(sim, clock):
    rid = create(sim, "sms", "+971500000001")
    # One try per poll: the engine's own retries (real sleeps) are tested in test_client.
    client = StatusClient(sim_settings(sim), Engine(policy=RetryPolicy(attempts=1)))
    app = build(sim, clock, [Target(rid, "sms")], client=client)
    sim.set_faults(Faults(error_rate=1.0))
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        # A host that answered, with server errors: reached, not "unreachable" (F5, t7).
        assert entry(app, rid).status_text() == "server error"
        text = screen_text(app)
        assert "1 server error" in text and "unreachable" not in text
        host = sim.base_url.split("//")[1].split(":")[0]
        # It answered, with server errors: the vendor is failing, not the network.
        assert f"{host} (sms, whatsapp, viber) answers with errors: 1 request waiting" in text
        assert "Check the network" not in text
        sim.set_faults(Faults())
        for _ in range(5):
            clock.advance(10)
            await idle(pilot, app)
        assert entry(app, rid).error is None
        assert entry(app, rid).latest_status == "delivered"
        assert "answers with errors" not in screen_text(app)
    await client.aclose()


async def test_a_host_that_never_answers_is_said_unreached_and_where_to_look(clock):
    with socket.socket() as closed:  # bound, never listening: every connection is refused
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        settings = Settings(d7_token=Secret("t"), d7_base_url=url, infobip_base_url=url)
        client = StatusClient(settings, Engine(policy=RetryPolicy(attempts=1)))
        rid = "aaaaaaaa-2222-4333-8444-555555555555"
        app = build(None, clock, [Target(rid, "sms")], settings=settings, client=client)
        async with app.run_test(size=SIZE) as pilot:
            await idle(pilot, app)
            text = screen_text(app)
            assert "Cannot reach 127.0.0.1 (sms, whatsapp, viber): 1 request waiting" in text
            assert "Check the network, a proxy (HTTPS_PROXY) or" in text, text
        await client.aclose()


async def test_an_id_added_on_the_wrong_channel_says_which_channel_knows_it(sim, clock):
    rid = create(sim, "whatsapp", "+919000000001")
    app = build(sim, clock, [Target(rid, "sms")])
    async with app.run_test(size=SIZE) as pilot:
        # The grace for a message still in transit (120 s), then given up: in steps of 10 s,
        # each a poll (steps of 2 s cost five times the screen's waiting for the same answer).
        for _ in range(20):
            clock.advance(10)
            await idle(pilot, app)
            if entry(app, rid).status is WatchStatus.NOT_FOUND:
                break
        assert entry(app, rid).status is WatchStatus.NOT_FOUND
        assert entry(app, rid).known_on == "whatsapp"
        text = " ".join(screen_text(app).split())
        assert "Not found on sms, but whatsapp knows this id" in text


async def test_hostile_strings_render_literally(sim, clock):
    hostile = "[bold red]x[/] [@click=app.quit]y[/] \x1b]2;pwned\x07 \x1b[31m"
    rid = create(
        sim,
        "whatsapp",
        hostile,
        script=[Step(0, "sent"), Step(2, "[/]rejected", "[b]reason[/b] \x1b]52;c;aGk=\x07")],
        extra=[{"originator": "[@click=app.quit]", "template_id": "[/]"}],
    )
    app = build(sim, clock, [Target(rid, "whatsapp")], labels={rid: "[red]label[/red]"})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        sim.set_faults(Faults(hostile=True, seed=3))
        await idle(pilot, app)
        clock.advance(3)
        await idle(pilot, app)
        await pilot.press("enter")  # the detail, with every field of the recipient
        text = screen_text(app)
        assert "[red]label[/red]" in text
        assert "[b]reason[/b]" in text
        assert "[@click=app.quit]" in text
        assert "␛]2;pwned␇" in text  # made visible, not sent to the terminal
        strips = app.export_screenshot()  # every character shown
        assert not any(ch in strips for ch in "\x1b\x07\x9b")
        assert any("[/]rejected" in t for t in said(app))
        assert app.is_running


async def test_the_terminal_going_away_ends_the_app(sim, clock):
    app = build(sim, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app._terminal_gone()
        await pilot.pause()
    assert app.return_code == 129


async def test_no_color_keeps_every_meaning_in_symbols(sim, clock, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    ok = create(sim, "sms", "+971500000001", script=[Step(0, "delivered")])
    bad = create(sim, "sms", "+971500000002", script=[Step(0, "un_delivered")])
    app = build(sim, clock, [ok, bad])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        assert app.no_color
        text = screen_text(app)
        assert re.search(rf"✓ +{ok[:8]}", text) and re.search(rf"✗ +{bad[:8]}", text)
        assert "✓ delivered" in text and "✗ un_delivered" in text


async def test_the_mouse_selects_a_row_and_a_second_click_enters_the_detail(sim, clock):
    ids = [create(sim, "sms", f"+97150000000{i}") for i in range(3)]
    app = build(sim, clock, ids)
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        await pilot.click(WatchlistTable, offset=(4, 3))  # the header is row 0
        assert selected(app) == ids[2]
        assert ids[2] in screen_text(app)  # the detail shows its full id
        await pilot.click(WatchlistTable, offset=(4, 3))
        assert app.focused is not None and app.focused.id == "recipients"


async def test_a_flood_of_results_costs_one_pass_of_the_screen(sim, clock):
    ids = [create(sim, "sms", f"+9715{i:08d}") for i in range(50)]
    app = build(sim, clock, ids)
    news: dict[int, PollNews] = {}  # a message is heard at each pump it is dispatched to
    listening = False

    def heard(message: Message) -> None:
        if listening and isinstance(message, PollNews):
            news[id(message)] = message

    async with app.run_test(size=SIZE, message_hook=heard) as pilot:
        await idle(pilot, app)
        listening = True
        # 50 results arriving back to back are one message, carrying the 50 in its batch
        for rid in ids:
            e = entry(app, rid)
            app._poll_update(
                PollUpdate(rid, clock.now(), "sms", WatchStatus.ACTIVE, e.state, None, polls=9)
            )
        await idle(pilot, app)
        assert [len(message.batch) for message in news.values()] == [50]
        assert all(message.batch.taken for message in news.values())
        assert all(entry(app, rid).polls == 9 for rid in ids)  # every one of them shown
        assert all(entry(app, rid).polls == 9 for rid in ids)


async def test_a_poller_that_fails_says_so_and_p_restarts_it(sim, clock):
    rid = create(sim, "sms", "+971500000001")
    app = build(sim, clock, [rid])
    run = app.poller.run
    calls = []

    async def broken() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("scheduler bug")
        await run()

    app.poller.run = broken  # type: ignore[method-assign]
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: not app.polling)
        await pilot.pause()
        assert any("RuntimeError: scheduler bug" in t for t in said(app))
        assert "polling stopped" in screen_text(app)
        await pilot.press("p")
        await idle(pilot, app)
        assert app.polling and entry(app, rid).latest_status == "accepted"


async def test_l_adds_to_the_label_instead_of_replacing_it_on_the_first_key(sim, clock):
    rid = create(sim, "sms", "+971500000001")
    app = build(sim, clock, [rid], labels={rid: "Order 1"})
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        await pilot.press("l", "2", "enter")
        await pilot.pause()
        assert entry(app, rid).label == "Order 12"


async def test_a_key_is_answered_while_a_big_count_of_the_totals_goes_on(sim, clock, monkeypatch):
    """Many requests changed at once (a restart's read, the thresholds changed) are counted into
    the totals a slice a turn of the loop, not in one turn (2 s at 100,000 requests): a key
    moves the cursor meanwhile, the status line keeps the last whole count (never a part of
    one), and once counted the totals are exact."""
    from d7tui.ui.screens import monitor

    # One request a slice, 50 ms apart: the count of 30 takes 1.5 s, a key a few milliseconds.
    monkeypatch.setattr(monitor, "TOTALS_SLICE", 1)
    monkeypatch.setattr(monitor, "COUNT_PAUSE", 0.05)
    ids = [create(sim, "sms", f"+9715000{i:05d}", script=[Step(0, "delivered")]) for i in range(30)]
    app = build(sim, clock, ids, persist=False)
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        clock.advance(2)  # the confirming polls
        await idle(pilot, app)
        await until(pilot, lambda: app.watchlist.counting == 0)
        await pilot.pause(0)
        assert "30 ✓" in screen_text(app)
        app.watchlist.stuck_after = dict(app.watchlist.stuck_after)  # every share counted again
        app.screen.refresh_all()  # type: ignore[attr-defined]
        assert app.watchlist.counting > 0
        before = app.screen.selected  # type: ignore[attr-defined]
        await pilot.press("down")
        assert app.screen.selected != before  # type: ignore[attr-defined]
        assert app.watchlist.counting > 0  # answered before the count was done
        assert "30 ✓" in screen_text(app)  # the last whole count meanwhile
        await until(pilot, lambda: app.watchlist.counting == 0)
        await pilot.pause(0)
        assert "30 ✓" in screen_text(app)


def test_the_status_line_never_says_all_final_while_work_is_left():
    from d7tui.tally import Totals
    from d7tui.ui.widgets.status_line import PollerView, status_parts

    def line(
        queued: int = 0, in_flight: int = 0, to_poll: int = 0, loading: int = 0, counting=False
    ) -> str:
        view = PollerView(
            paused=False,
            running=not loading,  # a restart reads the store first, then polls
            in_flight=in_flight,
            last_refresh=None,
            next_due=None,  # nothing scheduled: every due poll was handed to the workers
            interval=(2.0, 60.0),
            auth_stopped=False,
            queued=queued,
            to_poll=max(to_poll, queued),
            loading=loading,
        )
        colours = {p: "" for p in Phase}
        parts = status_parts(view, Totals(requests=76_000), colours, 0.0, counting=counting)
        return " ".join(part.plain for part in parts)

    assert "all final" not in line(queued=76_000)
    assert "0 in flight, 76,000 queued" in line(queued=76_000)
    # Not handed to the workers, not in the schedule either (whatever the reason): not final.
    assert "all final" not in line(to_poll=76_000)
    # A restart still reading what the store remembers: neither final nor stopped.
    reading = line(loading=100_000)
    assert "all final" not in reading and "stopped" not in reading
    assert "reading 100,000 remembered" in reading
    assert "all final" in line()
    # Not counted yet is not none (F6: "no recipients yet · cost -" under rows of recipients).
    assert "no recipients yet" not in reading and "counting…" in reading
    assert "cost -" not in reading
    assert "no recipients yet" in line()
    assert "counting…" in line(counting=True)  # counted a slice at a time after the read


async def test_news_comes_in_at_the_top_and_a_view_scrolled_away_counts_it(sim, clock):
    slow = [Step(0, "sent"), Step(600, "delivered")]
    ids = [create(sim, "sms", f"+9715000{n:05d}", script=slow) for n in range(40)]
    late = create(sim, "sms", "+971509999999", script=[Step(0, "sent"), Step(5, "delivered")])
    app = build(sim, clock, [*ids, late])
    async with app.run_test(size=(100, 30)) as pilot:
        await idle(pilot, app)
        table = app.screen.query_one(WatchlistTable)
        assert table.top_row == 0
        clock.advance(6)  # `late` changes: it comes in at the top of a view at the top
        await idle(pilot, app)
        assert order(app)[0] == late and table.top_row == 0
        assert late[:8] in list_lines(app)[1]
        await pilot.press("pagedown", "pagedown")  # the user reads further down
        reading = selected(app)
        line = next(i for i, text in enumerate(list_lines(app)) if reading[:8] in text)
        assert table.top_row > 0
        clock.advance(600)  # the others change meanwhile
        await idle(pilot, app)
        lines = list_lines(app)
        assert "new (g: top)" in lines[0]  # counted in the header, not thrown at the user
        # Every request above the view changed (`late`, which changed before, is below it).
        assert f"↑ {table.top_row} new (g: top)" in lines[0]
        assert selected(app) == reading and reading[:8] in lines[line]  # it stayed put
        await pilot.press("g")
        assert table.top_row == 0
        assert "new (g: top)" not in list_lines(app)[0]


async def test_c_in_the_detail_copies_the_number_then_the_msg_id_and_the_note_shows(sim, clock):
    rid = create(sim, "sms", "+971509752626")
    app = build(sim, clock, [rid])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        app.set_label_note(rid, "Order 1182", "customer called twice")
        app.screen.refresh_all({rid})
        await pilot.pause()
        assert "note customer called twice" in screen_text(app)  # the detail shows the note
        await pilot.press("c")
        assert app.clipboard == rid  # in the list: the request id
        await pilot.press("enter", "c")
        assert app.clipboard == "+971509752626"  # in the detail: the recipient's number
        recipient = entry(app, rid).state.recipients[0]  # type: ignore[union-attr]
        await pilot.press("c")
        assert app.clipboard == recipient.msg_id  # again: its msg_id
        assert any("Copied msg_id" in line for line in said(app))


async def test_the_empty_archive_says_it_is_empty(sim, clock):
    app = build(sim, clock, [create(sim, "sms", "+971500000001")])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        await pilot.press("A")
        text = screen_text(app)
        assert "The archive is empty" in text
        assert "Nothing watched yet" not in text and "d7tui --demo" not in text  # not the live's
        assert "0 archived" in text
        await pilot.press("A")
        assert "1 watched" in screen_text(app)


async def test_the_list_shows_the_reason_at_every_width_and_the_detail_sits_beside_when_wide(
    sim, clock
):
    script = [Step(0, "sent"), Step(1, "rejected", "Recipient is not a WhatsApp user")]
    rid = create(sim, "whatsapp", "+919000000001", script=script)
    app = build(sim, clock, [rid])
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot, app)
        clock.advance(2)
        await idle(pilot, app)
        for width, height in [(80, 24), (120, 40), (150, 40), (180, 45), (220, 50)]:
            await pilot.resize_terminal(width, height)
            await pilot.pause()
            header, row = list_lines(app)[:2]
            assert "Reason" in header, (width, header)
            assert "Recipi" in row, (width, row)  # the start of the reason, in its row
            wide = app.screen.query_one(WatchlistTable).region.right < width - 40
            assert wide == (width >= 180), width  # the detail beside the list only with room


@pytest.mark.long
async def test_the_detail_head_never_breaks_the_cost_from_its_amount(sim, clock):
    from d7tui.ui.format import entry_cost

    script = [[Step(0, "sent"), Step(1, "undelivered")], [Step(0, "delivered")]]
    rid = create(sim, "sms", "+971500000001", "+971500000002", script=script)
    app = build(sim, clock, [rid])
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot, app)
        clock.advance(2)
        await idle(pilot, app)
        tag = f"cost {entry_cost(entry(app, rid), wide=True)}"
        for width in range(48, 90):  # the break falls everywhere in the line
            await pilot.resize_terminal(width, 24)  # a pause of its own: the screen is redrawn
            head = app.screen.query_one("#detail-head").region
            lines = screen_text(app).splitlines()[head.y : head.bottom]
            assert any(tag in line for line in lines), (width, lines)


async def test_no_credential_at_all_is_said_so_not_refused(sim, clock):
    rid = create(sim, "sms", "+971500000001")
    app = build(sim, clock, [rid], settings=sim_settings(sim, token=""))
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        assert entry(app, rid).status_text() == "no credential"  # nothing was asked
        assert status_requests(sim) == 0
        text = " ".join(screen_text(app).split())
        assert "API credential missing: check D7_API_TOKEN" in text
        assert "fix d7_api_token in config.toml and press p to resume" in text


async def test_the_new_hint_belongs_to_the_sort_it_was_counted_in(sim, clock):
    # "↑ N new" counts news that came in at the top, sorted by last change: another sort chosen
    # while scrolled away (status, as added) has no news above its view, and does not keep the
    # count of the sort before.
    slow = [Step(0, "sent"), Step(600, "delivered")]
    ids = [create(sim, "sms", f"+9715000{n:05d}", script=slow) for n in range(40)]
    app = build(sim, clock, ids)
    async with app.run_test(size=(100, 30)) as pilot:
        await idle(pilot, app)
        table = app.screen.query_one(WatchlistTable)
        await pilot.press("pagedown", "pagedown")
        clock.advance(600)  # every request changes while the view is scrolled away
        await idle(pilot, app)
        assert "new (g: top)" in list_lines(app)[0]
        await pilot.press("s")  # sorted by status
        await idle(pilot, app)
        assert table.top_row > 0 and "new" not in list_lines(app)[0]
        await pilot.press("s")  # as added
        await idle(pilot, app)
        assert table.top_row > 0 and "new" not in list_lines(app)[0]
        await pilot.press("s")  # by last change again: nothing came in since it was chosen
        await idle(pilot, app)
        assert "new" not in list_lines(app)[0]


async def test_a_key_read_while_a_poll_answer_waits_is_drawn_before_that_news(sim, clock):
    # At 100,000 ids the answers never stop coming while the first polls are out: a key read by
    # the terminal goes first (keys_first.py). Here an answer comes back while a key is on its
    # way: the key moves the cursor in the list the user saw, then the news is applied.
    slow = [Step(0, "sent"), Step(600, "delivered")]
    others = [create(sim, "sms", f"+97150000000{n}", script=slow) for n in (2, 3)]
    moving = create(sim, "sms", "+971500000001", script=[Step(0, "sent"), Step(5, "delivered")])
    app = build(sim, clock, [*others, moving])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        seen = order(app)
        assert seen[0] != moving and selected(app) == seen[0]  # the news would move it up
        gate = app.keys_first
        gate.hold = 60.0  # longer than any pause of a loaded machine: the key opens it
        asked = status_requests(sim)
        gate.close()  # the terminal read a key: it is on its way to the screen
        clock.advance(6)  # `moving` is polled and answers "delivered" meanwhile
        await until(pilot, lambda: status_requests(sim) > asked and app.poller.busy == 0)
        await pilot.pause()
        assert order(app) == seen  # the answer waits: not applied under the coming key
        assert "delivered" not in entry(app, moving).outcome.text
        await pilot.press("down")  # the key: drawn first, in the order the user saw
        assert selected(app) == seen[1]
        assert not gate.closed  # opened once the key was drawn
        await idle(pilot, app)
        assert "delivered" in entry(app, moving).outcome.text  # then the news
        assert order(app)[0] == moving and selected(app) == seen[1]  # the cursor kept it
