"""The user's `[keymap]` from config.toml, checked against the monitor's bindings and handed to
`App.set_keymap` (as posting does). Every binding has an id (bindings.py, line_table.py); a
config names it with or without the `d7tui.` prefix:

    [keymap]
    sort = "o"
    "d7tui.cursor_down" = "down,j,n"

A bad entry is reported with the file and the key, and skipped: the key stays as it was."""

from __future__ import annotations

from collections.abc import Mapping

from textual.binding import Binding

from d7tui.ui.bindings import MONITOR_KEYS
from d7tui.ui.widgets.line_table import LineTable

PREFIX = "d7tui."


def binding_ids() -> list[str]:
    ids = [key.id for key in MONITOR_KEYS]
    ids += [b.id for b in LineTable.BINDINGS if isinstance(b, Binding) and b.id]
    return ids


def _good_key(key: str) -> bool:
    # One key as Textual names it: a character, or a name such as "f5", "ctrl+o", "question_mark".
    key = key.strip()
    return bool(key) and key.isprintable() and not any(c.isspace() for c in key)


def resolve(keymap: Mapping[str, str], where: str) -> tuple[dict[str, str], list[str]]:
    """(binding id -> keys, problems), each problem one line naming `where` and the key."""
    known = binding_ids()
    out: dict[str, str] = {}
    problems: list[str] = []
    for name, keys in keymap.items():
        binding = name if name.startswith(PREFIX) else PREFIX + name
        if binding not in known:
            names = ", ".join(sorted(k.removeprefix(PREFIX) for k in known))
            problems.append(f"{where}: [keymap] key {name!r}: no such binding (one of {names})")
            continue
        parts = keys.split(",")
        if not all(_good_key(part) for part in parts):
            problems.append(
                f"{where}: [keymap] key {name!r}: {keys!r} is not a comma-separated list of keys"
            )
            continue
        out[binding] = ",".join(part.strip() for part in parts)
    return out, problems
