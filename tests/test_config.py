"""Settings: the environment wins over config.toml; every problem names its file, key or line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from d7tui.config import (
    DEFAULT_D7_BASE_URL,
    DEFAULT_INFOBIP_BASE_URL,
    ConfigError,
    Settings,
    config_path,
    load_settings,
)
from d7tui.models import InfobipSource
from d7tui.safety import Secret

TOKEN = "d7-secret-token-8c1f"
IB_KEY = "ib-secret-key-42aa"


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """platformdirs pointed at a temporary config home; the config file's path inside it."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    for var in ("D7_API_TOKEN", "D7_BASE_URL", "INFOBIP_API_KEY", "INFOBIP_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("D7TUI_INFOBIP_SOURCE", raising=False)
    monkeypatch.delenv("D7TUI_ALLOW_INSECURE_HTTP", raising=False)
    return tmp_path / "xdg" / "d7tui" / "config.toml"


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_config_lives_in_platformdirs_config_dir(xdg: Path) -> None:
    assert config_path() == xdg


def test_defaults_without_file_or_environment(xdg: Path) -> None:
    loaded = load_settings()
    assert loaded == Settings()
    assert not loaded.d7_token and not loaded.infobip_key
    assert loaded.d7_base_url == DEFAULT_D7_BASE_URL
    assert loaded.infobip_base_url == DEFAULT_INFOBIP_BASE_URL
    # Logs by default: reading them takes nothing from the account's other consumers.
    assert loaded.infobip_source is InfobipSource.LOGS
    assert loaded.message_text is False
    assert loaded.warnings == ()


def test_file_is_read_from_the_platformdirs_location(xdg: Path) -> None:
    write(
        xdg,
        f'd7_api_token = "{TOKEN}"\n'
        'd7_base_url = "http://127.0.0.1:8080/"\n'
        f'infobip_api_key = "{IB_KEY}"\n'
        'infobip_base_url = "https://xyz.api.infobip.com"\n'
        'infobip_source = "logs"\n'
        "max_in_flight = 4\n"
        "timeout = 2.5\n",
    )
    loaded = load_settings()
    assert loaded.d7_token.reveal() == TOKEN
    assert loaded.d7_base_url == "http://127.0.0.1:8080"  # trailing slash dropped
    assert loaded.infobip_key.reveal() == IB_KEY
    assert loaded.infobip_base_url == "https://xyz.api.infobip.com"
    assert loaded.infobip_source is InfobipSource.LOGS
    assert (loaded.max_in_flight, loaded.timeout) == (4, 2.5)
    assert loaded.warnings == ()


def test_environment_wins_over_the_file(xdg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(
        xdg,
        'd7_api_token = "file-token"\nd7_base_url = "https://file.example"\n'
        'infobip_api_key = "file-key"\ninfobip_source = "logs"\n',
    )
    monkeypatch.setenv("D7_API_TOKEN", TOKEN)
    monkeypatch.setenv("D7_BASE_URL", "https://env.example:9")
    monkeypatch.setenv("INFOBIP_API_KEY", IB_KEY)
    monkeypatch.setenv("D7TUI_INFOBIP_SOURCE", "reports")
    loaded = load_settings()
    assert loaded.d7_token.reveal() == TOKEN
    assert loaded.d7_base_url == "https://env.example:9"
    assert loaded.infobip_key.reveal() == IB_KEY
    assert loaded.infobip_source is InfobipSource.REPORTS
    # known, so that a refused credential's banner says where to fix it
    assert loaded.from_environment == {"D7_API_TOKEN", "INFOBIP_API_KEY"}
    # An empty variable does not hide the file.
    monkeypatch.setenv("D7_API_TOKEN", "")
    assert load_settings().d7_token.reveal() == "file-token"
    assert load_settings().from_environment == {"INFOBIP_API_KEY"}


def test_explicit_env_and_path_arguments(tmp_path: Path) -> None:
    path = write(tmp_path / "elsewhere.toml", 'd7_api_token = "file-token"\n')
    assert load_settings(env={}, path=path).d7_token.reveal() == "file-token"
    assert load_settings(env={"D7_API_TOKEN": TOKEN}, path=path).d7_token.reveal() == TOKEN


def test_a_file_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    # Notepad's UTF-8 starts with one; tomllib called it "Invalid statement (at line 1, column 1)".
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xef\xbb\xbf" + b'd7_api_token = "file-token"\n')
    assert load_settings(env={}, path=path).d7_token.reveal() == "file-token"


def test_bad_toml_names_the_file_and_line(xdg: Path) -> None:
    write(xdg, 'd7_base_url = "https://ok.example"\n\nd7_api_token = \n')
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert str(xdg) in message and "line 3" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ('d7_base_url = "ftp://files.example"\n', "key 'd7_base_url': not an http(s) URL"),
        ('infobip_base_url = "https://a b"\n', "key 'infobip_base_url': not an http(s) URL"),
        ("d7_base_url = 8080\n", "key 'd7_base_url': expected a URL"),
        ("d7_base_url = false\n", "key 'd7_base_url': expected a URL"),
        ('d7_base_url = ""\n', "key 'd7_base_url': expected a URL"),
        ("d7_api_token = 12345\n", "key 'd7_api_token': expected a string"),
        ('infobip_api_key = "has space"\n', "key 'infobip_api_key': contains spaces"),
        ('infobip_api_key = ["a"]\n', "key 'infobip_api_key': expected a string"),
        ('infobip_source = "webhooks"\n', "key 'infobip_source' must be 'reports' or 'logs'"),
        ('infobip_source = ["logs"]\n', "key 'infobip_source' must be 'reports' or 'logs'"),
        ('max_in_flight = "8"\n', "key 'max_in_flight' must be an integer"),
        ("max_in_flight = 0\n", "key 'max_in_flight' must be an integer"),
        ("max_in_flight = true\n", "key 'max_in_flight' must be an integer"),
        ("timeout = -1\n", "key 'timeout' must be seconds"),
        ("timeout = true\n", "key 'timeout' must be seconds"),
        ('timeout = "10"\n', "key 'timeout' must be seconds"),
    ],
)
def test_bad_values_name_file_and_key(xdg: Path, text: str, names: str) -> None:
    write(xdg, text)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith(str(xdg)), message
    assert names in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("var", "value", "names"),
    [
        ("D7_BASE_URL", "not a url", "environment variable D7_BASE_URL: not an http(s) URL"),
        ("INFOBIP_BASE_URL", "ftp://x", "environment variable INFOBIP_BASE_URL: not an http(s)"),
        ("D7_API_TOKEN", "tok\x1ben", "environment variable D7_API_TOKEN: contains spaces or"),
        ("D7TUI_INFOBIP_SOURCE", "nope", "environment variable D7TUI_INFOBIP_SOURCE must be"),
    ],
)
def test_bad_environment_values_name_the_variable(
    xdg: Path, monkeypatch: pytest.MonkeyPatch, var: str, value: str, names: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert names in str(info.value)
    assert "\x1b" not in str(info.value)


def test_a_bad_token_error_never_shows_the_token(xdg: Path) -> None:
    write(xdg, f'd7_api_token = "{TOKEN} with spaces"\n')
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)


def test_a_key_typed_in_another_keyboard_layout_is_refused_not_sent_as_mojibake(
    xdg: Path,
) -> None:
    write(xdg, 'infobip_api_key = "ключ"\n', mode=0o600)
    with pytest.raises(ConfigError, match="not ASCII") as info:
        load_settings()
    assert "infobip_api_key" in str(info.value) and "ключ" not in str(info.value)


def test_unknown_keys_are_warnings(xdg: Path) -> None:
    write(xdg, 'd7_api_tokn = "typo"\n')
    loaded = load_settings()
    assert loaded.warnings == (f"{xdg}: unknown key 'd7_api_tokn' ignored",)
    assert "typo" not in " ".join(loaded.warnings)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o666])
def test_secret_in_a_file_others_can_read_is_a_warning(xdg: Path, mode: int) -> None:
    write(xdg, f'd7_api_token = "{TOKEN}"\n', mode=mode)
    loaded = load_settings()
    (warning,) = loaded.warnings
    assert str(xdg) in warning and "chmod 600" in warning
    assert TOKEN not in warning


def test_no_warning_for_a_private_file_or_a_file_without_secrets(xdg: Path) -> None:
    write(xdg, f'infobip_api_key = "{IB_KEY}"\n', mode=0o600)
    assert load_settings().warnings == ()
    write(xdg, 'd7_base_url = "https://x.example"\n', mode=0o644)
    assert load_settings().warnings == ()


def test_unreadable_file_is_named(xdg: Path) -> None:
    xdg.parent.mkdir(parents=True)
    xdg.write_bytes(b'd7_base_url = "\xff"\n')
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(xdg) in str(info.value)


def test_settings_repr_never_shows_secrets() -> None:
    loaded = Settings(d7_token=Secret(TOKEN), infobip_key=Secret(IB_KEY))
    for shown in (repr(loaded), str(loaded)):
        assert TOKEN not in shown and IB_KEY not in shown
        assert "********" in shown


def test_the_bell_can_be_turned_off(tmp_path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("bell = false\n")
    assert load_settings(env={}, path=path).bell is False
    assert load_settings(env={}, path=tmp_path / "absent.toml").bell is True
    path.write_text('bell = "no"\n')
    with pytest.raises(ConfigError, match="bell"):
        load_settings(env={}, path=path)


# ---------------------------------------------------------------------------------------------
# Base URLs the engine could not use, and tokens in clear text (issue #11)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://user:pw@127.0.0.1:8080", "a user name or password in the URL is not supported"),
        ("https://:secret@api.example.com", "a user name or password in the URL"),
        ("http://[::1", "not a usable URL (Invalid IPv6 URL)"),
        ("http://[zz::1]:80", "not a usable URL ('zz::1' does not appear to be an IPv4 or IPv6"),
        ("http://127.0.0.1:99999", "not a usable URL (Port out of range"),
        ("http://127.0.0.1:abc", "not a usable URL (Port could not be cast"),
        ("http://127.0.0.1:0", "port 0 is not a port to connect to"),
        ("http:///report", "no host name"),
        ("https://a..example.com", "'a..example.com' is not a host name"),
        ("https://" + "a" * 64 + ".example.com", "is not a host name"),
        ("https://api.example.com/?x=1", "a base URL has no query (?) or fragment (#)"),
        ("https://api.example.com/#top", "a base URL has no query (?) or fragment (#)"),
        ("https://api.exa%41mple.com", "is not a host name"),
    ],
)
def test_a_base_url_the_engine_cannot_use_is_refused_at_load(
    xdg: Path, monkeypatch: pytest.MonkeyPatch, url: str, says: str
) -> None:
    # Issue #11: `user:pw@` and `http://[::1` made `d7tui status` hang for ever.
    monkeypatch.setenv("D7_BASE_URL", url)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith("environment variable D7_BASE_URL: "), message
    assert says in message
    assert "\n" not in message and "pw" not in message and "secret" not in message
    write(xdg, f'infobip_base_url = "{url}"\n')
    monkeypatch.delenv("D7_BASE_URL")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value).startswith(f"{xdg}: key 'infobip_base_url': ")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://127.9.8.7",
        "http://[::1]:9000",
        "http://localhost:5000/prefix",
        "http://LOCALHOST.",
        "http://[::ffff:127.0.0.1]:80",
        "https://api.example.com",
        "https://[2001:db8::1]:8443/gw",
        "https://xn--mnchen-3ya.example",
    ],
)
def test_usable_base_urls_load(xdg: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("INFOBIP_BASE_URL", url)
    assert load_settings().infobip_base_url == url.rstrip("/")


@pytest.mark.parametrize("url", ["http://api.example.com", "http://10.0.0.8:80", "http://[::2]"])
def test_plain_http_to_another_machine_is_refused_unless_asked_for(
    xdg: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("D7_BASE_URL", url)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith("environment variable D7_BASE_URL: http:// would send the API")
    assert "D7TUI_ALLOW_INSECURE_HTTP=1" in message and "allow_insecure_http" in message
    monkeypatch.setenv("D7TUI_ALLOW_INSECURE_HTTP", "1")
    assert load_settings().d7_base_url == url
    monkeypatch.delenv("D7TUI_ALLOW_INSECURE_HTTP")
    write(xdg, "allow_insecure_http = true\n")
    assert load_settings().d7_base_url == url
    write(xdg, "allow_insecure_http = false\n")
    with pytest.raises(ConfigError):
        load_settings()


def test_the_insecure_switch_itself_is_checked(xdg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("D7TUI_ALLOW_INSECURE_HTTP", "please")
    with pytest.raises(ConfigError, match="environment variable D7TUI_ALLOW_INSECURE_HTTP must"):
        load_settings()
    monkeypatch.delenv("D7TUI_ALLOW_INSECURE_HTTP")
    write(xdg, 'allow_insecure_http = "yes"\n')
    with pytest.raises(ConfigError, match="key 'allow_insecure_http' must be true or false"):
        load_settings()


def test_the_answer_bound_is_a_setting(xdg: Path) -> None:
    assert load_settings().max_answer_mb == 8
    write(xdg, "max_answer_mb = 32\n")
    assert load_settings().max_answer_mb == 32
    for bad in ("0", "0.5", "2048", "true", '"8"', "nan"):
        write(xdg, f"max_answer_mb = {bad}\n")
        with pytest.raises(ConfigError, match="key 'max_answer_mb' must be megabytes"):
            load_settings()


# URLs built of good and bad parts, that hypothesis puts together.
_HOSTS = "127.0.0.1 localhost [::1] [::ffff:127.0.0.1] [ ] api.example.com é.example a..b %41 xn--"
_URLS = st.tuples(
    st.sampled_from(["http://", "https://", "http:/", "https:///", ""]),
    st.sampled_from(["", "user@", "u:p@", "@"]),
    st.sampled_from([*_HOSTS.split(), "", "a" * 63 + ".com", "a b", "h\\x", "a:b:c"]),
    st.sampled_from(["", ":", ":80", ":0", ":65535", ":65536", ":x", "::1"]),
    st.sampled_from(["", "/", "/gw", "/a/b/", "/?", "/#", "/%zz", "/ä"]),
).map("".join)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(_URLS)
def test_every_base_url_that_loads_is_one_the_engine_can_ask(url: str) -> None:
    import yarl  # what aiohttp builds each request's URL with

    try:
        loaded = load_settings(env={"D7_BASE_URL": url}, path=Path("/nonexistent/config.toml"))
    except ConfigError as exc:
        assert "\n" not in str(exc)
        return
    built = yarl.URL(loaded.d7_base_url + "/report/v1/message-log/x")
    assert built.host and built.port and built.scheme in ("http", "https")
    assert built.raw_host is not None and built.raw_host.encode("ascii")
    assert not built.user and not built.password


_RANGE = re.compile(
    r"(?:from (?P<low>[\d.]+)(?: \(never\))? to (?P<high>[\d.]+))"
    r"|(?:more than (?P<above>[\d.]+) and at most (?P<most>[\d.]+))"
)


@pytest.mark.parametrize(
    ("key", "edges"),
    [
        ("max_in_flight", [0, 1, 256, 257]),
        ("timeout", [-1, 0, 0.001, 300, 300.5]),
        ("max_answer_mb", [0, 0.5, 1, 1024, 1025]),
        ("[stuck_after]\nsms", [-1, 0, 4320, 4321]),
        ("[low_balance]\nd7", [-1, 0, 1000000, 1000001]),
    ],
)
def test_every_range_message_says_the_range_it_enforces(
    xdg: Path, key: str, edges: list[float]
) -> None:
    """Fresh-eyes finding F17: `timeout = 0` was refused as "must be seconds between 0 and
    300". Each value at and past the edges is either loaded, or refused by a message whose
    words put it outside the range they state."""
    for value in edges:
        write(xdg, f"{key} = {value}\n")
        try:
            load_settings()
        except ConfigError as exc:
            message = str(exc)
            found = _RANGE.search(message)
            assert found, message
            if found["low"] is not None:
                inside = float(found["low"]) <= value <= float(found["high"])
            else:
                inside = float(found["above"]) < value <= float(found["most"])
            assert not inside, f"{value} refused by: {message}"
        else:
            assert value >= 0 and value not in (257, 4321, 1000001, 300.5, 1025)


def test_a_timeout_of_0_is_refused_in_words_that_exclude_it(xdg: Path) -> None:
    write(xdg, "timeout = 0\n")
    proc = subprocess.run(
        [sys.executable, "-m", "d7tui", "status", "aaaaaaaa-2222-4333-8444-555555555555"],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_CONFIG_HOME": str(xdg.parent.parent)},
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr == (
        f"d7tui: {xdg}: key 'timeout' must be seconds more than 0 and at most 300\n"
    )


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda p: os.mkfifo(p), "not a regular file (a named pipe)"),
        (lambda p: p.symlink_to("/dev/zero"), "not a regular file (a device)"),
        (lambda p: p.mkdir(), "not a regular file (a directory)"),
        (lambda p: p.write_bytes(b"#" * (1024 * 1024 + 1)), "larger than 1,024 kB"),
    ],
    ids=["fifo", "dev-zero", "directory", "over-1MB"],
)
def test_a_config_path_that_is_no_small_file_is_refused_not_read(tmp_path: Path, make, why):
    # A FIFO blocked every command for ever; /dev/zero ate 8 GB in 20 s (J13).
    path = tmp_path / "config.toml"
    make(path)
    with pytest.raises(ConfigError) as info:
        load_settings(env={}, path=path)
    assert str(info.value) == f"{path}: cannot read: {why}"


def test_a_config_that_is_a_fifo_is_one_line_for_a_command_not_a_hang(tmp_path: Path):
    home = tmp_path / "home"
    (home / "config" / "d7tui").mkdir(parents=True)
    os.mkfifo(home / "config" / "d7tui" / "config.toml")
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "d7tui", "export"], capture_output=True, env=env, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stderr.decode().endswith("cannot read: not a regular file (a named pipe)\n")


def test_a_base_url_in_capitals_is_the_same_url(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('d7_base_url = "HTTP://LOCALHOST:18787"\n')
    assert load_settings(env={}, path=path).d7_base_url == "http://LOCALHOST:18787"
