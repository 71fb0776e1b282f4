""" "stuck?": a recipient waiting far longer than its channel's usual time is flagged, with why it
may never be confirmed; `f` keeps it and the totals count it. Plain model, no screen."""

from __future__ import annotations

from d7tui.models import (
    Channel,
    Phase,
    Recipient,
    RequestStatus,
    Target,
    classify_d7,
    classify_infobip,
)
from d7tui.pollstate import PollUpdate, WatchStatus
from d7tui.stuck import DEFAULT_STUCK_AFTER, waiting, waiting_since
from d7tui.watchlist import Watchlist

T0 = 1_700_000_000.0
MIN = 60.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def d7(channel: Channel, *statuses: str) -> tuple[Recipient, ...]:
    return tuple(
        Recipient(f"m{i}", f"+97150000000{i}", s, *classify_d7(channel, s))
        for i, s in enumerate(statuses)
    )


def watch(wl: Watchlist, rid: str, channel: Channel, recipients: tuple[Recipient, ...]) -> None:
    """Added now, answered at once with these recipients."""
    from d7tui.models import observe

    wl.add(Target(rid, channel.value), "", added_at=wl.clock())
    entry = wl.get(rid)
    assert entry is not None
    state, transitions = observe(entry.state, RequestStatus(rid, channel, recipients), wl.clock())
    wl.apply(
        PollUpdate(
            rid,
            wl.clock(),
            channel.value,
            WatchStatus.ACTIVE,
            state,
            None,
            tuple(transitions),
            last_poll=wl.clock(),
            last_change=wl.clock(),
        )
    )


def test_an_sms_still_sent_after_its_channels_time_is_stuck_and_says_why():
    clock = Clock()
    wl = Watchlist(clock=clock)
    watch(wl, "r-sms", Channel.SMS, d7(Channel.SMS, "sent", "delivered"))
    entry = wl.get("r-sms")
    assert entry is not None
    clock.now += DEFAULT_STUCK_AFTER["sms"] - 1
    assert entry.stuck(clock(), wl.stuck_after) == []
    assert wl.totals().stuck == 0
    clock.now += 1
    (stuck,) = entry.stuck(clock(), wl.stuck_after)
    assert stuck.recipient.recipient == "+971500000000"  # the delivered one is not waiting
    assert stuck.why.startswith(
        "still 'sent' after 15 min: some networks and countries never return"
    )
    assert wl.totals().stuck == 1


def test_problems_view_keeps_stuck_requests_and_lets_go_once_they_move():
    clock = Clock()
    wl = Watchlist(clock=clock)
    watch(wl, "r-wait", Channel.SMS, d7(Channel.SMS, "sent"))
    watch(wl, "r-done", Channel.SMS, d7(Channel.SMS, "delivered"))
    wl.problems_only = True
    assert wl.visible() == []
    clock.now += 16 * MIN
    assert [e.request_id for e in wl.visible()] == ["r-wait"]
    # The report finally comes: no longer waiting, no longer stuck.
    from d7tui.models import observe

    entry = wl.get("r-wait")
    assert entry is not None
    state, transitions = observe(
        entry.state, RequestStatus("r-wait", Channel.SMS, d7(Channel.SMS, "delivered")), clock()
    )
    wl.apply(
        PollUpdate("r-wait", clock(), "sms", WatchStatus.DONE, state, None, tuple(transitions))
    )
    assert wl.visible() == [] and wl.totals().stuck == 0


def test_whatsapp_delivered_but_never_read_is_stuck_later_with_read_receipts_as_the_reason():
    clock = Clock()
    wl = Watchlist(clock=clock)
    watch(wl, "r-wa", Channel.WHATSAPP, d7(Channel.WHATSAPP, "delivered", "read"))
    entry = wl.get("r-wa")
    assert entry is not None
    clock.now += 30 * MIN  # an SMS would be stuck by now; WhatsApp's readers take longer
    assert entry.stuck(clock(), wl.stuck_after) == []
    clock.now += 30 * MIN
    (stuck,) = entry.stuck(clock(), wl.stuck_after)
    assert "read receipts off, 'read' never comes" in stuck.why


def test_infobip_counts_from_sent_at_and_names_the_validity():
    clock = Clock()
    wl = Watchlist(clock=clock)
    sent = "2023-11-14T21:53:20.000+0000"  # T0 - 20 minutes
    pending = Recipient(
        "m1",
        "41793026727",
        "PENDING_WAITING_DELIVERY",
        *classify_infobip("PENDING", "PENDING_WAITING_DELIVERY"),
        fields={"sentAt": sent},
    )
    # Added just now, but the message went out 20 minutes ago: already stuck.
    watch(wl, "BULK-1", Channel.INFOBIP, (pending,))
    entry = wl.get("BULK-1")
    assert entry is not None
    (stuck,) = entry.stuck(clock(), wl.stuck_after)
    assert stuck.since == T0 - 20 * MIN
    assert "validity runs out (48 h by default)" in stuck.why


def test_thresholds_are_per_channel_and_zero_turns_the_flag_off():
    clock = Clock()
    wl = Watchlist(clock=clock, stuck_after={"sms": 0.0, "viber": 5 * MIN})
    watch(wl, "r-sms", Channel.SMS, d7(Channel.SMS, "sent"))
    watch(wl, "r-viber", Channel.VIBER, d7(Channel.VIBER, "sent"))
    clock.now += 10 * MIN
    assert wl.totals().stuck == 1
    wl.problems_only = True
    assert [e.request_id for e in wl.visible()] == ["r-viber"]


def test_a_scheduled_message_waits_from_its_schedule_time():
    scheduled = Recipient(
        "m",
        "+9715",
        "scheduled",
        *classify_d7(Channel.SMS, "scheduled"),
        schedule_time="2023-11-15T00:00:00",
    )
    assert waiting_since(scheduled, changed_at=T0, added_at=T0) == T0 + 6400
    unparsable = Recipient(
        "m", "+9715", "scheduled", *classify_d7(Channel.SMS, "scheduled"), schedule_time="soon"
    )
    assert waiting_since(unparsable, changed_at=None, added_at=T0) == T0


def test_the_waiting_of_a_whole_request_is_each_recipients_own_wait():
    # `waiting` takes a short way for the usual recipient (no sentAt, no schedule time): for
    # every kind of recipient it comes to what `waiting_since` says, and leaves out the final
    # and the failed.
    def r(i: int, status: str, **kw: object) -> Recipient:
        return Recipient(f"m{i}", f"+9715{i}", status, *classify_d7(Channel.SMS, status), **kw)  # type: ignore[arg-type]

    pending = classify_infobip("PENDING", "PENDING_WAITING_DELIVERY")
    recipients = [
        r(0, "sent"),
        r(1, "delivered"),
        r(2, "undelivered"),
        r(3, "scheduled", schedule_time="2023-11-15T00:00:00"),
        r(4, "scheduled", schedule_time="soon"),
        Recipient("m5", "4179", "PENDING", *pending, fields={"sentAt": "2023-11-14T21:53:20Z"}),
        Recipient("m6", "4179", "PENDING", *pending, fields={"other": 1}),
        r(7, "accepted"),
    ]
    changed = {"m0": T0 + 5, "m5": T0 + 9, "m7": T0 + 1}
    expected = [
        (waiting_since(x, changed.get(x.key), T0), x)
        for x in recipients
        if not x.final and x.phase in (Phase.PENDING, Phase.DELIVERED)
    ]
    assert waiting(recipients, changed, T0) == expected
    assert [x.key for _, x in expected] == ["m0", "m3", "m4", "m5", "m6", "m7"]


def test_config_sets_minutes_per_channel_over_the_defaults_and_names_a_bad_value(tmp_path):
    import pytest

    from d7tui.config import ConfigError, load_settings

    path = tmp_path / "config.toml"
    path.write_text("[stuck_after]\nsms = 5\nwhatsapp = 0\nfax = 3\n")
    settings = load_settings(env={}, path=path)
    assert settings.stuck_after["sms"] == 5 * MIN
    assert settings.stuck_after["whatsapp"] == 0.0
    assert settings.stuck_after["viber"] == DEFAULT_STUCK_AFTER["viber"]
    assert any("'fax' in [stuck_after]" in w for w in settings.warnings)
    assert load_settings(env={}, path=tmp_path / "none.toml").stuck_after == DEFAULT_STUCK_AFTER
    for bad in ("[stuck_after]\nsms = -1\n", '[stuck_after]\nsms = "10"\n', "stuck_after = 3\n"):
        path.write_text(bad)
        with pytest.raises(ConfigError, match="stuck_after"):
            load_settings(env={}, path=path)
