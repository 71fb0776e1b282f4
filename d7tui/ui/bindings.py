"""The one table of keys: it feeds the bindings (and so the footer), the `?` help screen and the
command palette. Each binding has an id, so a user's config can remap it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual.binding import Binding
from textual.keys import format_key


@dataclass(frozen=True, slots=True)
class Key:
    key: str  # Textual key name(s), comma separated
    action: str
    description: str  # short, for the footer
    help: str  # one sentence, for the help screen and the palette
    shown: str = ""  # how the key reads to a person, when it differs from `key`
    show: bool = True  # in the footer

    @property
    def label(self) -> str:
        return self.shown or self.key

    @property
    def id(self) -> str:
        return f"d7tui.{self.action}"

    def binding(self) -> Binding:
        # A key that moves the focus acts as soon as it is read (typeahead.py).
        priority = self.action in FOCUS_ACTIONS
        return Binding(
            self.key, self.action, self.description, show=self.show, id=self.id, priority=priority
        )


# The keys that move the focus (into the filter, the detail, a dialog, back to the list): the
# keys typed right after them must land in the new place (typeahead.py).
FOCUS_ACTIONS = frozenset(
    {"add", "enter_detail", "back", "filter", "edit_label", "send", "help", "insights"}
)


# The monitor's keys, in the order the help screen lists them.
MONITOR_KEYS: tuple[Key, ...] = (
    Key("a", "add", "Add", "Add request ids (paste many at once: one per line, or spaces/commas)"),
    Key("d", "remove", "Remove", "Stop watching the selected request (undo brings it back)"),
    Key("u", "undo", "Undo", "Bring back the request removed last", show=False),
    Key(
        "enter",
        "enter_detail",
        "Detail",
        "Move into the detail of the selected request",
        show=False,
    ),
    Key("escape", "back", "Back", "Back to the list; clears the filter", shown="esc", show=False),
    Key("r", "refresh", "Refresh", "Poll the selected request now", show=False),
    Key("R", "refresh_all", "Refresh all", "Poll every watched request now", show=False),
    Key(
        "p",
        "pause",
        "Pause",
        "Pause or resume polling (resumes a channel after its credential is fixed)",
    ),
    Key("slash", "filter", "Filter", "Filter by id, label, note, recipient or status", shown="/"),
    Key("s", "sort", "Sort", "Cycle the sort: last change, status, added", show=False),
    Key("f", "problems", "Problems", "Show only problems: failed, stuck, not found, errors"),
    Key(
        "i",
        "insights",
        "Insights",
        "How the day goes: outcomes by channel and country, time to deliver, top failures",
        show=False,
    ),
    Key(
        "S",
        "send",
        "Send test",
        "Send one test message (costs money: asks first), then watch it",
        show=False,
    ),
    # l, e and A stay out of the footer: at 80 columns they would push out ? and q.
    Key("l", "edit_label", "Label", "Edit the label and note of the selected request", show=False),
    Key(
        "e",
        "export",
        "Export or failures worklist",
        "Export requests, recipients and transitions to a JSON file (in the problems view:"
        " the failures alone, a CSV worklist)",
        show=False,
    ),
    Key(
        "A",
        "archive_view",
        "Archive",
        "Show the archive (final for a day, not polled), or the live list",
        show=False,
    ),
    Key(
        "U",
        "unarchive",
        "Unarchive",
        "In the archive: bring the selected request back to the live list (undo does too)",
        show=False,
    ),
    Key("c", "copy", "Copy id", "Copy the selected request id to the clipboard", show=False),
    Key("m", "mask", "Mask", "Privacy mode: mask recipients, for sharing a screen", show=False),
    Key("plus", "faster", "Faster", "Poll faster (halve every interval)", shown="+", show=False),
    Key("minus", "slower", "Slower", "Poll slower (double every interval)", shown="-", show=False),
    Key("t", "toggle_theme", "Theme", "Switch between the dark and the light theme", show=False),
    Key("question_mark", "help", "Help", "Show every key and what the symbols mean", shown="?"),
    Key("q", "quit", "Quit", "Quit d7tui"),
)


_DEFAULT_KEYS = {key.action: key.key for key in MONITOR_KEYS}


def key_label(action: str, keymap: Mapping[str, str] | None = None) -> str:
    """The first key bound to `action` as a person reads it ("u", "ctrl+z", "?"), after the
    user's [keymap] (binding id -> keys): what every hint on screen names."""
    keys = (keymap or {}).get(f"d7tui.{action}") or _DEFAULT_KEYS[action]
    return format_key(keys.split(",")[0].strip())
