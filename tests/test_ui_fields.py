"""Every field on screen: the detail's fields box shows the request's own top-level fields and
every field of the highlighted recipient, takes focus with tab and scrolls; message text stays
hidden unless asked for, and is masked in privacy mode even then."""

from __future__ import annotations

from typing import Any

from ui_kit import idle, screen_text, sim_settings, until

from d7tui.clock import ManualClock
from d7tui.models import IdKind, Target
from d7tui.pollstate import PollConfig
from d7tui.simulator import Simulator, Step
from d7tui.ui.app import D7App, make_app
from d7tui.ui.widgets.detail import FieldsBox

SIZE = (100, 30)


def build(sim: Simulator, clock: ManualClock, targets: list[Target], **settings: Any) -> D7App:
    return make_app(
        sim_settings(sim, **settings),
        ids=targets,
        clock=clock,
        poll_config=PollConfig(workers=4),
        persist=False,
    )


async def test_the_fields_box_shows_every_field_takes_focus_and_scrolls(sim, clock):
    rid = sim.create_request(
        "whatsapp",
        ["+919061700011"],
        [[Step(0, "processed"), Step(1, "read", "Read by the user")]],
        [{"originator": "+919061500000", "template_id": "order_shipped", "cust_ref": "ORD-1"}],
    )
    sms = sim.create_request("sms", ["+971501234567"], [Step(0, "sent")])
    app = build(sim, clock, [Target(rid, "whatsapp"), Target(sms, "sms")])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        clock.advance(2)
        await idle(pilot, app)
        await pilot.press("enter")  # into the detail of the selected request
        await pilot.pause()
        box = app.screen.query_one(FieldsBox)
        shown = box.text.plain
        # The API's own top-level fields, then the recipient's, under the vendor's names.
        for field in ("request_stage processed", "schedule_time -", "waConvId", "cust_ref=ORD-1"):
            assert field in shown, field
        await pilot.press("tab")
        assert app.focused is box
        box.styles.max_height = 3  # fewer lines than fields: the box must scroll to show them
        await pilot.pause()
        assert box.max_scroll_y > 0
        await pilot.press("pagedown")
        await until(pilot, lambda: box.scroll_y > 0)
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is not box  # esc leaves the detail from the box too


async def test_a_d7_sms_shows_total_recipients_and_the_apis_own_channel(sim, clock):
    rid = sim.create_request("viber", ["+380501234567"], [Step(0, "sent")])
    app = build(sim, clock, [Target(rid, "viber")])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        await pilot.press("enter")
        await pilot.pause()
        shown = app.screen.query_one(FieldsBox).text.plain
        # Viber's page answers "channel": "sms": shown as the API said it, beside ours.
        assert "total_recipients 1" in shown and "channel sms" in shown
        assert "number_of_viber_message 1" in shown and "viber_cost 0.0004" in shown


async def test_infobip_text_is_hidden_and_masked_in_privacy_mode_even_when_shown(sim, clock):
    bulk, _ = sim.create_infobip_bulk(
        ["41793026727"], [Step(0, "PENDING_ACCEPTED")], text="Your code is 480213"
    )
    target = Target(bulk, "infobip", IdKind.BULK)
    app = build(sim, clock, [target])
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        await pilot.press("enter")
        await pilot.pause()
        shown = app.screen.query_one(FieldsBox).text.plain
        assert '"text":"(hidden)"' in shown and "480213" not in screen_text(app)
        assert "price 0.01 EUR per part" in shown  # per SMS part; the Cost column is x parts
    app = build(sim, clock, [target], message_text=True)
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        await pilot.press("enter")
        await pilot.pause()
        assert "480213" in app.screen.query_one(FieldsBox).text.plain  # asked for: shown
        await pilot.press("m")  # privacy mode
        await pilot.pause()
        assert "480213" not in app.screen.query_one(FieldsBox).text.plain
        assert "480213" not in screen_text(app)
