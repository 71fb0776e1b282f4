"""A DataTable for many rows whose rows can flash.

Flashing: the whole row gets a background for a moment while its cells keep their own colours
(a changed cell's text keeps its phase colour and symbol).

Many rows: DataTable keys its row order, its line offsets and every rendered cell by a counter
that every cell update bumps, so at 10,000 rows each update cost a pass over every row and a
re-render of every cell on screen (measured: half a second a second of polling, and keys
waiting behind it). Here the order and offsets are kept until rows are added, removed or
cleared, `update_cells` updates many cells and forgets only their rows' renders, and the
per-cell measuring DataTable does for auto-width columns is skipped when no column is one.
Textual is pinned exactly: this leans on its 8.2.8 internals.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

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
        rows: set[RowKey] = set()
        for row_key, column_key, value in cells:
            key = RowKey(row_key)
            self._data[key][ColumnKey(column_key)] = value
            rows.add(key)
        if rows:
            self._forget_rendered(rows)
            self.refresh()

    def _forget_rendered(self, rows: set[RowKey]) -> None:
        """Drop what was rendered of these rows only. update_cell bumps the update count
        instead, which re-renders every cell on screen: a second's ages cost a key press."""
        for cache in (self._cell_render_cache, self._row_render_cache):
            for key in [k for k in cache.keys() if k[0] in rows]:  # noqa: SIM118 (not a dict)
                cache.discard(key)
        self._row_renderable_cache.clear()  # keyed by row index: cheap to make again
        self._line_cache.clear()

    def reorder(self, keys: Sequence[str]) -> None:
        """The same rows in a new order (what `sort` does, without asking every cell)."""
        row_keys = {row_key.value: row_key for row_key in self.rows}  # the table's own keys
        self._row_locations = TwoWayDict({row_keys[key]: i for i, key in enumerate(keys)})
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

    def sort(self, *columns: ColumnKey | str, **kwargs: Any) -> FlashingTable:
        super().sort(*columns, **kwargs)
        self._rows_changed()
        return self

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        if any(column.auto_width for column in self.columns.values()):
            super()._update_dimensions(new_rows)
        else:  # every width is set: only the virtual size is left to compute
            super()._update_dimensions(())
