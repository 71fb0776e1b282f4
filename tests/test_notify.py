"""Desktop notifications through the terminal: the exact escape sequences (OSC 9, OSC 777, tmux's
passthrough), nothing a vendor string could break out of, only while the user is away, never a
flood; the setting turns them off."""

from __future__ import annotations

import pytest

from d7tui.notify import DesktopNotifier, Protocol, choose, sequence


def test_osc9_and_osc777_sequences():
    assert sequence(Protocol.OSC9, "d7tui", "sms failed") == "\x1b]9;d7tui: sms failed\x07"
    assert (
        sequence(Protocol.OSC777, "d7tui", "sms failed") == "\x1b]777;notify;d7tui;sms failed\x07"
    )


def test_inside_tmux_the_sequence_passes_through_with_every_escape_doubled():
    wrapped = sequence(Protocol.OSC9, "t", "b", tmux=True)
    assert wrapped == "\x1bPtmux;\x1b\x1b]9;t: b\x07\x1b\\"


def test_no_vendor_text_can_end_the_sequence_or_start_another():
    hostile = "x\x07\x1b]52;c;ZXZpbA==\x07;\x9c\nend"
    for protocol in Protocol:
        seq = sequence(protocol, hostile, hostile)
        inner = seq[len("\x1b]") : -1]
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in inner)
        assert seq.count("\x07") == 1 and seq.endswith("\x07")
    assert sequence(Protocol.OSC777, "a;b", "c").count(";") == 3  # notify;title;body only
    assert len(sequence(Protocol.OSC9, "t", "y" * 5000)) < 300


def test_the_protocol_follows_the_setting_or_the_terminal():
    assert choose(False, {"VTE_VERSION": "7600"}) is None
    assert choose("osc777", {}) is Protocol.OSC777
    assert choose(True, {"VTE_VERSION": "7600"}) is Protocol.OSC777  # GNOME Terminal & co
    assert choose(True, {"TERM": "foot"}) is Protocol.OSC777
    assert choose(True, {"TERM_PROGRAM": "iTerm.app"}) is Protocol.OSC9
    with pytest.raises(ValueError):
        choose("osc1337", {})


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_only_while_the_user_is_away_and_never_a_flood():
    written: list[str] = []
    clock = Clock()
    notifier = DesktopNotifier(written.append, Protocol.OSC9, tmux=False, clock=clock)
    assert not notifier.notify("d7tui", "one")  # in front of the screen: the screen says it
    notifier.focus(False)
    assert notifier.notify("d7tui", "two")
    assert not notifier.notify("d7tui", "three")  # too soon: held, counted
    assert not notifier.notify("d7tui", "four")
    clock.now += 10
    assert notifier.notify("d7tui", "five")
    assert written == ["\x1b]9;d7tui: two\x07", "\x1b]9;d7tui: five (and 2 more)\x07"]
    notifier.focus(True)
    clock.now += 60
    assert not notifier.notify("d7tui", "six") and len(written) == 2


def test_what_was_held_back_is_sent_when_the_gap_is_over_without_a_later_failure():
    written: list[str] = []
    clock = Clock()
    notifier = DesktopNotifier(written.append, Protocol.OSC9, tmux=False, clock=clock)
    notifier.focus(False)
    assert notifier.notify("d7tui", "one") and notifier.flush_in() is None
    assert not notifier.notify("d7tui", "two") and not notifier.notify("d7tui", "three")
    assert notifier.flush_in() == 10 and not notifier.flush()  # not yet
    clock.now += 10
    assert notifier.flush() and notifier.flush_in() is None
    assert written[-1] == "\x1b]9;d7tui: 2 more, the last: three\x07"


def test_turned_off_or_without_a_terminal_nothing_is_written():
    written: list[str] = []
    off = DesktopNotifier(written.append, None, tmux=False, clock=Clock())
    off.focus(False)
    assert not off.notify("d7tui", "x")
    headless = DesktopNotifier(None, Protocol.OSC9, tmux=False, clock=Clock())
    headless.focus(False)
    assert not headless.notify("d7tui", "x") and written == []


def test_config_takes_true_false_or_a_protocol(tmp_path):
    from d7tui.config import ConfigError, load_settings

    path = tmp_path / "config.toml"
    for text, value in (("false", False), ('"osc777"', "osc777"), ("true", True)):
        path.write_text(f"desktop_notifications = {text}\n")
        assert load_settings(env={}, path=path).desktop_notifications == value
    path.write_text('desktop_notifications = "loud"\n')
    with pytest.raises(ConfigError, match="desktop_notifications"):
        load_settings(env={}, path=path)
