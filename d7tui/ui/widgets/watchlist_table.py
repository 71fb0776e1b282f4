"""The list of watched requests: a view of the model's visible list, drawn a line at a time.

Filtering and sorting happen in `d7tui.watchlist`; `sync` takes the list in its new order and
keeps the cursor on the same request. Sorted by last change, news comes in at the top: a view at
the top stays there (a cursor on the first row stays on the first row; elsewhere it keeps its
request), a view scrolled away keeps its rows where they are and the header counts what came in
above ("↑ 3 new").
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice

from rich.style import Style
from rich.text import Text

from d7tui.errors import ErrorKind
from d7tui.models import Phase
from d7tui.pollstate import RateHold, WatchStatus
from d7tui.shortids import WIDEST, ShortIds
from d7tui.ui.format import (
    NOT_FOUND_SYMBOL,
    PHASE_SYMBOL,
    entry_cost,
    format_age,
    free_text,
    phase_counts_text,
)
from d7tui.ui.widgets.line_table import GAP, Column, LineTable, grow
from d7tui.watchlist import Entry

COLUMNS = (
    Column("id", "Request", 11),
    Column("channel", "Channel", 8),
    Column("label", "Label", 0),
    Column("phases", "Recipients", 10),
    Column("status", "Status", 14),
    Column("reason", "Reason", 0),
    Column("age", "Since", 5),
    Column("cost", "Cost", 9),  # "0.01 EUR", "0.0012 cr" whole
)
# Room beyond the narrowest layout goes to what tells the outcome first (Infobip's statuses
# are long, e.g. "✗ 1 failed · REJECTED_NETWORK"), then the reason, and only then the label
# (the detail's head shows it whole): at 100 columns the status and the reason are whole
# before a label gets a cell.
GROWS = (
    ("status", 22),
    ("reason", 14),
    ("status", 30),
    ("reason", 20),
    ("label", 10),
    ("cost", 10),  # "0.0123 EUR"
    ("label", 16),
    ("reason", 30),
    ("label", 20),
    ("reason", 40),
    ("label", 24),
    ("reason", 60),
    ("label", 40),
)
# The cursor's row shows a cut status or reason whole over the room the two have together,
# never over another column's: the Since and Cost of the request the user looks at were hidden
# exactly then (the detail's head shows a status or a reason too long for the row whole).
SPAN = ("status", "reason")
MAX_ID = WIDEST  # the id column at its widest


@dataclass
class RenderContext:
    """What a row's look depends on besides its entry."""

    now: float
    colours: dict[Phase, str]
    masked: bool = False
    flashing: set[str] = field(default_factory=set)
    flash_colour: str = "#5a4a00"
    # Seconds per channel before a waiting recipient is "stuck?" (the watchlist's thresholds).
    stuck_after: Mapping[str, float] = field(default_factory=dict)
    # Hosts that answered 429, by credential (the poller's `rate_holds`): their ids wait.
    rate_holds: Mapping[str, RateHold] = field(default_factory=dict)

    def stuck(self, entry: Entry) -> int:
        """How many of the entry's recipients are stuck now."""
        return entry.stuck_count(self.now, self.stuck_after) if self.stuck_after else 0

    @property
    def key(self) -> tuple[object, ...]:
        return (tuple(self.colours.values()), self.masked)


def status_cell(entry: Entry, colours: dict[Phase, str], stuck: int = 0) -> Text:
    """The status column; `stuck`: recipients waiting far longer than usual (said after it)."""
    cell = _status_cell(entry, colours)
    if stuck and entry.error is None and entry.outcome.phase is not Phase.FAILED:
        cell.append(" · stuck?", style=f"bold {colours[Phase.PENDING]}")
    return cell


def _status_cell(entry: Entry, colours: dict[Phase, str]) -> Text:
    outcome = entry.outcome
    text = outcome.text
    if entry.status is WatchStatus.AUTH or (
        entry.error is not None and entry.error.kind is not ErrorKind.NOT_FOUND
    ):
        return Text(f"⚠ {text}", style=f"bold {colours[Phase.FAILED]}")
    if entry.error is not None:  # not found (yet): the id column carries the symbol
        style = colours[Phase.FAILED] if entry.status is WatchStatus.NOT_FOUND else "dim"
        return Text(text, style=style)
    if outcome.phase is None:
        return Text(text, style="dim")
    style = colours[outcome.phase] + (" dim" if entry.status is WatchStatus.STALE else "")
    return Text(f"{PHASE_SYMBOL[outcome.phase]} {text}", style=style)


def row_cells(entry: Entry, short_id: str, ctx: RenderContext) -> tuple[Text, ...]:
    phase = entry.phase
    symbol = PHASE_SYMBOL[phase] if phase is not None else "·"
    id_style = ctx.colours[phase] if phase is not None else "dim"
    if entry.not_found:
        symbol = NOT_FOUND_SYMBOL
    elif entry.error is not None or entry.status is WatchStatus.AUTH:
        symbol = "⚠"
    if entry.problem:
        id_style = ctx.colours[Phase.FAILED]
    known = entry.channel != "auto"
    return (
        Text(f"{symbol:<2} {short_id}", style=id_style),  # ✓✓ (read) is two wide
        Text(entry.channel, style="" if known else "dim"),
        Text(free_text(entry.label, ctx.masked)),
        phase_counts_text(entry.counts, ctx.colours),
        status_cell(entry, ctx.colours, ctx.stuck(entry)),
        Text(
            free_text(entry.outcome.reason, ctx.masked),
            style="dim" if entry.error is not None else "",
        ),
        Text(format_age(ctx.now - (entry.last_change or entry.added_at))),
        Text(entry_cost(entry)),
    )


class WatchlistTable(LineTable):
    columns = COLUMNS

    def __init__(
        self,
        *,
        on_move: Callable[[], None] | None = None,
        short_ids: Callable[[], ShortIds] = ShortIds,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.rows: list[Entry] = []
        self._by_id: dict[str, int] | None = None
        self._members: int | None = None  # `sync`'s `members` when the columns were measured
        self._ctx: RenderContext | None = None
        self._on_move = on_move
        self.short_ids = short_ids  # the ids of the list shown (live or archive), told apart
        self._has_label = False
        self._has_reason = False
        self._id_width = 8
        # Requests whose news came while the view was scrolled away: the header counts those
        # above the view. Entries, not ids: counted by a scan in C of the rows above the view,
        # not through an index of every id (at 100,000 rows, ~0.1-0.7 s a repaint, once a second
        # while polls came in and every second once idle: BENCHMARKS.md §2).
        self._news_above: set[Entry] = set()
        self._above: tuple[int, int] | None = None  # (top row, how many news above it)
        self._pinned = False  # the cursor was put on its request by name, not moved by a key
        # The request the cursor was on when news put another under it (following the top), until
        # a key moves the cursor: an action pressed just then may mean that one (K7).
        self.shifted_from: str | None = None

    # -- what the table asks -------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def row_key(self, row: int) -> Hashable:
        entry = self.rows[row]
        ctx = self._ctx
        assert ctx is not None
        age = format_age(ctx.now - (entry.last_change or entry.added_at))
        short = self.short_id(entry.request_id)
        return (entry.request_id, entry.version, age, short, ctx.key, ctx.stuck(entry))

    def row_cells(self, row: int) -> Sequence[Text]:
        entry = self.rows[row]
        assert self._ctx is not None
        return row_cells(entry, self.short_id(entry.request_id), self._ctx)

    def row_style(self, row: int) -> Style | None:
        ctx = self._ctx
        if ctx is not None and ctx.flashing and self.rows[row].request_id in ctx.flashing:
            return Style(bgcolor=ctx.flash_colour)
        return None

    def header_notes(self) -> Sequence[Text]:
        above = self.news_above
        if not above:
            return ()
        return (Text(f" ↑ {above:,} new (g: top) "), Text(f"↑ {above:,} new"), Text(f"↑{above:,}"))

    def fit(self, width: int) -> dict[str, int]:
        widths = {c.key: c.least for c in COLUMNS}
        widths["id"] = 3 + self._id_width
        grows = [
            (key, most)
            for key, most in GROWS
            if (key != "label" or self._has_label) and (key != "reason" or self._has_reason)
        ]
        return grow(widths, width, grows)

    @property
    def news_above(self) -> int:
        """Rows above the view whose news came while it was scrolled away ("↑ N new")."""
        top = self.top_row
        if not self._news_above or top == 0:
            return 0
        if self._above is None or self._above[0] != top:  # counted once per move or news
            news = self._news_above
            self._above = (top, sum(map(news.__contains__, islice(self.rows, top))))
        return self._above[1]

    def cursor_widths(self, cells: Sequence[Text]) -> dict[str, int] | None:
        """A cut status or reason shown whole over the room the two columns have together:
        both when they fit, else the status (the outcome) whole and the reason in what is left;
        else the row stays as it is. The detail's head shows both whole. Every other column
        keeps its width and its cell: the selected row shows what every row shows."""
        keys = [c.key for c in COLUMNS]
        status, reason = cells[keys.index("status")], cells[keys.index("reason")]
        widths = self.widths
        if status.cell_len <= widths["status"] and reason.cell_len <= widths["reason"]:
            return None
        shown = [key for key in SPAN if widths[key] > 0]
        room = sum(widths[key] for key in shown) + len(GAP) * (len(shown) - 1)
        wide = dict(widths, **{key: 0 for key in SPAN})
        if status.cell_len + (len(GAP) + reason.cell_len if reason.cell_len else 0) <= room:
            if not reason.cell_len:
                wide["status"] = room
                return wide
            # In line with the column when the reason still fits after it, else right after.
            lined_up = widths["status"] + len(GAP) + reason.cell_len <= room
            wide["status"] = max(widths["status"], status.cell_len) if lined_up else status.cell_len
        elif widths["status"] < status.cell_len <= room:
            wide["status"] = status.cell_len  # the reason, cut, after it
        else:
            return None
        left = room - wide["status"] - len(GAP)
        if left > 0:
            wide["reason"] = left
        else:
            wide["status"] = room
        return wide

    def cursor_moved(self) -> None:
        if self._on_move is not None:
            self._on_move()

    # -- the model's list, shown ---------------------------------------------------------------

    @property
    def order(self) -> list[str]:
        return [e.request_id for e in self.rows]

    @property
    def selected(self) -> str | None:
        """The request id under the cursor."""
        if not 0 <= self.cursor < len(self.rows):
            return None
        return self.rows[self.cursor].request_id

    @property
    def following_top(self) -> bool:
        """The cursor is on the first row of a view at the top, not put on its request by
        name (an id just added), and the list has the focus: news keeps it on the first row.
        While the detail, the filter or a dialog has the focus the cursor keeps its request: what
        is read or edited there is not swapped for the newest change."""
        return self.cursor == 0 and self.top_row == 0 and not self._pinned and self.has_focus

    def move_cursor(self, row: int, *, scroll: bool = True) -> None:
        self._pinned = False  # moved by a key: a row, not a request
        self.shifted_from = None
        super().move_cursor(row, scroll=scroll)

    def row_of(self, request_id: str) -> int | None:
        return self._index.get(request_id)

    def select(self, request_id: str) -> None:
        row = self._index.get(request_id)
        if row is not None:
            self.move_cursor(row)
            self._pinned = True
            self.shifted_from = None

    def sync(
        self,
        entries: list[Entry],
        ctx: RenderContext,
        changed: set[str] | None = None,
        *,
        select: str | None = None,
        news: set[Entry] | None = None,
        members: int | None = None,
        new_view: bool = False,
    ) -> None:
        """Show `entries` in this order. `changed`: only these rows may look different (a hint:
        the other rows on screen are not painted again). `select`: put the cursor there.
        `news`: rows changed by poll results since the order was last made (a view scrolled
        away counts those that came in above it). `members`: a number that is the same as last
        time only if `entries` holds the same entries as then (None: they may be other ones).
        `new_view`: the user chose another view (a sort, a filter): what "↑ N new" counted
        belongs to the one before.

        Nothing here passes over every row unless the rows are other ones: at 100,000 rows an
        index of them all took ~40 ms (it is made only when a request is looked up by id)."""
        self._ctx = ctx
        if new_view and self._news_above:
            self._news_above.clear()
            self._above = None
            self.refresh_header()
        if entries is self.rows:  # the same list (a clock tick, news in place)
            self._paint(changed)
            if select is not None:
                self.select(select)
            return
        old_entry = self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None
        old_top, old_cursor = self.top_row, self.cursor
        following = self.following_top
        ids_changed = members is None or members != self._members
        self._members = members
        self.rows = entries
        self._by_id = None
        self._above = None
        if ids_changed:
            self._measure()
        self.rows_changed()
        # The first row of a view at the top stays the first row (the newest change, sorted by
        # last change), as in htop: a user who pressed nothing is not scrolled away. Elsewhere
        # the cursor stays on its request (else on the same row number).
        row = old_cursor
        if select is not None:
            found = self.row_of(select)
            row = min(old_cursor, len(entries) - 1) if found is None else found
        elif old_entry is not None and not following:
            row = self._row_of_entry(old_entry, min(old_cursor, len(entries) - 1))
        self.cursor = max(0, min(row, len(entries) - 1))
        row = self.cursor
        if select is not None:
            self._pinned = True
            self.scroll_to_cursor()
        elif old_top == 0:
            # At the top, news comes in at the top and the view stays there, as long as the
            # cursor's request is still on screen.
            if row >= self.page_rows:
                self.scroll_to_row(row - (old_cursor - old_top))
        else:
            # Scrolled away: the cursor's request stays at its height on screen, and the news
            # that came in above it is counted.
            self.scroll_to_row(row - (old_cursor - old_top))
            self._news_above.update(news or ())  # counted where they are above the view
            if len(self._news_above) > len(entries):  # some are not shown (any more)
                self._news_above.intersection_update(entries)
        self.refresh_header()
        if self.selected != (old_entry.request_id if old_entry is not None else None):
            # Poll news put another request under the cursor (not a view, a filter or a sort
            # the user chose: those are seen as they are asked for).
            news = news or set()
            moved_by_news = (self.selected is not None and self.rows[self.cursor] in news) or (
                old_entry is not None and old_entry in news
            )
            if following and select is None and old_entry is not None and moved_by_news:
                self.shifted_from = old_entry.request_id
            self.cursor_moved()

    @property
    def _index(self) -> dict[str, int]:
        """Row by request id, made when first asked after the rows changed."""
        if self._by_id is None:
            self._by_id = {e.request_id: i for i, e in enumerate(self.rows)}
        return self._by_id

    def _row_of_entry(self, entry: Entry, default: int) -> int:
        """The row of `entry` (the same object, else the same id), else `default`."""
        try:  # by identity: a scan in C, not an index of every id
            return self.rows.index(entry)
        except ValueError:
            return self._index.get(entry.request_id, default)

    def short_id(self, request_id: str) -> str:
        return self.short_ids().short(request_id)

    def _measure(self) -> None:
        """What the columns need: a label column only if a row has a label, an id column as
        wide as the short ids."""
        self._has_label = any(e.label for e in self.rows)
        self._has_reason = True
        self._id_width = max(8, min(MAX_ID, self.short_ids().width))
        self.refit()

    def _paint(self, changed: set[str] | None) -> None:
        if changed is None:
            self.refresh()
            return
        top = self.top_row
        for row, entry in enumerate(self.rows[top : top + self.page_rows], top):
            if entry.request_id in changed:
                self.refresh_row(row)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self._news_above:
            if int(new_value) == 0:
                self._news_above.clear()
                self._above = None
            self.refresh_header()
