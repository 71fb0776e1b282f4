"""The `/` filter: an input shown at the bottom while filtering, one line high (bordered it took
3 of the list's ~7 rows at 80×24, and stays shown after enter while the filter holds)."""

from __future__ import annotations

from textual.widgets import Input


class FilterBar(Input):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(
            placeholder="filter: id, label, recipient or status — enter keeps it, esc clears",
            compact=True,
            **kwargs,  # type: ignore[arg-type]
        )
