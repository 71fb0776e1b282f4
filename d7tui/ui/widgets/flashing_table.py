"""A DataTable for many rows whose rows can flash.

Flashing: the whole row gets a background for a moment while its cells keep their own colours
(a changed cell's text keeps its phase colour and symbol).

Many rows: DataTable keys its row order and its line offsets by a counter that every cell update
bumps, so at 10,000 rows each update cost a pass over every row (measured: half a second a
second of polling, and keys waiting behind it). Here both are kept until rows are added,
removed or cleared, many cells are updated for one invalidation (`update_cells`), and the
per-cell measuring DataTable does for auto-width columns is skipped when no column is one.
Textual is pinned exactly: this leans on its 8.2.8 internals.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.style import Style
from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, Row, RowKey


class FlashingTable(DataTable[Text]):
    def __init__(self, **kwargs: object) -> None:
        # Before DataTable's own __init__, which already asks for the row order.
        self._rows_version = 0  # bumped when rows are added, removed or cleared
        self._ordered: tuple[tuple[int, int], list[Row]] | None = None
        self._offsets: tuple[tuple[int, int], list[tuple[RowKey, int]]] | None = None
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.flashing: frozenset[str] = frozenset()  # row keys
        self.flash_style = Style(bgcolor="#5a4a00")

    # -- flashing ----------------------------------------------------------------------------

    def set_flashing(self, keys: Iterable[str], colour: str | None = None) -> None:
        keys = frozenset(keys)
        style = Style(bgcolor=colour) if colour else self.flash_style
        if keys == self.flashing and style == self.flash_style:
            return
        self.flashing = keys
        self.flash_style = style
        # Rendered rows are cached by the table's update count: drop them so the row styles
        # below are asked again.
        self._clear_caches()
        self.refresh()

    def _get_row_style(self, row_index: int, base_style: Style) -> Style:
        style = super()._get_row_style(row_index, base_style)
        if self.flashing and 0 <= row_index < self.row_count:
            key = self.ordered_rows[row_index].key.value
            if key in self.flashing:
                return style + self.flash_style
        return style

    # -- many rows ---------------------------------------------------------------------------

    def update_cells(self, cells: Iterable[tuple[str, str, Text]]) -> None:
        """update_cell for many (row key, column key, value) at once: one invalidation of the
        rendered lines and one refresh, whatever the number."""
        changed = False
        for row_key, column_key, value in cells:
            self._data[RowKey(row_key)][ColumnKey(column_key)] = value
            changed = True
        if changed:
            self._update_count += 1
            self.refresh()

    def reorder(self, keys: Sequence[str]) -> None:
        """The same rows in a new order (what `sort` does, without asking every cell)."""
        self._row_locations = TwoWayDict({RowKey(key): i for i, key in enumerate(keys)})
        self._rows_changed()
        self._update_count += 1
        self.refresh()

    def _rows_changed(self) -> None:
        self._rows_version += 1
        self._ordered = None
        self._offsets = None

    @property
    def ordered_rows(self) -> list[Row]:
        key = (self.row_count, self._rows_version)
        if self._ordered is None or self._ordered[0] != key:
            get_key = self._row_locations.get_key
            self._ordered = (key, [self.rows[get_key(i)] for i in range(self.row_count)])
        return self._ordered[1]

    @property
    def _y_offsets(self) -> list[tuple[RowKey, int]]:
        key = (self.row_count, self._rows_version)
        if self._offsets is None or self._offsets[0] != key:
            offsets = [(row.key, y) for row in self.ordered_rows for y in range(row.height)]
            self._offsets = (key, offsets)
        return self._offsets[1]

    def add_row(self, *cells: Text, **kwargs: object) -> RowKey:
        self._rows_changed()
        return super().add_row(*cells, **kwargs)  # type: ignore[arg-type]

    def remove_row(self, row_key: RowKey | str) -> None:
        self._rows_changed()
        super().remove_row(row_key)
        self._rows_changed()

    def clear(self, columns: bool = False) -> FlashingTable:
        self._rows_changed()
        super().clear(columns)
        self._rows_changed()
        return self

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        if any(column.auto_width for column in self.columns.values()):
            super()._update_dimensions(new_rows)
        else:  # every width is set: only the virtual size is left to compute
            super()._update_dimensions(())
