"""`d7tui config set KEY VALUE`: one setting changed in config.toml, the rest of the file (its
comments, its order) as it was.

The value is checked by the reader itself (config.settings_from over the file as it would be),
so there is one home for each rule; the file is written whole to a new file created 0600 (it
may hold a secret), then moved over the old one: a crash leaves the old file or the new one.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

from d7tui.config import (
    KNOWN_KEYS,
    TABLE_KEYS,
    ConfigError,
    read_config,
    settings_from,
)

UNSET = object()


class EditError(Exception):
    """Why the setting was not written; str() is one line."""


def settable() -> list[str]:
    """Every KEY `config set` takes: the plain keys and each table's `table.key`."""
    plain = sorted(k for k in KNOWN_KEYS if k not in TABLE_KEYS and k != "keymap")
    tables = [f"{t}.{k}" for t, keys in sorted(TABLE_KEYS.items()) for k in keys]
    return plain + tables


def split_key(key: str) -> tuple[str | None, str]:
    """(table or None, key); EditError for a key the reader does not know."""
    table, dot, name = key.partition(".")
    if dot and table in TABLE_KEYS and name in TABLE_KEYS[table]:
        return table, name
    if not dot and key in KNOWN_KEYS and key not in TABLE_KEYS and key != "keymap":
        return None, key
    if table == "keymap":
        raise EditError("[keymap] is not set from the command line: edit config.toml")
    if table in TABLE_KEYS:
        keys = ", ".join(f"{table}.{k}" for k in TABLE_KEYS[table])
        raise EditError(f"{key!r} is not a key of [{table}]: set one of {keys}")
    raise EditError(f"unknown key {key!r} (d7tui config set --help lists the keys)")


def candidates(raw: str) -> list[object]:
    """What VALUE may mean, in the order tried: a TOML true/false or number as written
    (`timeout 30`, `bell false`), then the text itself (`user 1234` is a name)."""
    out: list[object] = []
    try:
        parsed = tomllib.loads(f"v = {raw}")
    except tomllib.TOMLDecodeError:
        parsed = {}
    value = parsed.get("v", UNSET) if len(parsed) == 1 else UNSET
    if isinstance(value, bool | int | float) and "\n" not in raw:
        out.append(value)
    out.append(raw)
    return out


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return _toml_string(str(value))


def _toml_string(value: str) -> str:
    """A TOML basic string: quote, backslash and control characters escaped (a raw newline or
    control character would make the file unreadable)."""
    out = []
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")


def edited_text(text: str, table: str | None, key: str, value: object) -> str:
    """`text` with `key` (in `table`, or at the top) set to `value`: its line replaced, or a
    line added where TOML wants it. The caller checks the result by reading it back."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    assignment = re.compile(rf"^(\s*)(?:{key}|\"{key}\"|'{key}')\s*=")
    line = f"{key} = {toml_value(value)}\n"
    section: str | None = None
    first_header: int | None = None
    header_at: int | None = None
    for i, current in enumerate(lines):
        header = _HEADER.match(current)
        if header:
            section = header.group(1)
            first_header = i if first_header is None else first_header
            header_at = i if section == table else header_at
            continue
        match = assignment.match(current)
        if match and section == table:
            lines[i] = match.group(1) + line
            return "".join(lines)
    if table is None:
        at = len(lines) if first_header is None else first_header
        while at > 0 and not lines[at - 1].strip():  # beside the keys above, not the table
            at -= 1
        lines.insert(at, line)
    elif header_at is not None:
        lines.insert(header_at + 1, line)
    else:
        lines.append(("\n" if lines else "") + f"[{table}]\n{line}")
    return "".join(lines)


def with_value(
    data: Mapping[str, object], table: str | None, key: str, value: object
) -> dict[str, object]:
    out = dict(data)
    if table is None:
        out[key] = value
    else:
        inner = out.get(table)
        out[table] = {**(inner if isinstance(inner, dict) else {}), key: value}
    return out


def set_value(path: Path, key: str, raw: str) -> None:
    """Set KEY to VALUE in the config file at `path` (created if missing); EditError (one
    line, never the value) if the key is unknown, the value refused or the file not editable."""
    table, name = split_key(key)
    try:
        text, data = read_config(path)
    except ConfigError as exc:
        raise EditError(f"{exc} (fix it by hand first)") from None
    text = text.removeprefix("\ufeff")  # Notepad saves one; dropped, so the first key is found
    first: ConfigError | None = None
    for value in candidates(raw):
        wanted = with_value(data, table, name, value)
        try:
            settings_from(wanted, {}, path, [])
        except ConfigError as exc:
            first = first or exc
            continue
        new = edited_text(text, table, name, value)
        try:
            readable = tomllib.loads(new) == wanted
        except tomllib.TOMLDecodeError:
            readable = False
        if not readable:
            raise EditError(
                f"{path}: {key} is written in a way this command cannot change; edit it by hand"
            )
        write_private(path, new)
        return
    assert first is not None
    raise EditError(str(first))


def write_private(path: Path, text: str) -> None:
    """`text` as the file at `path`, readable by its owner alone (0600), replaced at once."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
