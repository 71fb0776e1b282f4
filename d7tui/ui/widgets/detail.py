"""The selected request: a summary, its recipients, the fields of the highlighted recipient, and
the timeline of every status change seen for it (newest first)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from d7tui.models import Phase, Recipient, Transition
from d7tui.poller import WatchStatus
from d7tui.ui.format import (
    NOT_SHOWN,
    PHASE_SYMBOL,
    channel_fields,
    entry_cost,
    fields_text,
    format_clock,
    format_cost,
    format_in,
    phase_counts_text,
    phase_text,
    recipient_text,
)
from d7tui.ui.widgets.flashing_table import FlashingTable
from d7tui.ui.widgets.text_static import TextStatic
from d7tui.ui.widgets.watchlist_table import RenderContext, status_cell
from d7tui.watchlist import Entry

RECIPIENT_COLUMNS = (
    ("recipient", "Recipient", 16),
    ("country", "CC", 3),
    ("status", "Status", 14),
    ("reason", "Reason", 24),
    ("cost", "Cost", 9),
    ("parts", "Parts", 5),
    ("scheduled", "Scheduled", 10),
    ("fields", "Channel fields", None),
)
TIMELINE_COLUMNS = (
    ("time", "Time", 8),
    ("recipient", "Recipient", 16),
    ("change", "Change", None),
    ("reason", "Reason", None),
)


def _plain(value: object) -> Text:
    return Text(NOT_SHOWN if value is None or value == "" else str(value))


class RecipientsTable(FlashingTable):
    """Recipients of the selected request; keyed by the recipient's stable key."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self.keys: list[str] = []

    def on_mount(self) -> None:
        for key, header, width in RECIPIENT_COLUMNS:
            self.add_column(header, key=key, width=width)

    @property
    def selected(self) -> str | None:
        if not self.keys or not 0 <= self.cursor_row < len(self.keys):
            return None
        return self.keys[self.cursor_row]


class TimelineTable(DataTable[Text]):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]

    def on_mount(self) -> None:
        for key, header, width in TIMELINE_COLUMNS:
            self.add_column(header, key=key, width=width)


def recipient_cells(r: Recipient, ctx: RenderContext) -> tuple[Text, ...]:
    status = phase_text(r.phase, r.status or "no status", ctx.colours)
    if not r.final and r.phase is not Phase.UNKNOWN:
        status.append("*", style="dim")
    cells = (
        Text(recipient_text(r.recipient, ctx.masked)),
        _plain(r.country),
        status,
        _plain(r.reason),
        Text(format_cost(r.cost, r.currency)),
        _plain(r.parts),
        _plain(r.schedule_time),
        fields_text(r),
    )
    return cells


def timeline_cells(t: Transition, ctx: RenderContext) -> tuple[Text, ...]:
    change = Text()
    if t.old_status is None:
        change.append("first seen: ", style="dim")
    else:
        old_phase = t.old_phase or Phase.UNKNOWN
        change.append(t.old_status, style=ctx.colours[old_phase])
        change.append(" → ")
    change.append(
        f"{PHASE_SYMBOL[t.new_phase]} {t.new_status or 'no status'}", style=ctx.colours[t.new_phase]
    )
    return (
        Text(format_clock(t.at, ctx.now)),
        Text(recipient_text(t.recipient or t.recipient_key, ctx.masked)),
        change,
        _plain(t.reason),
    )


class DetailPane(Vertical):
    """Shows one Entry; `show` is cheap to call again when nothing changed."""

    ALLOW_MAXIMIZE = True

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.entry: Entry | None = None
        self._shown_state: object = None
        self._shown_timeline: tuple[int, object] = (0, None)
        self._shown_mask: bool | None = None
        self._ctx: RenderContext | None = None

    def compose(self) -> ComposeResult:
        yield TextStatic(
            Text("Select a request to see its recipients.", style="dim"), id="detail-head"
        )
        yield RecipientsTable(id="recipients")
        yield TextStatic(id="recipient-fields")
        yield Static(Text("Timeline", style="bold"), id="timeline-title")
        yield TimelineTable(id="timeline")

    def show(
        self, entry: Entry | None, ctx: RenderContext, flashing: set[str] | None = None
    ) -> None:
        """Show `entry` (None: nothing selected). `flashing`: recipient keys just changed."""
        flash = frozenset(flashing or ())
        same = entry is self.entry
        self._ctx = ctx
        self.entry = entry
        self.query_one("#detail-head", TextStatic).show_text(self._head(entry, ctx))
        recipients = self.query_one(RecipientsTable)
        timeline = self.query_one(TimelineTable)
        if entry is None:
            recipients.clear()
            recipients.keys = []
            timeline.clear()
            self._shown_state = None
            self._shown_timeline = (0, None)
            self._show_fields(ctx)
            return
        state = entry.state
        recipients.set_flashing(
            [k for k in recipients.keys if k.split("#", 1)[0] in flash], ctx.flash_colour
        )
        if not same or state is not self._shown_state or ctx.masked != self._shown_mask:
            keep = recipients.selected if same else None
            rows = state.recipients if state is not None else ()
            with self.app.batch_update():
                recipients.clear()
                recipients.keys = []
                for r in rows:
                    key = r.key or f"#{len(recipients.keys)}"
                    if key in recipients.keys:  # two reports without ids: keep both
                        key = f"{key}#{len(recipients.keys)}"
                    recipients.add_row(*recipient_cells(r, ctx), key=key)
                    recipients.keys.append(key)
            if keep in recipients.keys:
                recipients.move_cursor(row=recipients.keys.index(keep))
            self._shown_state = state
            recipients.set_flashing(
                [k for k in recipients.keys if k.split("#", 1)[0] in flash], ctx.flash_colour
            )
        marker = (len(entry.timeline), entry.timeline[-1] if entry.timeline else None)
        if not same or marker != self._shown_timeline or ctx.masked != self._shown_mask:
            with self.app.batch_update():
                timeline.clear()
                for t in reversed(entry.timeline):
                    timeline.add_row(*timeline_cells(t, ctx))
            self._shown_timeline = marker
        self._shown_mask = ctx.masked
        self._show_fields(ctx)

    def _show_fields(self, ctx: RenderContext) -> None:
        """Every field of the highlighted recipient, one per line, wrapped: nothing cropped."""
        box = self.query_one("#recipient-fields", TextStatic)
        entry = self.entry
        key = self.query_one(RecipientsTable).selected
        recipient = None
        if entry is not None and entry.state is not None and key is not None:
            recipient = next(
                (r for r in entry.state.recipients if r.key and key.startswith(r.key)), None
            )
        if recipient is None:
            box.show_text(Text())
            return
        text = Text()
        text.append(recipient_text(recipient.recipient, ctx.masked), style="bold")
        text.append("  ")
        text.append_text(phase_text(recipient.phase, recipient.status or "no status", ctx.colours))
        if recipient.reason:
            text.append("  ")
            text.append(recipient.reason)
        if recipient.msg_id:
            text.append("\nmsg_id ", style="dim")
            text.append(recipient.msg_id)
        for name, value in channel_fields(recipient):
            text.append(f"\n{name} ", style="dim")
            text.append(value, style="bold" if name == "action" else "")
        box.show_text(text)

    def on_descendant_focus(self) -> None:
        self.add_class("-inside")
        self._refresh_head()

    def on_descendant_blur(self) -> None:
        self.remove_class("-inside")
        self._refresh_head()

    def _refresh_head(self) -> None:
        if self._ctx is not None:
            self.query_one("#detail-head", TextStatic).show_text(self._head(self.entry, self._ctx))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if isinstance(event.data_table, RecipientsTable) and self._ctx is not None:
            self._show_fields(self._ctx)

    def _head(self, entry: Entry | None, ctx: RenderContext) -> Text:
        if entry is None:
            return Text("Select a request to see its recipients.", style="dim")
        text = Text()
        text.append(entry.request_id, style="bold")
        text.append(f"  {entry.channel}")
        if entry.target.is_infobip:
            text.append(f" {entry.target.id_kind.value}", style="dim")
        if entry.label:
            text.append("  ")
            text.append(entry.label, style="italic")
        if self.has_class("-inside"):
            text.append("  (esc: back)", style="dim")
        text.append("\n")
        counts = entry.counts
        summary = phase_counts_text(counts, ctx.colours)
        if summary:
            text.append_text(summary)
            text.append("  ")
        text.append_text(status_cell(entry, ctx.colours))
        cost = entry_cost(entry)
        if cost:
            text.append(f"  cost {cost}")
        text.append("\n")
        text.append(_schedule_line(entry, ctx.now), style="dim")
        if entry.error is not None:
            text.append("\n")
            text.append(f"⚠ {entry.error}", style=ctx.colours[Phase.FAILED])
        return text


def _schedule_line(entry: Entry, now: float) -> str:
    polled = (
        f"polled {format_clock(entry.last_poll, now)} ({entry.polls}×)"
        if entry.last_poll is not None
        else "not polled yet"
    )
    if entry.status is WatchStatus.DONE:
        nxt = "every recipient final: no more polls (r polls again)"
    elif entry.status is WatchStatus.STALE:
        nxt = "stale: given up (r polls again)"
    elif entry.status is WatchStatus.MEMORY:
        nxt = "from memory: Infobip keeps messages 48 hours, so it is not asked again"
    elif entry.status is WatchStatus.NOT_FOUND:
        nxt = "not found: given up (r polls again)"
    elif entry.status is WatchStatus.AUTH:
        nxt = "held: credential refused"
    elif entry.next_due is not None:
        nxt = f"next poll in {format_in(entry.next_due - now)}"
    else:
        nxt = "polling now"
    return f"added {format_clock(entry.added_at, now)} · {polled} · {nxt}"
