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
from textual.keys import KEY_NAME_REPLACEMENTS, Keys, format_key, key_to_character

from d7tui.ui.bindings import MONITOR_KEYS
from d7tui.ui.widgets.line_table import LineTable

PREFIX = "d7tui."


def binding_ids() -> list[str]:
    ids = [key.id for key in MONITOR_KEYS]
    ids += [b.id for b in LineTable.BINDINGS if isinstance(b, Binding) and b.id]
    return ids


MODIFIERS = frozenset({"ctrl", "shift", "alt", "meta", "super", "hyper"})
# Every key name Textual sends, without its modifiers ("f5", "pageup", "escape", "space", ...).
KEY_NAMES = frozenset(k.value.rpartition("+")[2] for k in Keys) | frozenset(
    {"space", "tab", "enter", "backspace", *KEY_NAME_REPLACEMENTS.values()}
)


def _good_key(key: str) -> bool:
    """One key as Textual names it: a character ("o", "?"), a name ("f5", "question_mark"),
    either after modifiers ("ctrl+o"). Not "!!!" (no such key) nor "ctrl+" (no key)."""
    *modifiers, name = key.strip().split("+")
    if not name or not all(m in MODIFIERS for m in modifiers):
        return False
    if len(name) == 1:
        return name.isprintable() and not name.isspace()
    return name in KEY_NAMES or key_to_character(name) is not None


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
        bad = [part.strip() for part in parts if not _good_key(part)]
        if bad:
            problems.append(
                f"{where}: [keymap] key {name!r}: {keys!r} is not a comma-separated list of "
                f"keys (not keys: {', '.join(map(repr, bad))}; keys read like o, ctrl+o, f5, "
                "question_mark); that binding keeps its keys"
            )
            continue
        out[binding] = ",".join(part.strip() for part in parts)
    return out, problems


def keys_of(binding_id: str, keymap: Mapping[str, str], default: str) -> list[str]:
    """The keys bound to `binding_id` as a person reads them ("↑", "k", "pgdn")."""
    return [format_key(key.strip()) for key in keymap.get(binding_id, default).split(",")]
