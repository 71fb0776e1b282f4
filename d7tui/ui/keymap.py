"""The user's `[keymap]` from config.toml, checked against the monitor's bindings and handed to
`App.set_keymap` (as posting does). Every binding has an id (bindings.py, line_table.py); a
config names it with or without the `d7tui.` prefix:

    [keymap]
    sort = "o"
    "d7tui.cursor_down" = "down,j,n"

A bad entry is reported with the file and the key, and skipped: the key stays as it was."""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from textual.binding import Binding
from textual.keys import KEY_NAME_REPLACEMENTS, Keys, format_key, key_to_character

from d7tui.ui.bindings import MONITOR_KEYS
from d7tui.ui.widgets.line_table import LineTable

PREFIX = "d7tui."


def default_keys() -> dict[str, str]:
    """Binding id -> its keys before any [keymap]."""
    keys = {key.id: key.key for key in MONITOR_KEYS}
    keys |= {b.id: b.key for b in LineTable.BINDINGS if isinstance(b, Binding) and b.id}
    return keys


def binding_ids() -> list[str]:
    return list(default_keys())


MODIFIERS = frozenset({"ctrl", "shift", "alt", "meta", "super", "hyper"})
# Every key name Textual sends, without its modifiers ("f5", "pageup", "escape", "space", ...).
KEY_NAMES = frozenset(k.value.rpartition("+")[2] for k in Keys) | frozenset(
    {"space", "tab", "enter", "backspace", *KEY_NAME_REPLACEMENTS.values()}
)


# What a terminal sends for these is another key's code (enter, tab, backspace, escape): bound,
# they could never run.
SENT_AS_OTHERS = frozenset({"ctrl+m", "ctrl+i", "ctrl+h", "ctrl+left_square_bracket", "ctrl+["})


def _good_key(key: str) -> bool:
    """One key as Textual names it: a character ("o", "?"), a name ("f5", "question_mark"),
    either after modifiers ("ctrl+o"). Not "!!!" (no such key) nor "ctrl+" (no key)."""
    *modifiers, name = key.strip().split("+")
    if not name or not all(m in MODIFIERS for m in modifiers):
        return False
    if key.strip().lower() in SENT_AS_OTHERS:
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
            # One line, not the thirty names: four typos took a whole 80x24 screen (L8).
            names = [k.removeprefix(PREFIX) for k in known]
            near = difflib.get_close_matches(name.removeprefix(PREFIX), names, n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            problems.append(
                f"{where}: [keymap] key {name!r}: no such binding ({hint}the names are in the "
                "README's [keymap])"
            )
            continue
        parts = keys.split(",")
        bad = [part.strip() for part in parts if not _good_key(part)]
        if bad:
            problems.append(
                f"{where}: [keymap] key {name!r}: {keys!r} is not a comma-separated list of "
                f"keys (not keys: {', '.join(map(repr, bad))}; keys read like o, ctrl+o, f5, "
                "question_mark; ctrl+m, ctrl+i, ctrl+h reach d7tui as enter, tab, backspace); "
                "that binding keeps its keys"
            )
            continue
        out[binding] = ",".join(part.strip() for part in parts)
    problems += _without_shared_keys(out, where)
    return out, problems


def _same_key(key: str) -> str:
    """One spelling for a key: "question_mark" and "?" are one key."""
    *modifiers, name = key.strip().split("+")
    return "+".join([*modifiers, key_to_character(name) or name if len(name) > 1 else name])


def _without_shared_keys(keymap: dict[str, str], where: str) -> list[str]:
    """Drops from `keymap` each entry that gives a key another binding has too (one of the two
    would silently never run), until none is left; says which."""
    problems: list[str] = []
    while True:
        users: dict[str, list[str]] = {}
        for binding, keys in (default_keys() | keymap).items():
            for key in keys.split(","):
                users.setdefault(_same_key(key), []).append(binding)
        clash = next(
            ((k, b) for k, b in users.items() if len(b) > 1 and set(b) & set(keymap)), None
        )
        if clash is None:
            return problems
        key, bindings = clash
        # A remapped binding gives way to one that keeps its keys; of two remapped, the
        # later in the file gives way.
        mapped = [b for b in keymap if b in bindings]
        dropped = mapped[-1]
        del keymap[dropped]
        others = " and ".join(b.removeprefix(PREFIX) for b in bindings if b != dropped)
        problems.append(
            f"{where}: [keymap] key {dropped.removeprefix(PREFIX)!r}: {key!r} is also the key "
            f"of {others}; that binding keeps its keys"
        )


def keys_of(binding_id: str, keymap: Mapping[str, str], default: str) -> list[str]:
    """The keys bound to `binding_id` as a person reads them ("↑", "k", "pgdn")."""
    return [format_key(key.strip()) for key in keymap.get(binding_id, default).split(",")]
