"""`d7tui config set KEY VALUE`: config.toml changed as the reader reads it, 0600, no secret shown."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from test_cli import run
from test_config import xdg  # noqa: F401

from d7tui.config import load_settings

TOKEN = "d7-secret-token-8c1f"


@pytest.fixture
def config(xdg: Path) -> Path:  # noqa: F811
    """config.toml's path under a private config home (not there yet)."""
    return xdg


def cli(capsys: pytest.CaptureFixture[str], *argv: str, stdin: str = "") -> tuple[int, str, str]:
    return run(capsys, "config", "set", *argv, stdin=stdin)


def test_set_writes_what_the_monitor_then_reads_and_the_file_is_yours_alone(config, capsys):
    assert cli(capsys, "timeout", "30")[0] == 0
    assert cli(capsys, "bell", "false")[0] == 0
    assert cli(capsys, "stuck_after.sms", "15")[0] == 0
    assert cli(capsys, "desktop_notifications", "osc9")[0] == 0
    assert cli(capsys, "user", "1234")[0] == 0  # digits, but a name: the key takes text
    settings = load_settings(env={})
    assert settings.timeout == 30.0 and settings.bell is False
    assert settings.stuck_after["sms"] == 15 * 60
    assert settings.desktop_notifications == "osc9" and settings.user == "1234"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert cli(capsys, "timeout", "12.5")[0] == 0  # set again: the one line changes
    assert load_settings(env={}).timeout == 12.5
    assert config.read_text().count("timeout") == 1


def test_a_secret_is_written_but_never_shown(config, capsys):
    code, out, err = cli(capsys, "d7_api_token", TOKEN)
    assert code == 0 and "d7_api_token" in out and str(config) in out
    assert TOKEN not in out + err
    assert load_settings(env={}).d7_token.reveal() == TOKEN
    # Refused, and still not shown.
    code, out, err = cli(capsys, "d7_api_token", TOKEN + " x")
    assert code == 2 and len(err.splitlines()) == 1 and "spaces" in err
    assert TOKEN not in out + err
    assert load_settings(env={}).d7_token.reveal() == TOKEN  # the file as it was


def test_a_secret_from_standard_input_stays_out_of_the_command_line(config, capsys):
    code, out, err = cli(capsys, "infobip_api_key", "-", stdin=TOKEN + "\n")
    assert code == 0 and TOKEN not in out + err
    assert load_settings(env={}).infobip_key.reveal() == TOKEN


def test_an_existing_file_was_readable_by_others_and_now_is_not(config, capsys):
    config.parent.mkdir(parents=True)
    config.write_text("timeout = 10\n")
    config.chmod(0o644)
    assert cli(capsys, "d7_api_token", TOKEN)[0] == 0
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


def test_comments_and_other_keys_are_kept(config, capsys):
    config.parent.mkdir(parents=True)
    text = "# my settings\ntimeout = 10\n\n[stuck_after]\n# slow carrier\nviber = 3\n"
    config.write_text(text)
    assert cli(capsys, "bell", "false")[0] == 0
    assert cli(capsys, "stuck_after.sms", "7")[0] == 0
    assert cli(capsys, "low_balance.d7", "2.5")[0] == 0
    written = config.read_text()
    assert "# my settings" in written and "# slow carrier" in written
    settings = load_settings(env={})
    assert settings.timeout == 10 and settings.bell is False
    assert settings.stuck_after["viber"] == 3 * 60 and settings.stuck_after["sms"] == 7 * 60
    assert settings.low_balance["d7"] == 2.5


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("timeout", "500", "key 'timeout' must be seconds more than 0 and at most 300"),
        ("timeout", "soon", "key 'timeout' must be seconds"),
        ("max_in_flight", "2.5", "key 'max_in_flight' must be an integer"),
        ("bell", "maybe", "key 'bell' must be true or false"),
        ("infobip_source", "both", "must be 'reports' or 'logs'"),
        ("d7_base_url", "http://example.com", "http:// would send the API token unencrypted"),
        ("stuck_after.sms", "-1", "key 'stuck_after.sms' must be minutes"),
        ("colour", "blue", "unknown key 'colour'"),
        ("stuck_after.fax", "3", "set one of stuck_after.sms"),
        ("keymap.quit", "x", "[keymap]"),
    ],
    ids=lambda v: v if len(v) < 20 else v[:20],
)
def test_a_bad_key_or_value_is_one_line_and_nothing_is_written(config, capsys, key, value, says):
    config.parent.mkdir(parents=True)
    config.write_text("timeout = 10\n")
    code, out, err = cli(capsys, key, value)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("d7tui config set: ") and says in err
    assert "Traceback" not in err
    assert config.read_text() == "timeout = 10\n"


def test_a_file_toml_cannot_read_is_named_and_left_alone(config, capsys):
    config.parent.mkdir(parents=True)
    config.write_text("timeout = = 3\n")
    code, _out, err = cli(capsys, "bell", "false")
    assert code == 2 and len(err.splitlines()) == 1 and str(config) in err
    assert config.read_text() == "timeout = = 3\n"


def test_setting_a_key_the_broken_file_has_wrong_repairs_it(config, capsys):
    config.parent.mkdir(parents=True)
    config.write_text('timeout = "ten"\n')
    assert cli(capsys, "timeout", "10")[0] == 0
    assert load_settings(env={}).timeout == 10


def test_a_file_notepad_saved_is_edited_too(config, capsys):
    config.parent.mkdir(parents=True)
    config.write_text("\ufefftimeout = 10\r\nbell = true\r\n", encoding="utf-8")
    assert cli(capsys, "timeout", "20")[0] == 0
    settings = load_settings(env={})
    assert settings.timeout == 20 and settings.bell is True
