"""The insights (`i`) as numbers, without a screen: outcomes per channel and country, time to
deliver, top failure reasons, cost per currency, status changes per minute."""

from __future__ import annotations

from d7tui.insights import NO_COUNTRY, compute, percentile, sparkline
from d7tui.models import (
    Channel,
    Recipient,
    RequestStatus,
    Target,
    classify_d7,
    classify_infobip,
    observe,
)
from d7tui.pollstate import PollUpdate, WatchStatus
from d7tui.watchlist import Watchlist

T0 = 1_700_000_000.0


def d7(status: str, n: int, channel: Channel = Channel.SMS, **kw: object) -> Recipient:
    return Recipient(f"m{n}", f"+9715000000{n:02d}", status, *classify_d7(channel, status), **kw)


def ib(name: str, group: str, n: int, sent: str, done: str, error: dict | None = None) -> Recipient:
    fields: dict[str, object] = {"sentAt": sent, "doneAt": done, "status": {"name": name}}
    if error:
        fields["error"] = error
    return Recipient(
        f"ib{n}",
        f"4179302{n:04d}",
        name,
        *classify_infobip(group, name),
        cost=0.01,
        currency="EUR",
        fields=fields,
    )


def poll(wl: Watchlist, rid: str, channel: Channel, at: float, *recipients: Recipient) -> None:
    if rid not in wl:
        wl.add(Target(rid, channel.value), "", added_at=at)
    entry = wl.get(rid)
    assert entry is not None
    state, transitions = observe(entry.state, RequestStatus(rid, channel, recipients), at)
    wl.apply(
        PollUpdate(rid, at, channel.value, WatchStatus.ACTIVE, state, None, tuple(transitions))
    )


def story() -> Watchlist:
    wl = Watchlist(clock=lambda: T0 + 3600)
    # SMS to the Emirates: two delivered (one after 30 s, one first seen delivered), one failed.
    poll(
        wl,
        "sms-1",
        Channel.SMS,
        T0,
        d7("sent", 1, country="AE", cost=0.002),
        d7("delivered", 2, country="AE", cost=0.002),
        d7("sent", 3, country="AE", cost=0.002),
    )
    poll(
        wl,
        "sms-1",
        Channel.SMS,
        T0 + 30,
        d7("delivered", 1, country="AE", cost=0.002),
        d7("delivered", 2, country="AE", cost=0.002),
        d7("un_delivered", 3, country="AE", cost=0.002),
    )
    poll(wl, "sms-2", Channel.SMS, T0, d7("sent", 4, country="AE"))
    poll(wl, "sms-2", Channel.SMS, T0 + 90, d7("un_delivered", 4, country="AE"))
    # WhatsApp to India: read after 10 s, one refused with a reason.
    wa = Channel.WHATSAPP
    poll(wl, "wa-1", wa, T0, d7("sent", 5, wa, country="IN"), d7("sent", 6, wa, country="IN"))
    poll(
        wl,
        "wa-1",
        wa,
        T0 + 10,
        d7("read", 5, wa, country="IN"),
        d7("rejected", 6, wa, country="IN", reason="Template does not exist"),
    )
    # Infobip: exact times from the report, no country.
    absent = {"groupId": 1, "id": 27, "name": "EC_ABSENT_SUBSCRIBER"}
    poll(
        wl,
        "BULK-1",
        Channel.INFOBIP,
        T0 + 200,
        ib(
            "DELIVERED_TO_HANDSET",
            "DELIVERED",
            1,
            "2023-11-14T22:13:20+0000",
            "2023-11-14T22:13:30+0000",
        ),
        ib(
            "DELIVERED_TO_HANDSET",
            "DELIVERED",
            2,
            "2023-11-14T22:13:20+0000",
            "2023-11-14T22:15:00+0000",
        ),
        ib(
            "UNDELIVERABLE_NOT_DELIVERED",
            "UNDELIVERABLE",
            3,
            "2023-11-14T22:13:20+0000",
            "2023-11-14T22:14:00+0000",
            absent,
        ),
    )
    return wl


def test_outcomes_per_channel_and_country_with_rates():
    insights = compute(story(), now=T0 + 3600)
    assert insights.requests == 4
    sms = insights.by_channel["sms"]
    assert (sms.delivered, sms.failed, sms.pending) == (2, 2, 0)
    assert sms.rate(sms.delivered) == 0.5
    whatsapp = insights.by_channel["whatsapp"]
    assert (whatsapp.delivered, whatsapp.failed) == (1, 1)  # read counts as delivered
    assert insights.by_country["AE"].total == 4 and insights.by_country["IN"].total == 2
    assert insights.by_country[NO_COUNTRY].total == 3  # Infobip names no country
    assert insights.recipients.total == 9


def test_time_to_deliver_is_exact_for_infobip_and_first_seen_to_delivered_for_d7():
    times = {t.channel: t for t in compute(story(), now=T0 + 3600).delivery_times}
    # Infobip: sentAt → doneAt, 10 s and 100 s.
    assert (times["infobip"].count, times["infobip"].p50, times["infobip"].p95) == (2, 10, 100)
    assert times["infobip"].exact
    # SMS: one measured (30 s); the one first seen delivered has no known time and is left out.
    assert (times["sms"].count, times["sms"].p50) == (1, 30) and not times["sms"].exact
    assert (times["whatsapp"].count, times["whatsapp"].p50) == (1, 10)


def test_a_sent_at_to_done_at_that_is_no_measurement_is_left_out():
    wl = story()
    at = "2023-11-14T22:13:20.000+0000"  # T0
    poll(
        wl,
        "ib-odd",
        Channel.INFOBIP,
        T0,
        ib("DELIVERED_TO_HANDSET", "DELIVERED", 7, "2000-01-01T00:00:00.000+0000", at),
        ib("DELIVERED_TO_HANDSET", "DELIVERED", 8, at, "9999-12-31T23:59:59.999+0000"),
        ib("DELIVERED_TO_HANDSET", "DELIVERED", 9, at, "2023-11-14T22:13:19.000+0000"),
    )
    (infobip,) = [t for t in compute(wl, now=T0 + 3600).delivery_times if t.channel == "infobip"]
    assert (infobip.count, infobip.p95) == (2, 100)  # the two real ones, as before


def test_top_failure_reasons_with_counts():
    failures = dict(compute(story(), now=T0 + 3600).failures)
    assert failures == {
        "sms un_delivered": 2,
        "whatsapp rejected: Template does not exist": 1,
        "infobip UNDELIVERABLE_NOT_DELIVERED / EC_ABSENT_SUBSCRIBER": 1,
    }
    assert compute(story(), now=T0 + 3600, top=1).failures == [("sms un_delivered", 2)]


def test_cost_is_summed_per_currency_never_mixed():
    costs = compute(story(), now=T0 + 3600).costs
    assert round(costs["EUR"], 6) == 0.03
    assert round(costs[None], 6) == 0.006  # D7 bills in the account's currency, unnamed


def test_status_changes_per_minute_over_the_last_hour():
    insights = compute(story(), now=T0 + 3600)
    minutes = insights.changes_per_minute
    assert len(minutes) == 60
    # First sightings are not changes: at T0+10 two WhatsApp, +30 two SMS, +90 one SMS.
    assert minutes[0] == 4 and minutes[1] == 1 and sum(minutes) == 5
    later = compute(story(), now=T0 + 2 * 3600)
    assert sum(later.changes_per_minute) == 0  # an hour on, all of it is out of the window


def test_the_filtered_view_counts_only_what_it_shows():
    wl = story()
    wl.filter_text = "whatsapp"
    insights = compute(wl.visible(), now=T0 + 3600)
    assert insights.requests == 1 and list(insights.by_channel) == ["whatsapp"]


def test_sparkline_and_percentile():
    assert sparkline([0, 1, 2, 4, 8]) == "▁▁▂▄█"
    assert sparkline([0, 0]) == "▁▁" and sparkline([]) == ""
    assert percentile([5, 1, 3], 0.5) == 3 and percentile([5, 1, 3], 0.95) == 5
    assert percentile([7], 0.95) == 7
