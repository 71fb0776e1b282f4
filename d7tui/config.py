"""Settings: environment variables win over `config.toml` in platformdirs' user config dir.

Every problem names the file and key (and line, where TOML says it), in one line.
"""

from __future__ import annotations

import ipaddress
import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import platformdirs

from d7tui.models import Channel, InfobipSource
from d7tui.safety import Secret, url_secret
from d7tui.smallfile import KB, read_small
from d7tui.stuck import DEFAULT_STUCK_AFTER

APP_NAME = "d7tui"
DEFAULT_D7_BASE_URL = "https://api.d7networks.com"
DEFAULT_INFOBIP_BASE_URL = "https://api.infobip.com"

DEFAULT_LOW_BALANCE = {"d7": 5.0, "infobip": 5.0}  # in the account's own currency

# config.toml key -> environment variable (environment wins)
_ENV = {
    "d7_api_token": "D7_API_TOKEN",
    "d7_base_url": "D7_BASE_URL",
    "infobip_api_key": "INFOBIP_API_KEY",
    "infobip_base_url": "INFOBIP_BASE_URL",
}
_SECRET_KEYS = ("d7_api_token", "infobip_api_key")
# Plain http to a host other than this machine sends the token readable on the way: only when
# the user says so, by name.
INSECURE_KEY = "allow_insecure_http"
CONFIG_LIMIT = 1024 * KB  # bytes of config.toml read at most
INSECURE_ENV = "D7TUI_ALLOW_INSECURE_HTTP"
_YES = {"1", "true", "yes", "on"}
_NO = {"0", "false", "no", "off"}
DEFAULT_MAX_ANSWER_MB = 8.0  # bytes of one answer, after decompression (see client.py)
# Every key config.toml may hold; the tables' own keys are in TABLE_KEYS.
KNOWN_KEYS = frozenset(
    {
        *_ENV,
        "infobip_source",
        "max_in_flight",
        "timeout",
        "bell",
        "stuck_after",
        "low_balance",
        "desktop_notifications",
        "message_text",
        "max_answer_mb",
        "keymap",
        "database_url",
        "user",
        INSECURE_KEY,
    }
)


class ConfigError(Exception):
    """A setting that cannot be used; str() is one line naming where it came from."""


@dataclass(frozen=True)
class Settings:
    d7_token: Secret = field(default_factory=lambda: Secret(""))
    d7_base_url: str = DEFAULT_D7_BASE_URL
    infobip_key: Secret = field(default_factory=lambda: Secret(""))
    infobip_base_url: str = DEFAULT_INFOBIP_BASE_URL
    # Logs by default: they can be re-read, where one-time reports are taken away from every
    # other consumer of the account (the production system that pulls them).
    infobip_source: InfobipSource = InfobipSource.LOGS
    # Show message text (Infobip logs' `text` / `content.text`, often a one-time code) on
    # screen, in --json and in exports; hidden unless asked for, masked in privacy mode.
    message_text: bool = False
    max_in_flight: int = 16
    timeout: float = 10.0
    bell: bool = True  # ring the terminal bell when a recipient fails
    max_answer_mb: float = DEFAULT_MAX_ANSWER_MB
    # Seconds per channel a recipient may wait for its confirmation before it is "stuck?".
    stuck_after: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_STUCK_AFTER))
    # Per vendor ("d7", "infobip"): a balance at or below this is warned about (0 = never).
    low_balance: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_LOW_BALANCE))
    # A failure also raises a desktop notification while the terminal is not focused: true
    # (the protocol picked from the terminal), false, "osc9" or "osc777" (d7tui.notify).
    desktop_notifications: bool | str = True
    # Binding id -> keys, from config.toml's [keymap] (checked against the monitor's bindings
    # by d7tui.ui.keymap, which names `config_file` in what it reports).
    keymap: Mapping[str, str] = field(default_factory=dict)
    config_file: str = field(default="", compare=False)
    # Warnings found while loading (e.g. a config file others can read); shown, never fatal.
    warnings: tuple[str, ...] = ()
    # A desk's shared store: `postgresql://user:password@host/db` (a Secret: it may hold a
    # password). Empty: the SQLite file in the user data directory.
    database_url: Secret = field(default_factory=lambda: Secret(""))
    # Who this is, in what the store remembers (who added an id, wrote a note): the OS user
    # unless `user = …` says otherwise.
    user: str = ""
    # The environment variables a credential was taken from: they win over config.toml, and a
    # running d7tui never sees them change (what to tell a user whose credential is refused).
    from_environment: frozenset[str] = frozenset()

    def store_location(self) -> str | None:
        """What `open_store` is given: the database URL, or None for the default SQLite file."""
        return self.database_url.reveal() or None

    def secrets(self) -> list[str]:
        """Every credential set, revealed: what is blotted out of any answer, error or screen.
        Both vendors' everywhere, not each in its own answers only: a proxy or gateway in
        front of both sees, and may echo, both."""
        password = url_secret(self.database_url.reveal())
        return [s for s in (self.d7_token.reveal(), self.infobip_key.reveal(), password) if s]


def config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def _check_url(value: object, where: str, *, insecure_ok: bool = False) -> str:
    """The base URL, or a ConfigError saying why the engine could not use it. A token goes with
    every request: over plain http only to this machine, unless the user said otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected a URL such as https://api.example.com")
    url = value.strip().rstrip("/")
    scheme, sep, rest = url.partition("://")
    url = scheme.lower() + sep + rest  # `HTTP://` is the same URL: schemes ignore case (RFC 3986)
    if (
        not url.startswith(("http://", "https://"))
        or len(url) > 500
        or any(c.isspace() or not c.isprintable() for c in url)
    ):
        raise ConfigError(f"{where}: not an http(s) URL")
    if "@" in url.split("://", 1)[1].split("/", 1)[0]:  # before anything could echo it
        raise ConfigError(
            f"{where}: a user name or password in the URL is not supported "
            "(the API token is its own setting)"
        )
    try:
        parts = urlsplit(url)
        port = parts.port  # raises for a port that is not a number from 0 to 65535
    except ValueError as exc:
        raise ConfigError(f"{where}: not a usable URL ({exc})") from None
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise ConfigError(f"{where}: a base URL has no query (?) or fragment (#)")
    if port == 0:
        raise ConfigError(f"{where}: port 0 is not a port to connect to")
    host = parts.hostname or ""
    problem = _host_problem(host, bracketed="[" in parts.netloc)
    if problem:
        raise ConfigError(f"{where}: {problem}")
    if parts.scheme == "http" and not insecure_ok and not is_loopback(host):
        raise ConfigError(
            f"{where}: http:// would send the API token unencrypted to {host}; use https://, "
            f"or accept that with {INSECURE_ENV}=1 (or {INSECURE_KEY} = true in config.toml)"
        )
    return url


def check_proxies(env: Mapping[str, str]) -> None:
    """A ConfigError naming the proxy variable (HTTPS_PROXY, http_proxy, ...) the engine could
    not use, checked at start like the base URLs: never a traceback later, and never a send
    said to be "maybe sent" when no connection was tried. Its value is never echoed (it may
    carry a password)."""
    for scheme in ("https", "http"):
        # As urllib reads them: the lower-case name wins over the upper-case one.
        names = (f"{scheme}_proxy", f"{scheme.upper()}_PROXY")
        var = next((name for name in names if env.get(name)), None)
        if var is None:
            continue
        problem = proxy_problem(env[var])
        if problem:
            raise ConfigError(f"environment variable {var}: {problem}")


def proxy_problem(value: str) -> str | None:
    """Why a proxy URL (`http://user:password@host:port`) cannot be used, in words that never
    quote it; None when it can."""
    if any(c.isspace() or not c.isprintable() for c in value.strip()):
        return "not a usable proxy URL (it holds spaces or control characters)"
    try:
        parts = urlsplit(value.strip() if "://" in value else f"http://{value.strip()}")
        port = parts.port  # raises for a port that is not a number from 0 to 65535
    except ValueError:
        return "not a usable proxy URL (its host or port cannot be read)"
    if parts.scheme not in ("http", "https"):
        return "not a usable proxy URL (only http:// and https:// proxies are supported)"
    if port == 0:
        return "not a usable proxy URL (port 0 is not a port to connect to)"
    host = parts.hostname or ""
    if _host_problem(host, bracketed="[" in parts.netloc.rpartition("@")[2]):
        return "not a usable proxy URL (no usable host name)"
    return None


def _host_problem(host: str, *, bracketed: bool) -> str | None:
    if not host:
        return "no host name"
    if bracketed:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return f"{host!r} is not an IPv6 address"
        return None
    if len(host) > 253 or any(c in host for c in "%\\/[]<>\"'`{}|^"):
        return f"{host!r} is not a host name"
    try:
        host.encode("idna")  # what the connection will do: empty or 64+ character labels fail
    except UnicodeError:
        return f"{host!r} is not a host name"
    return None


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1: a request that never leaves this machine."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def read_config(path: Path) -> tuple[str, dict[str, object]]:
    """The file's text and what TOML reads in it ("" and {} when there is none); ConfigError
    names what makes it unreadable."""
    try:
        # A config is a few kB: a FIFO, /dev/zero or a file of gigabytes is refused, not read.
        text = read_small(path, CONFIG_LIMIT).decode("utf-8")
    except FileNotFoundError:
        return "", {}
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: cannot read: not UTF-8 text") from None
    except OSError as exc:
        why = exc.strerror or "error"
        raise ConfigError(f"{path}: cannot read: {why[:1].lower()}{why[1:]}") from None
    try:
        # Notepad saves UTF-8 with a byte order mark, which tomllib calls an invalid statement.
        data = tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return text, data


def _read_file(path: Path) -> tuple[dict[str, object], list[str]]:
    warnings: list[str] = []
    _, data = read_config(path)
    if any(k in data for k in _SECRET_KEYS):
        try:
            mode = path.stat().st_mode
        except OSError:
            mode = 0
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            warnings.append(
                f"{path} holds an API secret and is readable by others: run chmod 600 {path}"
            )
    return data, warnings


def load_settings(env: Mapping[str, str] | None = None, path: Path | None = None) -> Settings:
    """Settings from the environment over the config file; ConfigError names what is wrong."""
    env = os.environ if env is None else env
    path = config_path() if path is None else path
    check_proxies(env)
    data, warnings = _read_file(path)
    return settings_from(data, env, path, warnings)


def settings_from(
    data: Mapping[str, object], env: Mapping[str, str], path: Path, warnings: list[str]
) -> Settings:
    """The settings `data` (config.toml as read from `path`) and `env` make; ConfigError names
    what is wrong. `d7tui config set` checks a value with it before writing it."""
    for key in data:
        if key not in KNOWN_KEYS:
            warnings.append(f"{path}: unknown key {key!r} ignored")

    def pick(key: str) -> tuple[object, str]:
        var = _ENV[key]
        if env.get(var):
            return env[var], f"environment variable {var}"
        return data.get(key), f"{path}: key {key!r}"

    values: dict[str, object] = {}
    for key in _SECRET_KEYS:
        raw, where = pick(key)
        if raw is not None and not isinstance(raw, str):
            raise ConfigError(f"{where}: expected a string")
        token = (raw or "").strip()
        if any(not c.isprintable() or c.isspace() for c in token):
            raise ConfigError(f"{where}: contains spaces or control characters")
        if not token.isascii():  # sent as mojibake, and refused by the vendor as a bad key
            raise ConfigError(
                f"{where}: contains characters that are not ASCII (another keyboard layout?)"
            )
        values[key] = Secret(token)
    d7_raw, d7_where = pick("d7_base_url")
    ib_raw, ib_where = pick("infobip_base_url")
    source_env = env.get("D7TUI_INFOBIP_SOURCE")
    source = source_env or data.get("infobip_source", InfobipSource.LOGS.value)
    source_where = (
        "environment variable D7TUI_INFOBIP_SOURCE"
        if source_env
        else f"{path}: key 'infobip_source'"
    )
    # isinstance first: a TOML array or table is unhashable and `in` a set would raise TypeError.
    if not isinstance(source, str) or source not in {s.value for s in InfobipSource}:
        raise ConfigError(f"{source_where} must be 'reports' or 'logs'")
    in_flight = _MAX_IN_FLIGHT.read(data, path)
    timeout = _TIMEOUT.read(data, path)
    bell = data.get("bell", True)
    if not isinstance(bell, bool):
        raise ConfigError(f"{path}: key 'bell' must be true or false")
    max_answer = _MAX_ANSWER_MB.read(data, path)
    insecure_ok = _switch(env, INSECURE_ENV, data, INSECURE_KEY, path, default=False)
    message_text = _switch(env, "D7TUI_MESSAGE_TEXT", data, "message_text", path, default=False)
    stuck_after = _STUCK_AFTER.read(data.get("stuck_after"), path, warnings)
    low_balance = _LOW_BALANCE.read(data.get("low_balance"), path, warnings)
    keymap = _keymap(data.get("keymap"), path, warnings)
    notify = data.get("desktop_notifications", True)
    if not isinstance(notify, bool) and notify not in ("osc9", "osc777"):
        raise ConfigError(
            f'{path}: key \'desktop_notifications\' must be true, false, "osc9" or "osc777"'
        )
    database_url = _database_url(env, data, path)
    user = data.get("user", "")
    if not isinstance(user, str) or any(not c.isprintable() for c in user) or len(user) > 64:
        raise ConfigError(f"{path}: key 'user' must be a name of at most 64 printable characters")
    return Settings(
        from_environment=frozenset(_ENV[key] for key in _SECRET_KEYS if env.get(_ENV[key])),
        database_url=database_url,
        user=user.strip(),
        d7_token=values["d7_api_token"],  # type: ignore[arg-type]
        # `is not None`: a present but falsy value (false, "", 0) is a mistake to name, not a default.
        d7_base_url=(
            _check_url(d7_raw, d7_where, insecure_ok=insecure_ok)
            if d7_raw is not None
            else DEFAULT_D7_BASE_URL
        ),
        infobip_key=values["infobip_api_key"],  # type: ignore[arg-type]
        infobip_base_url=(
            _check_url(ib_raw, ib_where, insecure_ok=insecure_ok)
            if ib_raw is not None
            else DEFAULT_INFOBIP_BASE_URL
        ),
        infobip_source=InfobipSource(source),
        max_in_flight=in_flight,
        timeout=float(timeout),
        bell=bell,
        max_answer_mb=float(max_answer),
        message_text=message_text,
        stuck_after=stuck_after,
        low_balance=low_balance,
        desktop_notifications=notify,
        keymap=keymap,
        config_file=str(path),
        warnings=tuple(warnings),
    )


DATABASE_ENV = "D7TUI_DATABASE_URL"


def _database_url(env: Mapping[str, str], data: Mapping[str, object], path: Path) -> Secret:
    """The shared store's URL; never repeated in a message (it may hold a password)."""
    if env.get(DATABASE_ENV):
        raw: object = env[DATABASE_ENV]
        where = f"environment variable {DATABASE_ENV}"
    else:
        raw, where = data.get("database_url", ""), f"{path}: key 'database_url'"
    if not isinstance(raw, str):
        raise ConfigError(f"{where}: expected a string")
    url = raw.strip()
    if url and not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"{where} must be a postgresql:// URL")
    if any(not c.isprintable() or c.isspace() for c in url):
        raise ConfigError(f"{where}: contains spaces or control characters")
    # Read here as every later step reads it: a URL that breaks them (`[::1/desk`) ended in a
    # traceback quoting it whole, the password with it (L11). The why, never the URL.
    try:
        parts = urlsplit(url)
        _ = (parts.hostname, parts.port, parts.password)
        parse_qsl(parts.query, errors="strict")
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: a %-escape in it is not UTF-8 text") from None
    except ValueError:
        raise ConfigError(f"{where}: its host or port cannot be read") from None
    return Secret(url)


def _keymap(raw: object, path: Path, warnings: list[str]) -> dict[str, str]:
    """[keymap]: binding id = "keys" (comma separated). A bad entry is reported and skipped:
    the monitor still starts, with that key as it was."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        warnings.append(f'{path}: [keymap] must be a table of binding = "keys"; ignored')
        return {}
    keymap: dict[str, str] = {}
    for name, keys in raw.items():
        if not isinstance(keys, str):
            warnings.append(f"{path}: [keymap] key {name!r} must be a string of keys; ignored")
            continue
        if not keys.strip():
            warnings.append(f"{path}: [keymap] key {name!r} is empty; ignored")
            continue
        keymap[str(name)] = keys
    return keymap


def _switch(
    env: Mapping[str, str],
    var: str,
    data: Mapping[str, object],
    key: str,
    path: Path,
    *,
    default: bool,
) -> bool:
    """An on/off setting: the environment variable (1/true/yes or 0/false/no) over the key."""
    raw = env.get(var)
    if raw:
        value = raw.strip().lower()
        if value not in _YES | _NO:
            raise ConfigError(f"environment variable {var} must be true or false (1 or 0)")
        return value in _YES
    flag = data.get(key, default)
    if not isinstance(flag, bool):
        raise ConfigError(f"{path}: key {key!r} must be true or false")
    return flag


@dataclass(frozen=True, slots=True)
class _Number:
    """A numeric key and its bounds; the message that refuses a value is made from the bounds
    themselves, so it cannot say "between 0 and 300" of a 0 it refuses."""

    key: str
    default: float
    low: float
    high: float
    unit: str  # "seconds", "megabytes", "an integer"
    above_low: bool = False  # the low bound itself is refused (a timeout of 0)
    integer: bool = False

    def read(self, data: Mapping[str, object], path: Path) -> Any:
        value = data.get(self.key, self.default)
        kinds = int if self.integer else int | float
        if isinstance(value, kinds) and not isinstance(value, bool):
            low_ok = value > self.low if self.above_low else value >= self.low
            if low_ok and value <= self.high:
                return value
        raise ConfigError(f"{path}: key '{self.key}' must be {self.unit} {self.bounds()}")

    def bounds(self) -> str:
        if self.above_low:
            return f"more than {self.low:g} and at most {self.high:g}"
        return f"from {self.low:g} to {self.high:g}"


_MAX_IN_FLIGHT = _Number("max_in_flight", 16, 1, 256, "an integer", integer=True)
_TIMEOUT = _Number("timeout", 10.0, 0, 300, "seconds", above_low=True)
_MAX_ANSWER_MB = _Number("max_answer_mb", DEFAULT_MAX_ANSWER_MB, 1, 1024, "megabytes")


MAX_STUCK_MINUTES = 72 * 60  # the poller gives a request up after 72 hours anyway
MAX_LOW_BALANCE = 1_000_000.0


@dataclass(frozen=True, slots=True)
class _Table:
    """A config table of numbers, one per known key (`[stuck_after]`, `[low_balance]`)."""

    name: str
    keys: tuple[str, ...]
    defaults: Mapping[str, float]
    unit: str  # how the user writes the numbers
    example: str
    maximum: float
    scale: float = 1.0  # the number as written -> as kept (minutes -> seconds)

    def read(self, table: object, path: Path, warnings: list[str]) -> dict[str, float]:
        """The table over the defaults; ConfigError names the key of a bad value."""
        out = dict(self.defaults)
        if table is None:
            return out
        if not isinstance(table, dict):
            raise ConfigError(
                f"{path}: {self.name!r} must be a table of {self.unit}, e.g. {self.example}"
            )
        for key, value in table.items():
            if key not in self.keys:
                warnings.append(f"{path}: unknown key {key!r} in [{self.name}] ignored")
                continue
            if (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or not 0 <= value <= self.maximum
            ):
                raise ConfigError(
                    f"{path}: key '{self.name}.{key}' must be {self.unit} from 0 (never) to "
                    f"{self.maximum:g}"
                )
            out[key] = float(value) * self.scale
        return out


_STUCK_AFTER = _Table(
    "stuck_after",
    tuple(c.value for c in Channel),
    DEFAULT_STUCK_AFTER,
    "minutes per channel",
    "[stuck_after] sms = 15",
    MAX_STUCK_MINUTES,
    scale=60.0,
)
_LOW_BALANCE = _Table(
    "low_balance",
    tuple(DEFAULT_LOW_BALANCE),
    DEFAULT_LOW_BALANCE,
    "amounts per vendor (d7, infobip)",
    "[low_balance] d7 = 5",
    MAX_LOW_BALANCE,
)
# The tables of numbers and their keys (`d7tui config set stuck_after.sms 15`).
TABLE_KEYS = {table.name: table.keys for table in (_STUCK_AFTER, _LOW_BALANCE)}
