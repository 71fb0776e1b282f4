"""What a newcomer reads at a glance, at the sizes people use (80×24 to 120×40): costs whole and
with their unit, the list's header never covered, a view at the top showing the top, the detail's
head losing no line. Each test is a finding of a fresh-eyes tester (findings-fresh-1.md)."""

from __future__ import annotations

import contextlib
import json
import urllib.request

import pytest
from test_ui import build, create
from textual import events
from textual.widgets import Input
from ui_kit import entry, idle, list_lines, said, screen_text, sim_settings, until

from d7tui.models import IdKind, InfobipSource, Target
from d7tui.simulator import Step
from d7tui.ui.format import entry_cost
from d7tui.ui.screens.label import LabelDialog
from d7tui.ui.screens.monitor import MonitorScreen
from d7tui.ui.widgets.filter_bar import FilterBar
from d7tui.ui.widgets.watchlist_table import WatchlistTable

SIZES = [(80, 24), (120, 40)]


@pytest.mark.parametrize("size", SIZES)
async def test_costs_show_whole_and_every_cost_has_its_unit(sim, clock, size):
    bulk, _ = sim.create_infobip_bulk(["41793026727"], [Step(0, "DELIVERED_TO_HANDSET")])
    sms = create(sim, "sms", "+971500000001", script=[Step(0, "delivered")])
    app = build(sim, clock, [Target(bulk, "infobip", IdKind.BULK), sms])
    async with app.run_test(size=size) as pilot:
        await idle(pilot, app)
        rows = list_lines(app)
        assert any(row.rstrip(" ▐").endswith("0.01 EUR") for row in rows)
        assert any(row.rstrip(" ▐").endswith("0.0004 cr") for row in rows)  # D7: credits
        # The totals name what D7's amounts are: never a bare number beside a currency.
        assert "cost 0.01 EUR + 0.0004 D7 credits" in screen_text(app)


async def test_labels_get_room_at_120_columns(sim, clock):
    rid = create(sim, "sms", "+971500000001", script=[Step(0, "delivered")])
    app = build(sim, clock, [rid], labels={rid: "Black Friday promo"})
    async with app.run_test(size=(120, 40)) as pilot:
        await idle(pilot, app)
        assert any("Black Friday pr" in row for row in list_lines(app))  # was "Black Fri…"


async def test_the_new_badge_and_the_scroll_bar_cover_no_column_name(sim, clock):
    slow = [Step(0, "sent"), Step(600, "delivered")]
    ids = [create(sim, "sms", f"+9715000{n:05d}", script=slow) for n in range(30)]
    app = build(sim, clock, ids)
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot, app)
        await pilot.press("pagedown", "pagedown")  # scrolled away
        clock.advance(600)  # everything changes: the news comes in above the view
        await idle(pilot, app)
        header = list_lines(app)[0]
        assert "new" in header  # the badge is there
        for name in ("Request", "Channel", "Recipients", "Status", "Reason", "Since", "Cost"):
            assert name in header  # and every column's name still reads whole
        assert header.rstrip() == header.rstrip(" ▐")  # no scroll bar on the header line
        assert any(row.endswith("▐") for row in list_lines(app)[1:])  # beside the rows


async def test_a_view_at_the_top_keeps_showing_the_top_when_no_key_is_pressed(sim, clock):
    # The first request (on the first row) changes last of all: were the cursor to keep it,
    # the view would follow it down and the newest changes would be out of sight.
    first = create(sim, "sms", "+971500000000", script=[Step(0, "sent"), Step(9, "delivered")])
    others = [
        create(sim, "sms", f"+9715000{n:05d}", script=[Step(0, "sent"), Step(5, "delivered")])
        for n in range(1, 20)
    ]
    app = build(sim, clock, [first, *others])
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot, app)
        table = app.screen.query_one(WatchlistTable)
        clock.advance(6)  # the others change: they come in above `first`
        await idle(pilot, app)
        assert table.top_row == 0 and table.cursor == 0
        newest = table.order[0]
        assert newest[:8] in list_lines(app)[1]
        assert "new (g: top)" not in list_lines(app)[0]
        assert app.screen.query_one("#detail-head").text.plain.startswith(newest)


@contextlib.asynccontextmanager
async def looked_at_then_moved(sim, clock):
    """A list of two requests whose first row is `looked_at` (it changed last), and `moves`,
    delivered 3 s of the app's clock later: (app, pilot, table, looked_at, moves)."""
    looked_at, moves = (
        create(sim, "sms", f"+97150000000{n}", script=[Step(0, "sent"), Step(t, "delivered")])
        for n, t in enumerate((2, 5))
    )
    app = build(sim, clock, [moves, looked_at])
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot, app)
        table = app.screen.query_one(WatchlistTable)
        clock.advance(3)  # `looked_at` changes: the newest change, on the first row
        await until(pilot, lambda: table.order[0] == looked_at)
        yield app, pilot, table, looked_at, moves


async def test_a_key_pressed_as_news_moves_another_request_under_the_cursor_acts_on_neither(
    sim, clock
):
    # K7: the cursor follows the top (the newest change); a request moved under it just as `d`
    # was pressed was removed, never looked at. The key now puts the cursor back on the one
    # that was there, and the next press acts on it.
    async with looked_at_then_moved(sim, clock) as (app, pilot, table, looked_at, moves):
        await pilot.press("g")
        assert table.selected == looked_at
        clock.advance(3)  # `moves` is delivered: it comes in on the first row, under the cursor
        await until(pilot, lambda: table.selected == moves)
        await pilot.press("d")
        assert looked_at in app.watchlist and moves in app.watchlist  # nothing removed
        assert table.selected == looked_at
        assert "The list moved as you pressed: the cursor is back on" in said(app)[-1]
        await pilot.press("d")
        assert looked_at not in app.watchlist and moves in app.watchlist


async def test_news_long_before_a_key_does_not_hold_it_back(sim, clock):
    async with looked_at_then_moved(sim, clock) as (app, pilot, table, looked_at, moves):
        clock.advance(3)
        await until(pilot, lambda: table.selected == moves)
        clock.advance(3)  # seen on the first row for a while: the key means it
        await pilot.press("d")
        assert moves not in app.watchlist and looked_at in app.watchlist


async def test_the_detail_keeps_its_request_while_news_comes_in_at_the_top(sim, clock):
    async with looked_at_then_moved(sim, clock) as (app, pilot, table, looked_at, moves):
        await pilot.press("enter")  # reading the first row's detail
        assert table.selected == looked_at
        clock.advance(3)
        await until(pilot, lambda: table.order[0] == moves)  # news at the top, as ever
        assert table.selected == looked_at  # but what is read is not swapped
        assert app.screen.query_one("#detail-head").text.plain.startswith(looked_at)


async def test_home_shows_the_order_the_status_line_claims_at_once(sim, clock):
    late = create(sim, "sms", "+971500000000", script=[Step(0, "sent"), Step(9, "delivered")])
    others = [
        create(sim, "sms", f"+9715000{n:05d}", script=[Step(0, "sent")]) for n in range(1, 30)
    ]
    app = build(sim, clock, [*others, late])  # added last: the last row
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot, app)
        await pilot.press("G", "pageup")
        clock.advance(10)  # `late` changes while the user is down the list
        await until(pilot, app.poller.idle)
        await until(pilot, lambda: not app.news_waiting)  # taken; the order held still
        await pilot.press("home")
        assert app.screen.query_one(WatchlistTable).order[0] == late
        assert late[:8] in list_lines(app)[1]  # sorted by last change: it is first, now


async def test_a_long_label_and_a_note_lose_no_line_of_the_detail_at_80_columns(sim, clock):
    rid = "11111111-2222-4333-8444-555555555555"  # not on the simulator: "not found yet"
    app = build(sim, clock, [rid])
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot, app)
        label = "Cust [bold red]VIP[/] [@click=app.quit]x[/] 東京evil and a long tail of words"
        app.set_label_note(rid, label, "called 3x, ticket #123")
        app.screen.refresh_all({rid})
        await pilot.pause()
        await pilot.pause()
        text = screen_text(app)
        assert "Cust [bold red]VIP[/]" in text  # plain text, cut to the line
        assert "note called 3x, ticket #123" in text
        assert "added " in text and "polled" in text
        assert entry(app, rid).label == label


def burst(app, *keys: str) -> None:
    """Keys as a fast typist or a paste sends them: all read before any is handled."""
    for key in keys:
        character = {"tab": "\t", "slash": "/", "enter": "\r"}.get(key, key)
        app.post_message(events.Key(key, character if len(character) == 1 else None))


async def test_keys_typed_right_after_a_key_that_moves_the_focus_land_in_the_new_place(sim, clock):
    rid = create(sim, "sms", "+971500000001", script=[Step(0, "delivered")])
    app = build(sim, clock, [rid])
    async with app.run_test(size=(100, 30)) as pilot:
        await idle(pilot, app)
        burst(app, "l", "a", "b", "c", "tab", "d", "e", "f", "g")  # l opens the dialog
        await until(pilot, lambda: isinstance(app.screen, LabelDialog))
        await pilot.pause()
        dialog = app.screen
        await until(pilot, lambda: dialog.query_one("#label-note", Input).value == "defg")
        assert dialog.query_one("#label-label", Input).value == "abc"
        await pilot.press("enter")
        assert (entry(app, rid).label, entry(app, rid).note) == ("abc", "defg")
        burst(app, "slash", "d", "e", "l")  # `/` then a filter: not d (remove), not a dialog
        await until(pilot, lambda: app.screen.query_one(FilterBar).value == "del")
        assert isinstance(app.screen, MonitorScreen) and rid in app.watchlist
        assert app.watchlist.filter_text == "del"


@pytest.mark.parametrize("size", SIZES)
async def test_the_export_line_shows_the_whole_path(sim, clock, size):
    app = build(sim, clock, [create(sim, "sms", "+971500000001")])
    async with app.run_test(size=size) as pilot:
        await idle(pilot, app)
        await pilot.press("e")
        await until(pilot, lambda: any(line.startswith("Exported") for line in said(app)))
        await pilot.pause()
        line = next(line for line in said(app) if line.startswith("Exported"))
        path = line.split(" to ", 1)[1].rsplit(": ", 1)[0]
        strip = app.screen.query_one("#events")
        shown = "".join(x.strip() for x in screen_text(app).splitlines()[strip.region.y :])
        assert path.replace(" ", "") in shown  # every character of it, wrapped if need be


async def test_an_infobip_report_taken_by_another_system_says_why_and_what_to_do(sim, clock):
    bulk, _ = sim.create_infobip_bulk(["41793026727"], [Step(0, "DELIVERED_TO_HANDSET")])
    # Another system pulls this account's one-time reports first (over the API, as it would).
    request = urllib.request.Request(
        f"{sim.base_url}/sms/1/reports?bulkId={bulk}",
        headers={"Authorization": "App sim-infobip-key"},
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert json.load(answer)["results"]  # it got the report: d7tui never will
    settings = sim_settings(sim, infobip_source=InfobipSource.REPORTS)
    app = build(sim, clock, [Target(bulk, "infobip", IdKind.BULK)], settings=settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await idle(pilot, app)
        text = " ".join(screen_text(app).split())
        assert "no report yet" in text
        assert "Infobip hands each delivery report out once" in text  # why
        assert 'infobip_source = "logs"' in text  # and what to do


async def test_ids_typed_and_enter_right_after_a_add_the_ids(sim, clock):
    app = build(sim, clock, [create(sim, "sms", "+971500000001")])
    new = "22222222-2222-4333-8444-555555555555"
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot, app)
        burst(app, "a", *new, "enter")  # as tmux send-keys or a fast typist sends them
        await until(pilot, lambda: new in app.watchlist)
        await until(pilot, lambda: isinstance(app.screen, MonitorScreen))


async def test_the_opened_detail_keeps_the_label_at_80_columns_before_the_key_hint(sim, clock):
    # At 80 columns the detail replaces the list (which shows no Label column there): the
    # label must not give way to "(esc: back, c: copy number)" (J15).
    labelled = create(sim, "sms", "+971500000001")
    bare = create(sim, "sms", "+971500000002")
    app = build(sim, clock, [labelled, bare], labels={labelled: "ticket 4471 ACME"})
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot, app)
        for rid, shown in ((labelled, "ticket 4471 ACME"), (bare, "(esc: back, c: copy number)")):
            app.screen.query_one(WatchlistTable).select(rid)
            await pilot.press("enter")
            await idle(pilot, app)
            head = next(line for line in screen_text(app).splitlines() if rid in line)
            assert shown in head  # without a label, the hint has room
            await pilot.press("escape")
            await idle(pilot, app)


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_the_cost_column_keeps_a_blank_cell_before_the_scroll_bar(sim, clock, size):
    """A cost as wide as its column (`0.0012 cr`) stops one cell short of the scroll bar:
    `0.0012 cr▐` read as one word with the thumb."""
    ids = [
        create(sim, "sms", f"+97150000{n:04d}", script=[Step(0, "delivered")]) for n in range(40)
    ]
    app = build(sim, clock, ids)
    async with app.run_test(size=size) as pilot:
        await until(
            pilot,
            lambda: all(rid in app.live and entry(app, rid).latest_status for rid in ids),
        )
        await idle(pilot, app)
        beside = [row for row in list_lines(app)[1:] if " cr" in row and row.endswith("▐")]
        assert beside  # rows with a cost, beside the thumb
        for row in beside:
            assert row[-2] == " ", row  # the cell before the bar's


@pytest.mark.parametrize("size", SIZES)
async def test_the_selected_row_keeps_its_since_and_cost(sim, clock, size):
    """The selected row showed a cut status and reason whole over the Since and Cost columns:
    the age and the cost of the very request the user looked at were hidden. It shows the
    same columns as every other row; the status and the reason take no room but their own
    (the status whole there when it fits). Reasons of several lengths: at each size some fit
    the room of the status, the reason, Since and Cost together."""
    words = "Recipient is not a valid WhatsApp user or has not accepted the latest terms"
    failed = [
        sim.create_request(
            "whatsapp",
            [f"+97150000{n:04d}", f"+97150001{n:04d}"],
            [[Step(0, "delivered")], [Step(0, "undelivered", words[:length])]],
        )
        for n, length in enumerate((12, 20, 50, 60))
    ]
    bulk, _ = sim.create_infobip_bulk(
        ["41793026727", "41793026834"],
        [Step(0, "DELIVERED_TO_HANDSET")],
        bulk_id="BULK-SELECTED-1",
    )
    app = build(sim, clock, [*failed, Target(bulk, "infobip", IdKind.BULK)])
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: all(entry(app, rid).latest_status for rid in [*failed, bulk]))
        await idle(pilot, app)
        table = app.screen.query_one(WatchlistTable)
        since = list_lines(app)[0].index("Since")

        def row_of(rid: str) -> str:
            short = table.short_id(rid)
            return next(line for line in list_lines(app)[1:] if f" {short} " in line)

        for rid in [*failed, bulk]:
            table.select(bulk if rid != bulk else failed[0])
            await idle(pilot, app)
            unselected = row_of(rid)
            table.select(rid)
            await idle(pilot, app)
            selected = row_of(rid)
            # The same age and cost, where every row has them.
            assert selected[since:] == unselected[since:], (selected, unselected)
            assert "0s" in selected[since:]
            if rid != bulk:
                assert "✗ 1 failed · undelivered " in selected  # the status whole
        assert entry_cost(entry(app, bulk)) in row_of(bulk)[since:]


async def test_the_status_and_the_reason_get_room_before_the_label(sim, clock):
    """At 100×30 a label took 9 columns while `✗ 1 failed · REJECTED_N…` and the reason were
    cut (issue 10 §3): now the status is whole first, the selected request's reason whole in
    the detail; without a label there is no Label column."""
    bulk, _ = sim.create_infobip_bulk(
        ["41793026727", "41793026834"],
        [Step(0, "DELIVERED_TO_HANDSET")],
        bulk_id="BULK-WIDTHS-1",
    )
    reason = "Recipient is not a valid WhatsApp user"
    failed = sim.create_request(
        "whatsapp",
        ["+971500000001", "+971500000002"],
        [[Step(0, "delivered")], [Step(0, "undelivered", reason)]],
    )
    targets = [Target(bulk, "infobip", IdKind.BULK), Target(failed)]
    app = build(sim, clock, targets, labels={bulk: "Black Friday promo"})
    async with app.run_test(size=(100, 30)) as pilot:
        await idle(pilot, app)
        table = app.screen.query_one(WatchlistTable)
        table.select(bulk)
        await idle(pilot, app)
        row = next(line for line in list_lines(app) if failed[:8] in line)
        assert "✗ 1 failed · undelivered " in row  # whole, not "undeliv…"
        assert reason not in row  # cut while not selected
        table.select(failed)
        await idle(pilot, app)
        row = next(line for line in list_lines(app) if failed[:8] in line)
        # Selected, the reason too long for its room stays cut there (Since and Cost keep
        # theirs), and the detail's head shows it whole.
        assert "undelivered" in row and "Recipient is not …" in row and row.endswith("0s")
        assert f"undelivered — {reason}" in screen_text(app)
    unlabelled = build(sim, clock, targets[1:])
    async with unlabelled.run_test(size=(100, 30)) as pilot:
        await idle(pilot, unlabelled)
        assert "Label" not in list_lines(unlabelled)[0]


@pytest.mark.parametrize("key", ["a", "l", "S"])
async def test_a_dialog_leaves_the_monitor_seen_behind_it(sim, clock, key):
    """The add, label and send dialogs blanked the whole monitor (K10): while ids are pasted
    as statuses change, the list, the event strip and the status line stay seen, dimmed."""
    rid = create(sim, "sms", "+971500000001", script=[Step(0, "delivered")])
    app = build(sim, clock, [rid])
    async with app.run_test(size=(120, 40)) as pilot:
        await idle(pilot, app)
        before = screen_text(app)
        await pilot.press(key)
        await until(pilot, lambda: not isinstance(app.screen, MonitorScreen))
        await pilot.pause()
        shown = screen_text(app)
        assert shown != before  # the dialog is there
        assert f"✓  {rid[:8]}" in shown  # and the list behind it
        assert "watched" in shown.splitlines()[-2] + shown.splitlines()[-3]  # the status line


async def test_not_found_and_an_unknown_status_have_symbols_of_their_own(sim, clock):
    """`?` meant both "a status d7tui does not know" and "not found" (K10)."""
    odd = create(sim, "sms", "+971500000001", script=[Step(0, "teleported")])
    missing = "0b0b0b0b-0000-4000-8000-000000000000"
    app = build(sim, clock, [odd, missing])
    async with app.run_test(size=(120, 40)) as pilot:
        await idle(pilot, app)
        rows = list_lines(app)[1:]
        assert any(row.startswith(f"?  {odd[:8]}") for row in rows), rows
        assert any(row.startswith("⊘  0b0b0b0b") for row in rows), rows
        await pilot.press("question_mark", "end")  # the legend is at the end
        await pilot.pause()
        help_text = screen_text(app)
        assert "? unknown: a status d7tui does not know" in " ".join(help_text.split())
        assert "⊘ not found" in " ".join(help_text.split())


async def test_the_filter_box_takes_one_row_of_the_list(sim, clock):
    """At 80×24 the filter box took 3 of the list's ~7 rows, and stays after enter (K10)."""
    ids = [create(sim, "sms", f"+9715000{n:05d}", script=[Step(0, "delivered")]) for n in range(20)]
    app = build(sim, clock, ids)
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot, app)
        table = app.screen.query_one(WatchlistTable)
        panes = app.screen.query_one("#panes")
        rows, height = table.page_rows, panes.region.height
        await pilot.press("slash", "9", "enter")
        await idle(pilot, app)
        assert app.screen.query_one(FilterBar).display
        assert panes.region.height == height - 1  # the box is one line
        assert table.page_rows >= rows - 1
