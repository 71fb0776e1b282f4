"""The `/` filter: an input shown at the bottom while filtering."""

from __future__ import annotations

from textual.widgets import Input


class FilterBar(Input):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(
            placeholder="filter: id, label, recipient or status — enter keeps it, esc clears",
            **kwargs,  # type: ignore[arg-type]
        )
