"""The `/` filter: an input shown at the bottom while filtering, one line high (bordered it took
3 of the list's ~7 rows at 80×24, and stays shown after enter while the filter holds)."""

from __future__ import annotations

from textual import events
from textual.widgets import Input


class FilterBar(Input):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(
            placeholder="filter: id, label, recipient or status — enter keeps it, esc clears",
            compact=True,
            **kwargs,  # type: ignore[arg-type]
        )
        # Keys typed after enter, before the focus moved to the list: the app hands each key
        # to the focused widget as it comes, and the enter's binding runs only once the key
        # came back up from here; a fast `/ promo enter j j` typed both `j` into the filter.
        self._after_enter: list[events.Key] | None = None

    def on_key(self, event: events.Key) -> None:
        if self._after_enter is not None:
            event.prevent_default()  # not typed into the filter
            event.stop()
            self._after_enter.append(event)
        elif event.key == "enter":  # on its way up to its binding (submit)
            self._after_enter = []

    def on_focus(self) -> None:
        self._after_enter = None

    def on_blur(self) -> None:
        """The keys typed after enter go where the focus went, in their order, as typed."""
        held, self._after_enter = self._after_enter or [], None
        for key in held:
            again = events.Key(key.key, key.character)
            again.time = key.time  # when it was typed (the paste guard reads it)
            self.app.post_message(again)
