"""A table that draws only the lines on screen, on Textual's public line API (`ScrollView` +
`render_line`, as Textual's own `Log` does).

Why not `DataTable`: it keeps its row order, line offsets and every rendered cell keyed by a
counter that any cell update bumps, so at 10,000 rows each poll result cost a pass over every
row, and making it fast meant reaching into its private caches (which move with every release:
that is how the list crashed). Here the rows are whatever the subclass says they are, asked only
for the lines being painted; a line is drawn again only when its subclass's `row_key` moves.

Subclasses give `row_count`, `row_key(row)` (what the line's look depends on) and
`row_cells(row)`; the header is line 0 and does not scroll away. A move of the cursor calls
`cursor_moved()` at once (the same frame as the cursor's own repaint) and posts `Moved`.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from d7tui.ui.edge import Guarded

GAP = " "  # between two columns
MAX_CACHED = 2000  # rendered lines kept: a few screens' worth
LEAST_SHOWN = 6  # a column that starts at no width appears only with at least this much


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    header: str
    least: int  # width at the narrowest (0: the column may disappear)


def grow(widths: dict[str, int], width: int, grows: Sequence[tuple[str, int]]) -> dict[str, int]:
    """`widths` given the room `width` leaves, step by step as `grows` says; what is left goes
    to the last column. A column at no width stays out unless it can be given enough."""
    widths = dict(widths)
    shown = sum(1 for w in widths.values() if w > 0)
    spare = width - sum(widths.values()) - len(GAP) * max(0, shown - 1)
    for key, most in grows:
        gap = len(GAP) if widths[key] == 0 else 0  # a column appearing needs its gap
        more = min(spare - gap, most - widths[key])
        if more <= 0 or (widths[key] == 0 and more < min(LEAST_SHOWN, most)):
            continue
        widths[key] += more
        spare -= more + gap
    last = next(reversed(widths))
    if spare > 0 and widths[last] > 0:
        widths[last] += spare
    return widths


class TableMessage(Message):
    def __init__(self, table: LineTable) -> None:
        super().__init__()
        self.table = table

    @property
    def control(self) -> LineTable:
        return self.table


class LineTable(Guarded, ScrollView, can_focus=True):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "line-table--header",
        "line-table--cursor",
        "line-table--note",
        "line-table--thumb",
    }
    DEFAULT_CSS = """
    LineTable {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        /* The table draws its own scroll bar, beside the rows only: Textual's would run over
           the header (line 0 of the scrolled content), and a bar that appears or goes as rows
           come and go would change the columns' room. */
        overflow-y: hidden;
        scrollbar-size-vertical: 0;
        & > .line-table--header { text-style: bold; background: $panel; color: $foreground; }
        & > .line-table--note { text-style: bold; background: $accent; color: $text; }
        & > .line-table--thumb { color: $scrollbar; }
        & > .line-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
        }
        &:focus > .line-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: bold;
        }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False, id="d7tui.cursor_up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="d7tui.cursor_down"),
        Binding("pageup", "page_up", "Page up", show=False, id="d7tui.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="d7tui.page_down"),
        Binding("home,g", "first", "First", show=False, id="d7tui.first"),
        Binding("end,G", "last", "Last", show=False, id="d7tui.last"),
    ]

    class Moved(TableMessage):
        """The cursor is on another row."""

    class Chosen(TableMessage):
        """Enter, or a click on the row under the cursor."""

    columns: tuple[Column, ...] = ()
    # Room beyond the columns' least widths, given in this order: (column, up to this width).
    # What is left after the last goes to the last column.
    grows: tuple[tuple[str, int], ...] = ()

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.cursor = 0
        self.widths: dict[str, int] = {c.key: c.least for c in self.columns}
        self._cache: dict[tuple[Hashable, ...], Strip] = {}
        self._width_key: tuple[int, ...] = ()
        self._base: Style | None = None  # `rich_style`, kept until the styles change
        self._parts: dict[tuple[str, bool], Style] = {}  # component styles, the same way
        self._header_drawn: tuple[Hashable, Strip] | None = None

    # -- what subclasses say ---------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        raise NotImplementedError

    def row_key(self, row: int) -> Hashable:
        """Everything a row's cells depend on: the line is drawn again when this moves."""
        raise NotImplementedError

    def row_cells(self, row: int) -> Sequence[Text]:
        raise NotImplementedError

    def row_style(self, row: int) -> Style | None:
        """A background for the whole row (a flash), or None."""
        return None

    def header_notes(self) -> Sequence[Text]:
        """A hint for the header, longest form first: the first that fits in the blank of a
        column's header is shown there (never over a column's name)."""
        return ()

    def fit(self, width: int) -> dict[str, int]:
        """Column widths for `width` cells (the gaps between columns included)."""
        return grow({c.key: c.least for c in self.columns}, width, self.grows)

    def cursor_widths(self, cells: Sequence[Text]) -> dict[str, int] | None:
        """Other column widths for the cursor's row (to show a cut cell whole), or None."""
        return None

    def cursor_moved(self) -> None:
        """Called as soon as the cursor is on another row (before the next paint)."""

    # -- size and shape ----------------------------------------------------------------------------

    @property
    def content_width(self) -> int:
        # The last column is the scroll bar's, always kept.
        return max(0, self.size.width - 1)

    @property
    def allow_vertical_scroll(self) -> bool:
        # The mouse wheel scrolls, though Textual's own bar is hidden (overflow-y: hidden).
        return not self.disabled and self.max_scroll_y > 0

    @property
    def page_rows(self) -> int:
        """Rows that fit under the header."""
        return max(1, self.size.height - 1)

    @property
    def top_row(self) -> int:
        """The first row on screen."""
        return int(self.scroll_y)

    def rows_changed(self) -> None:
        """The number of rows may have changed: the scrollable size follows, the cursor stays
        within the rows, everything is painted again."""
        # At least a screen high: a shorter list keeps its size (no layout for a list that
        # shrinks from 5 rows to 3 as the cursor passes requests).
        height = max(self.row_count + 1, self.size.height)
        if self.virtual_size.height != height or self.virtual_size.width != self.content_width:
            self.virtual_size = Size(self.content_width, height)
        self.cursor = max(0, min(self.cursor, self.row_count - 1))
        self.refresh()

    def refit(self) -> None:
        # One blank cell before the scroll bar: a full last column ("0.0012 cr") must not
        # touch the thumb and read as one word with it.
        widths = self.fit(max(0, self.content_width - 1))
        if widths != self.widths:
            self.widths = widths
            self._cache.clear()
        self._width_key = tuple(widths[c.key] for c in self.columns)

    def on_resize(self) -> None:
        self.refit()
        self.rows_changed()
        self.scroll_to_cursor()

    def on_mount(self) -> None:
        self.refit()
        self.rows_changed()

    # -- the cursor ----------------------------------------------------------------------------

    def move_cursor(self, row: int, *, scroll: bool = True) -> None:
        row = max(0, min(row, self.row_count - 1))
        if row != self.cursor:
            self.refresh_row(self.cursor)
            self.cursor = row
            self.refresh_row(row)
            if scroll:
                self.scroll_to_cursor()
            self.cursor_moved()
            self.post_message(self.Moved(self))
        elif scroll:
            self.scroll_to_cursor()

    def scroll_to_cursor(self) -> None:
        top = self.top_row
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + self.page_rows:
            self.scroll_to(y=self.cursor - self.page_rows + 1, animate=False, immediate=True)

    def scroll_to_row(self, top: int) -> None:
        """Put `top` as the first row on screen (as far as the list allows)."""
        self.scroll_to(y=max(0, top), animate=False, immediate=True)

    def refresh_row(self, row: int) -> None:
        self.refresh_line(row + 1)  # line 0 is the header

    def refresh_header(self) -> None:
        self.refresh(Region(0, 0, self.size.width, 1))  # it does not scroll

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor - self.page_rows)

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor + self.page_rows)

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(self.row_count - 1)

    def action_choose(self) -> None:
        if self.row_count:
            self.post_message(self.Chosen(self))

    async def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        row = self.top_row + offset.y - 1
        if not 0 <= row < self.row_count:
            return
        if row == self.cursor:
            self.action_choose()
        else:
            self.move_cursor(row)

    # -- drawing -------------------------------------------------------------------------------

    @property
    def base_style(self) -> Style:
        """The table's own style. Textual works `rich_style` out afresh on every call (a walk up
        the ancestors): kept here, it is asked once per change of style, not once per line."""
        if self._base is None:
            self._base = self.rich_style
        return self._base

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._base = None
        self._parts.clear()
        self._header_drawn = None

    def part_style(self, name: str) -> Style:
        """A component class's style (`get_component_rich_style`, a walk of the styles on each
        call: once a line for the cursor and the thumb), kept until the styles change."""
        key = (name, self.has_focus)  # the cursor's colours follow the focus
        style = self._parts.get(key)
        if style is None:
            style = self._parts[key] = self.get_component_rich_style(name)
        return style

    def render_line(self, y: int) -> Strip:
        width = self.content_width
        base = self.base_style
        if y == 0:
            return Strip.join([self._header().crop_extend(0, width, base), self._bar(-1)])
        row = self.top_row + y - 1
        if not 0 <= row < self.row_count:
            return Strip.join([Strip.blank(width, base), self._bar(y - 1)])
        strip = self._row_strip(row, row == self.cursor)
        style = base
        extra = self.row_style(row)
        if extra is not None:
            style = style + extra
        if row == self.cursor:
            style = style + self.part_style("line-table--cursor")
        return Strip.join([strip.apply_style(style).crop_extend(0, width, style), self._bar(y - 1)])

    def _bar(self, line: int) -> Strip:
        """The scroll bar's cell on the `line`th row line (-1: the header's, always blank): the
        thumb shows which part of the rows is on screen, only when they do not all fit."""
        base = self.base_style
        rows, page = self.row_count, self.page_rows
        if line < 0 or rows <= page:
            return Strip.blank(1, base)
        size = max(1, round(page * page / rows))
        start = round(self.top_row * (page - size) / max(1, rows - page))
        if start <= line < start + size:
            thumb = base + self.part_style("line-table--thumb")
            return Strip([Segment("▐", thumb)], 1)
        return Strip.blank(1, base)

    def _cells_strip(self, cells: Sequence[Text], widths: dict[str, int] | None = None) -> Strip:
        line = Text(no_wrap=True, end="")
        for column, cell in zip(self.columns, cells, strict=False):
            width = (widths or self.widths).get(column.key, 0)
            if width <= 0:
                continue
            if line:
                line.append(GAP)
            cell = cell.copy()
            cell.no_wrap = True
            cell.truncate(width, overflow="ellipsis", pad=True)
            line.append_text(cell)
        return Strip(list(line.render(self.app.console, end="")), line.cell_len)

    def _row_strip(self, row: int, cursor: bool = False) -> Strip:
        key = (self.row_key(row), self._width_key, cursor)
        strip = self._cache.get(key)
        if strip is None:
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            cells = self.row_cells(row)
            widths = self.cursor_widths(cells) if cursor else None
            strip = self._cache[key] = self._cells_strip(cells, widths)
        return strip

    def _header(self) -> Strip:
        # Drawn again only when the columns or the hint move (every repaint of the table
        # repaints line 0, and a header took as long to draw as the rows on screen).
        key = (self._width_key, self.content_width, tuple(n.plain for n in self.header_notes()))
        if self._header_drawn is None or self._header_drawn[0] != key:
            self._header_drawn = (key, self._draw_header())
        return self._header_drawn[1]

    def _draw_header(self) -> Strip:
        style = self.get_component_rich_style("line-table--header")
        strip = self._cells_strip([Text(c.header) for c in self.columns])
        strip = strip.extend_cell_length(self.content_width)
        place = self._note_place()
        if place is not None:
            note, start = place
            note_style = self.get_component_rich_style("line-table--note")
            segments = list(note.render(self.app.console, end=""))
            strip = Strip.join(
                [
                    strip.crop(0, start),
                    Strip(Segment.apply_style(segments, note_style), note.cell_len),
                    strip.crop(start + note.cell_len, self.content_width),
                ]
            )
        return strip.apply_style(style)

    def _note_place(self) -> tuple[Text, int] | None:
        """The header's hint and where it starts: right-aligned in the column whose header
        leaves the most blank (a name stays readable, with a space after it)."""
        notes = self.header_notes()
        if not notes:
            return None
        blanks: list[tuple[int, int]] = []  # (blank cells, where the column ends)
        x = 0
        for column in self.columns:
            width = self.widths.get(column.key, 0)
            if width <= 0:
                continue
            blanks.append((width - len(column.header) - 1, x + width))
            x += width + len(GAP)
        room, end = max(blanks, default=(0, 0))
        note = next((n for n in notes if n.cell_len <= room), None)
        return (note, end - note.cell_len) if note is not None else None

    def forget_drawn(self) -> None:
        """Draw every row again (the rows are other ones; the header stays as it is)."""
        self._cache.clear()
        self.refresh()
