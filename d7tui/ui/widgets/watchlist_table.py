"""The list of watched requests: a keyed DataTable that is only ever a view of the model.

Filtering and sorting happen in `d7tui.watchlist`; here a sync either updates the cells that
changed (same rows in the same order: the common case while polling) or rebuilds the rows and puts
the cursor back on the same request, at the same height on screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType

from d7tui.channels.errors import ErrorKind
from d7tui.models import Phase
from d7tui.poller import WatchStatus
from d7tui.ui.format import PHASE_SYMBOL, entry_cost, format_age, phase_counts_text, short_id
from d7tui.ui.widgets.flashing_table import FlashingTable
from d7tui.watchlist import Entry

# (key, header, width at the narrowest); the label column takes whatever width is left.
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("id", "Request", 10),
    ("channel", "Channel", 8),
    ("label", "Label", 8),
    ("phases", "Recipients", 10),
    ("status", "Status", 14),
    ("age", "Since", 5),
    ("cost", "Cost", 8),
)
COLUMN_KEYS = tuple(key for key, _, _ in COLUMNS)
# Room beyond the narrowest layout goes first to the status (Infobip's statuses are long, e.g.
# UNDELIVERABLE_NOT_DELIVERED), then to the label.
GROWS = (("label", 14), ("status", 20), ("label", 22), ("status", 28), ("label", 40))
IN_VIEW_MARGIN = 5  # rows drawn beyond the screen's edges, so a short scroll shows them ready
BLANK_ROW = tuple(Text() for _ in COLUMNS)  # a row not drawn yet (it is, once in view)


@dataclass
class RenderContext:
    """What a cell's look depends on besides its entry."""

    now: float
    colours: dict[Phase, str]
    masked: bool = False
    flashing: set[str] = field(default_factory=set)
    flash_colour: str = "#5a4a00"

    @property
    def colours_key(self) -> tuple[str, ...]:
        return tuple(self.colours.values())


def _signature(cell: Text) -> tuple[str, str, tuple[object, ...]]:
    return cell.plain, str(cell.style), tuple(cell.spans)


def status_cell(entry: Entry, colours: dict[Phase, str]) -> Text:
    text = entry.status_text()
    if entry.status is WatchStatus.AUTH or (
        entry.error is not None and entry.error.kind is not ErrorKind.NOT_FOUND
    ):
        return Text(f"⚠ {text}", style=f"bold {colours[Phase.FAILED]}")
    if entry.error is not None:  # not found (yet): the id column carries the "?"
        style = colours[Phase.FAILED] if entry.status is WatchStatus.NOT_FOUND else "dim"
        return Text(text, style=style)
    # The latest status in its own phase's colour and symbol (the row's symbol, in the first
    # column, is the worst phase of all its recipients).
    phase = entry.latest_phase or entry.phase
    if phase is None:
        return Text(text, style="dim")
    style = colours[phase] + (" dim" if entry.status is WatchStatus.STALE else "")
    return Text(f"{PHASE_SYMBOL[phase]} {text}", style=style)


def row_cells(entry: Entry, ctx: RenderContext) -> tuple[Text, ...]:
    phase = entry.phase
    symbol = PHASE_SYMBOL[phase] if phase is not None else "·"
    id_style = ctx.colours[phase] if phase is not None else "dim"
    if entry.not_found:
        symbol = "?"
    elif entry.error is not None or entry.status is WatchStatus.AUTH:
        symbol = "⚠"
    if entry.problem:
        id_style = ctx.colours[Phase.FAILED]
    known = entry.channel != "auto"
    counts = entry.counts
    cells = (
        Text(f"{symbol:<2}{short_id(entry.request_id)}", style=id_style),
        Text(entry.channel, style="" if known else "dim"),
        Text(entry.label),
        phase_counts_text(counts, ctx.colours),
        status_cell(entry, ctx.colours),
        Text(format_age(ctx.now - (entry.last_change or entry.added_at))),
        Text(entry_cost(entry)),
    )
    return cells


class WatchlistTable(FlashingTable):
    """Rows are drawn as they come into view: a change to a row out of sight (a poll's news,
    its age, a theme) marks it stale, and it is drawn when it is scrolled to. So a second of
    polling 10,000 requests redraws the rows on screen, not all of them."""

    # The table's own home/end scroll sideways; in a list of requests they go to its ends.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home", "scroll_top", "First", show=False),
        Binding("end", "scroll_bottom", "Last", show=False),
    ]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self._order: list[str] = []
        # What each row was drawn from, and the cells drawn (kept for rows a filter hides, so
        # that clearing the filter costs no redraw): a row is redrawn only when its key moves.
        # A row in the table holds its cells here (or BLANK_ROW, before it was ever drawn).
        self._drawn: dict[str, tuple[tuple[object, ...], tuple[Text, ...]]] = {}
        self._widths = {key: width for key, _, width in COLUMNS}
        self._synced: list[Entry] | None = None  # the list last synced
        self._entries: dict[str, Entry] = {}  # its entries, by id
        self._ctx: RenderContext | None = None
        self._stale: set[str] = set()  # rows that may be out of date: drawn when in view

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self) -> None:
        for key, header, _ in COLUMNS:
            self.add_column(header, key=key, width=self._widths[key])

    @property
    def order(self) -> list[str]:
        return list(self._order)

    @property
    def selected(self) -> str | None:
        """The request id under the cursor."""
        if not self._order or not 0 <= self.cursor_row < len(self._order):
            return None
        return self._order[self.cursor_row]

    def widths_for(self, width: int) -> dict[str, int]:
        """Column widths for a table `width` cells wide."""
        widths = {key: least for key, _, least in COLUMNS}
        padding = 2 * self.cell_padding * len(COLUMNS) + 2  # and the scrollbar
        spare = width - padding - sum(widths.values())
        for key, most in GROWS:
            grow = max(0, min(spare, most - widths[key]))
            widths[key] += grow
            spare -= grow
        return widths

    def fit_width(self, width: int, entries: list[Entry], ctx: RenderContext) -> None:
        """Give the columns the room the terminal has (a rebuild; resizes are rare)."""
        widths = self.widths_for(width)
        if widths == self._widths:
            return
        self._widths = widths
        selected = self.selected
        self.clear(columns=True)
        self._add_columns()
        self._order = []
        self._synced = None
        self.sync(entries, ctx, select=selected)

    @staticmethod
    def _draw_key(entry: Entry, ctx: RenderContext) -> tuple[object, ...]:
        age = format_age(ctx.now - (entry.last_change or entry.added_at))
        return (entry.version, age, ctx.colours_key)

    def _redraw(
        self, entry: Entry, ctx: RenderContext
    ) -> tuple[tuple[Text, ...] | None, tuple[Text, ...]] | None:
        """(the cells drawn before, the new ones) if they may differ, else None."""
        key = self._draw_key(entry, ctx)
        drawn = self._drawn.get(entry.request_id)
        if drawn is not None and drawn[0] == key:
            return None
        cells = row_cells(entry, ctx)
        self._drawn[entry.request_id] = (key, cells)
        return (drawn[1] if drawn else None), cells

    def forget(self, request_id: str) -> None:
        """The request is no longer watched: drop what was drawn for it."""
        self._drawn.pop(request_id, None)

    def sync(
        self,
        entries: list[Entry],
        ctx: RenderContext,
        changed: set[str] | None = None,
        *,
        select: str | None = None,
    ) -> None:
        """Show `entries` in this order, redrawing only rows whose entry, age, flash or theme
        changed (`changed`: a hint that only these may have), and of those only the ones in
        view. `select`: put the cursor there."""
        self.set_flashing(ctx.flashing, ctx.flash_colour)
        self._ctx = ctx
        if entries is not self._synced:  # the same list (a clock tick): the same rows
            self._synced = entries
            self._entries = {e.request_id: e for e in entries}
            order = [e.request_id for e in entries]
            if order != self._order:
                keep = select or self.selected
                if len(order) == len(self._order) and self._entries.keys() == set(self._order):
                    self._reorder(order, keep)  # the same rows (a sort moved them): no rebuild
                else:
                    self._rebuild(entries, keep)
                    return
        if changed is None:
            self._stale = set(self._order)
        else:
            self._stale.update(changed & self._entries.keys())
        self.draw_in_view()
        if select is not None and select in self._entries:
            self.move_cursor(row=self._order.index(select))

    def draw_in_view(self) -> None:
        """Bring the stale rows on screen (and a few either side) up to date."""
        if not self._stale or self._ctx is None:
            return
        top = int(self.scroll_y)
        rows = self._order[max(0, top - IN_VIEW_MARGIN) : top + self.size.height + IN_VIEW_MARGIN]
        updates: list[tuple[str, str, Text]] = []
        for request_id in rows:
            if request_id not in self._stale:
                continue
            self._stale.discard(request_id)
            redrawn = self._redraw(self._entries[request_id], self._ctx)
            if redrawn is None:
                continue
            old, cells = redrawn
            for i, cell in enumerate(cells):
                if old is None or _signature(old[i]) != _signature(cell):
                    updates.append((request_id, COLUMN_KEYS[i], cell))
        self.update_cells(updates)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        self.draw_in_view()  # before the rows that came into view are rendered
        super().watch_scroll_y(old_value, new_value)

    def on_resize(self) -> None:
        self.draw_in_view()

    def _reorder(self, order: list[str], keep: str | None) -> None:
        old_row, screen_offset = self.cursor_row, self.cursor_row - int(self.scroll_y)
        self._order = order
        self.reorder(order)
        self._keep_place(keep, old_row, screen_offset)

    def _rebuild(self, entries: list[Entry], keep: str | None) -> None:
        old_row, screen_offset = self.cursor_row, self.cursor_row - int(self.scroll_y)
        with self.app.batch_update():
            self.clear()
            self._order = []
            for entry in entries:
                # What was drawn for it last, if anything: drawn again once in view.
                drawn = self._drawn.get(entry.request_id)
                self.add_row(*(drawn[1] if drawn else BLANK_ROW), key=entry.request_id)
                self._order.append(entry.request_id)
            self._stale = set(self._order)
        self._keep_place(keep, old_row, screen_offset)

    def _keep_place(self, keep: str | None, old_row: int, screen_offset: int) -> None:
        """The cursor back on `keep` (else on the same row number), at the same height on
        screen, and the rows then in view drawn."""
        if not self._order:
            return
        if keep is not None and keep in self._entries:
            row = self._order.index(keep)
        else:
            row = min(old_row, len(self._order) - 1)
        self.move_cursor(row=row, scroll=False)
        target = max(0, row - max(0, screen_offset))
        self.draw_in_view()

        def restore_scroll() -> None:
            self.scroll_to(y=target, animate=False, immediate=True)
            if row < len(self._order):
                self.move_cursor(row=row)
            self.draw_in_view()

        self.call_after_refresh(restore_scroll)
