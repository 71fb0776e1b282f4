"""A DataTable whose rows can flash: the whole row gets a background for a moment while its
cells keep their own colours (a changed cell's text keeps its phase colour and symbol)."""

from __future__ import annotations

from collections.abc import Iterable

from rich.style import Style
from rich.text import Text
from textual.widgets import DataTable


class FlashingTable(DataTable[Text]):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.flashing: frozenset[str] = frozenset()  # row keys
        self.flash_style = Style(bgcolor="#5a4a00")

    def set_flashing(self, keys: Iterable[str], colour: str | None = None) -> None:
        keys = frozenset(keys)
        style = Style(bgcolor=colour) if colour else self.flash_style
        if keys == self.flashing and style == self.flash_style:
            return
        self.flashing = keys
        self.flash_style = style
        # Rendered rows are cached by the table's update count: drop them so the row styles
        # below are asked again (Textual is pinned exactly: this is its 8.2.8 internals).
        self._clear_caches()
        self.refresh()

    def _get_row_style(self, row_index: int, base_style: Style) -> Style:
        style = super()._get_row_style(row_index, base_style)
        if self.flashing and 0 <= row_index < self.row_count:
            key = self.ordered_rows[row_index].key.value
            if key in self.flashing:
                return style + self.flash_style
        return style
