"""The `?` screen: every key (from the one key table) and what the symbols mean."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.keys import format_key
from textual.screen import ModalScreen
from textual.widgets import Static

from d7tui.models import Phase
from d7tui.ui.bindings import MONITOR_KEYS
from d7tui.ui.edge import Guarded
from d7tui.ui.format import NOT_FOUND_SYMBOL, PHASE_SYMBOL
from d7tui.ui.keymap import PREFIX, keys_of
from d7tui.ui.widgets.line_table import LineTable


def help_text(keymap: Mapping[str, str] | None = None) -> Group:
    """Every key; `keymap` (binding id -> keys): the user's own, shown instead."""
    keymap = keymap or {}
    keys = Table(box=None, show_header=False, padding=(0, 1), expand=True)
    keys.add_column(justify="right", style="bold", no_wrap=True)
    keys.add_column(ratio=1)
    moves = {b.id: b.key for b in LineTable.BINDINGS if isinstance(b, Binding) and b.id}

    def shown_keys(*actions: str) -> str:
        ids = [f"{PREFIX}{action}" for action in actions]
        return " ".join(k for i in ids for k in keys_of(i, keymap, moves[i]))

    keys.add_row(
        Text(shown_keys("cursor_up", "cursor_down", "page_up", "page_down")),
        Text(
            "Move through the list or the recipients "
            f"({shown_keys('first')} / {shown_keys('last')}: the first and last)"
        ),
    )
    for key in MONITOR_KEYS:
        # The user's keys as a person reads them: "ctrl+z ?", not "ctrl+z,question_mark".
        shown = (
            " ".join(format_key(k.strip()) for k in keymap[key.id].split(","))
            if key.id in keymap
            else key.label
        )
        keys.add_row(Text(shown), Text(key.help))
    keys.add_row(
        Text("paste"), Text("Ids pasted into the list open the add dialog with all of them")
    )
    keys.add_row(
        Text("ctrl+p"), Text("The command palette: every action above by name, and themes")
    )

    symbols = Table(box=None, show_header=False, padding=(0, 1), expand=True)
    symbols.add_column(justify="right", style="bold", no_wrap=True)
    symbols.add_column(ratio=1)
    for phase in (Phase.READ, Phase.DELIVERED, Phase.PENDING, Phase.FAILED, Phase.UNKNOWN):
        said = "unknown: a status d7tui does not know" if phase is Phase.UNKNOWN else phase.value
        symbols.add_row(Text(PHASE_SYMBOL[phase]), Text(said))
    symbols.add_row(Text("*"), Text("not final yet: it may still change"))
    symbols.add_row(
        Text("⚠"), Text("the last poll failed (auth refused, rate limited, unreachable...)")
    )
    symbols.add_row(
        Text(NOT_FOUND_SYMBOL),
        Text("not found: retried for a while (it may just have been sent)"),
    )

    polling = Text(
        "Every 2 s for the first half minute, then slower (×1.5) up to a minute; every 5 min"
        " after an hour, every 15 min after six hours; given up (stale, still shown) after 72 h."
        " A request whose every recipient is final is polled once more to confirm, then never"
        " again (r polls it anyway)."
    )
    return Group(
        Text("Keys", style="bold underline"),
        keys,
        Text(),
        Text("Symbols (every colour comes with one)", style="bold underline"),
        symbols,
        Text(),
        Text("Polling", style="bold underline"),
        polling,
        Text(),
        Text("esc, q or ? closes this screen.", style="dim"),
    )


class HelpScreen(Guarded, ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(help_text(getattr(self.app, "keymap", {})), id="help-text")

    def action_close(self) -> None:
        self.dismiss(None)
