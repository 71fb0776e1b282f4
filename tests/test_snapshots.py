"""Snapshots of the main screens (80×24, 100×30 and 120×40), the help screen and the add dialog.
The same snapshots hold on the lowest and the newest Textual release the range allows (.ci/run).

Deterministic by construction: a seeded simulator whose clock is the app's frozen clock, every
status already reached when first seen (so no toast and no flash), times shown in UTC.
Update them with `pytest tests/test_snapshots.py --snapshot-update` and look at the report.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from textual.pilot import Pilot
from textual.widgets import Input
from ui_kit import idle, sim_settings, start_simulator

from d7tui.clock import ManualClock
from d7tui.models import IdKind, Target
from d7tui.pollstate import PollConfig
from d7tui.simulator import Simulator, Step
from d7tui.ui.app import D7App, make_app

FROZEN = 1_763_900_000.0  # 2025-11-23 12:13:20 UTC


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(FROZEN)


@pytest.fixture
def sim(clock: ManualClock) -> Iterator[Simulator]:
    simulator = start_simulator(clock, seed=7)
    yield simulator
    simulator.stop()


def monitor(sim: Simulator, clock: ManualClock) -> D7App:
    targets: list[tuple[Target, str]] = []

    def d7(channel: str, label: str, recipients: list[str], scripts: list[list[Step]], **kw):  # type: ignore[no-untyped-def]
        rid = sim.create_request(channel, recipients, scripts, **kw)
        targets.append((Target(rid), label))

    d7(
        "sms",
        "OTP complaint #4711",
        ["+971501234526", "+971509876543"],
        [[Step(0, "delivered")], [Step(0, "un_delivered")]],
        extra=[{"country": "AE"}, {"country": "AE"}],
    )
    d7(
        "sms",
        "[bold]promo[/] 11/23",
        ["+447700900123"],
        [[Step(0, "sent")]],
        extra=[{"country": "GB"}],
    )
    d7(
        "whatsapp",
        "Order shipped",
        ["+919061700011"],
        [[Step(0, "read", "Read by the user")]],
        extra=[{"originator": "+919061500000", "template_id": "order_shipped"}],
    )
    d7("viber", "", ["+380501234567", "+380507654321"], [[Step(0, "delivered")], [Step(0, "sent")]])
    bulk, _ = sim.create_infobip_bulk(
        ["41793026727"], [Step(0, "DELIVERED_TO_HANDSET")], bulk_id="BULK-SNAPSHOT-1"
    )
    targets.append((Target(bulk, "infobip", IdKind.BULK), "Infobip campaign"))
    targets.append((Target("0b0b0b0b-0000-4000-8000-000000000000"), "typo?"))
    return make_app(
        sim_settings(sim),
        ids=[t for t, _ in targets],
        labels={t.request_id: label for t, label in targets},
        clock=clock,
        poll_config=PollConfig(workers=2),
        bell=False,
    )


async def settled(pilot: Pilot[object]) -> None:
    app = pilot.app
    assert isinstance(app, D7App)
    await idle(pilot, app)
    for widget in app.screen.query(Input):
        widget.cursor_blink = False


def test_main_screen_80x24(snap_compare, sim, clock):
    assert snap_compare(monitor(sim, clock), terminal_size=(80, 24), run_before=settled)


def test_main_screen_100x30(snap_compare, sim, clock):
    assert snap_compare(monitor(sim, clock), terminal_size=(100, 30), run_before=settled)


def test_main_screen_120x40(snap_compare, sim, clock):
    assert snap_compare(monitor(sim, clock), terminal_size=(120, 40), run_before=settled)


def test_help_screen(snap_compare, sim, clock):
    async def run_before(pilot: Pilot[object]) -> None:
        await settled(pilot)
        await pilot.press("question_mark")

    assert snap_compare(monitor(sim, clock), terminal_size=(80, 24), run_before=run_before)


def test_add_dialog_with_a_bad_id(snap_compare, sim, clock):
    async def run_before(pilot: Pilot[object]) -> None:
        await settled(pilot)
        await pilot.press("a", *"12345", "enter")
        for widget in pilot.app.screen.query(Input):
            widget.cursor_blink = False

    assert snap_compare(monitor(sim, clock), terminal_size=(80, 24), run_before=run_before)
