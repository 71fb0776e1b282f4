"""The selected request: a summary, its recipients, the fields of the highlighted recipient, and
the timeline of every status change seen for it (newest first)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll

from d7tui.explain import Explanation, Outcome, explain
from d7tui.models import NO_LONGER_LISTED, UNLISTED, Channel, Phase, Recipient, Transition
from d7tui.pollstate import RateHold, WatchStatus, credential_of
from d7tui.safety import one_line, safe_text
from d7tui.ui.bindings import key_label
from d7tui.ui.edge import Guarded
from d7tui.ui.fields import channel_fields, fields_text, request_fields
from d7tui.ui.format import (
    NOT_SHOWN,
    PHASE_SYMBOL,
    cost_text,
    entry_cost,
    format_clock,
    format_in,
    format_parts,
    free_text,
    phase_counts_text,
    phase_text,
    rate_wait,
    recipient_text,
)
from d7tui.ui.widgets.line_table import Column, LineTable
from d7tui.ui.widgets.text_static import TextStatic
from d7tui.ui.widgets.watchlist_table import RenderContext, status_cell
from d7tui.watchlist import Entry

RECIPIENT_COLUMNS = (
    Column("recipient", "Recipient", 14),
    Column("country", "CC", 0),
    Column("status", "Status", 16),
    Column("reason", "Reason", 16),
    Column("cost", "Cost", 9),
    Column("parts", "Parts", 0),
    Column("scheduled", "Scheduled", 0),
    Column("fields", "Channel fields", 0),
)
TIMELINE_COLUMNS = (
    Column("time", "Time", 8),
    Column("recipient", "Recipient", 16),
    Column("change", "Change", 30),
    Column("reason", "Reason", 0),
)
# The status and the reason first: they are what a support engineer reads.
RECIPIENT_GROWS = (
    ("status", 24),
    ("reason", 30),
    ("recipient", 16),
    ("country", 2),
    ("status", 30),
    ("reason", 40),
    ("parts", 5),
    ("scheduled", 10),
    ("fields", 24),
    ("reason", 60),
)
TIMELINE_GROWS = (("change", 44), ("reason", 40), ("change", 60))


def _plain(value: object) -> Text:
    return Text(NOT_SHOWN if value is None or value == "" else str(value))


class RecipientsTable(LineTable):
    """Recipients of the selected request, each keyed by the recipient's stable key."""

    columns = RECIPIENT_COLUMNS
    grows = RECIPIENT_GROWS

    def __init__(self, *, on_move: Callable[[], None] | None = None, id: str | None = None):
        super().__init__(id=id)
        self.recipients: tuple[Recipient, ...] = ()
        self.keys: list[str] = []
        self.flashing: frozenset[str] = frozenset()
        self._ctx: RenderContext | None = None
        self._on_move = on_move

    def show(self, recipients: tuple[Recipient, ...], ctx: RenderContext, keep: bool) -> None:
        selected = self.selected if keep else None
        self.recipients = recipients
        self._ctx = ctx
        keys: list[str] = []
        seen: set[str] = set()  # not `in keys`: 20,000 recipients made that 200 million looks
        for r in recipients:
            key = r.key or f"#{len(keys)}"
            if key in seen:  # two reports without ids: keep both
                key = f"{key}#{len(keys)}"
            keys.append(key)
            seen.add(key)
        self.keys = keys
        self.forget_drawn()  # rows are keyed by the recipients' identity: these are new ones
        self.cursor = keys.index(selected) if selected in keys else 0
        self.rows_changed()
        if not keep:
            self.scroll_to_row(0)

    @property
    def row_count(self) -> int:
        return len(self.recipients)

    def row_key(self, row: int) -> Hashable:
        assert self._ctx is not None
        return (id(self.recipients[row]), self._ctx.key)

    def row_cells(self, row: int) -> Sequence[Text]:
        assert self._ctx is not None
        return recipient_cells(self.recipients[row], self._ctx)

    def row_style(self, row: int) -> Style | None:
        if self.flashing and self.keys[row].split("#", 1)[0] in self.flashing:
            assert self._ctx is not None
            return Style(bgcolor=self._ctx.flash_colour)
        return None

    def cursor_moved(self) -> None:
        if self._on_move is not None:
            self._on_move()

    @property
    def selected(self) -> str | None:
        if not 0 <= self.cursor < len(self.keys):
            return None
        return self.keys[self.cursor]

    @property
    def selected_recipient(self) -> Recipient | None:
        if not 0 <= self.cursor < len(self.recipients):
            return None
        return self.recipients[self.cursor]


class TimelineTable(LineTable):
    """Every status change seen for the request, newest first."""

    columns = TIMELINE_COLUMNS
    grows = TIMELINE_GROWS

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.transitions: list[Transition] = []
        self._ctx: RenderContext | None = None

    def show(self, transitions: list[Transition], ctx: RenderContext, keep: bool) -> None:
        self.transitions = transitions
        self._ctx = ctx
        if not keep:
            self.cursor = 0
            self.scroll_to_row(0)
        self.rows_changed()

    @property
    def row_count(self) -> int:
        return len(self.transitions)

    def row_key(self, row: int) -> Hashable:
        assert self._ctx is not None
        transition = self.transitions[row]
        return (transition, format_clock(transition.at, self._ctx.now), self._ctx.key)

    def row_cells(self, row: int) -> Sequence[Text]:
        assert self._ctx is not None
        return timeline_cells(self.transitions[row], self._ctx)


def recipient_cells(r: Recipient, ctx: RenderContext) -> tuple[Text, ...]:
    status = phase_text(r.phase, r.status or "no status", ctx.colours)
    if not r.final and r.phase is not Phase.UNKNOWN:
        status.append("*", style="dim")
    if r.problem == UNLISTED:  # its last known state, kept: the API no longer lists it
        status.append(f" · {NO_LONGER_LISTED}", style="dim")
    cells = (
        Text(recipient_text(r.recipient, ctx.masked)),
        _plain(r.country),
        status,
        _plain(r.reason and free_text(r.reason, ctx.masked)),
        Text(cost_text(r.cost, r.currency)),
        Text(format_parts(r.parts)),
        _plain(r.schedule_time),
        fields_text(r, masked=ctx.masked),
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
        _plain(t.reason and free_text(t.reason, ctx.masked)),
    )


class FieldsBox(VerticalScroll):
    """The highlighted recipient's every field: it scrolls, and takes focus (tab from the
    recipients) so that arrows and page keys read a long list of fields whole."""

    def compose(self) -> ComposeResult:
        yield TextStatic(id="recipient-fields-text")

    def show_text(self, text: Text) -> None:
        self.query_one(TextStatic).show_text(text)

    @property
    def text(self) -> Text:
        return self.query_one(TextStatic).text


class DetailPane(Guarded, Vertical):
    """Shows one Entry. `show` is cheap to call again, and costs no layout: the cursor passing a
    request paints the head and the rows on screen, nothing is rebuilt."""

    ALLOW_MAXIMIZE = True

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.entry: Entry | None = None
        self._shown_state: object = None
        self._shown_timeline: tuple[int, object] = (0, None)
        self._shown_key: object = None
        self._ctx: RenderContext | None = None
        self.head_lines = 4  # the head's least height (the screen's layout sets it)
        self.hints: Callable[[Entry], str | None] = lambda entry: None  # what to do, if known
        # The balance of the account a channel spends from, as the status line says it.
        self.balance: Callable[[str], str | None] = lambda channel: None
        self.keys: Callable[[str], str] = key_label  # an action's key, after the [keymap]

    def compose(self) -> ComposeResult:
        yield TextStatic(
            Text("Select a request to see its recipients.", style="dim"),
            id="detail-head",
        )
        yield RecipientsTable(id="recipients", on_move=self._recipient_moved)
        yield FieldsBox(id="recipient-fields")
        yield TextStatic(Text("Timeline", style="bold"), id="timeline-title", fixed=True)
        yield TimelineTable(id="timeline")

    def show(
        self, entry: Entry | None, ctx: RenderContext, flashing: set[str] | None = None
    ) -> None:
        """Show `entry` (None: nothing selected). `flashing`: recipient keys just changed."""
        same = entry is self.entry
        self._ctx = ctx
        self.entry = entry
        self.query_one("#detail-head", TextStatic).show_text(self._head(entry, ctx))
        recipients = self.query_one(RecipientsTable)
        timeline = self.query_one(TimelineTable)
        flash = frozenset(flashing or ())
        if flash != recipients.flashing:
            recipients.flashing = flash
            recipients.refresh()
        state = entry.state if entry is not None else None
        if not same or state is not self._shown_state or ctx.key != self._shown_key:
            recipients.show(state.recipients if state is not None else (), ctx, keep=same)
            self._shown_state = state
        marker = (
            (len(entry.timeline), entry.timeline[-1] if entry.timeline else None)
            if entry is not None
            else (0, None)
        )
        if not same or marker != self._shown_timeline or ctx.key != self._shown_key:
            shown = list(reversed(entry.timeline)) if entry is not None else []
            timeline.show(shown, ctx, keep=same)
            self._shown_timeline = marker
        self._shown_key = ctx.key
        self._show_fields(ctx)

    def _recipient_moved(self) -> None:
        if self._ctx is not None:
            self._show_fields(self._ctx)

    @property
    def selected_recipient(self) -> Recipient | None:
        return self.query_one(RecipientsTable).selected_recipient

    def _show_fields(self, ctx: RenderContext) -> None:
        """Every field of the request and of the highlighted recipient, one per line, wrapped:
        nothing cropped (the box scrolls, and tab moves into it)."""
        box = self.query_one(FieldsBox)
        recipient = self.selected_recipient if self.entry is not None else None
        if recipient is None:
            box.show_text(Text())
            return
        text = Text()
        state = self.entry.state if self.entry is not None else None
        if state is not None:
            for name, value in request_fields(state):
                text.append(f"{name} ", style="dim")
                text.append(value)
                text.append("  ")
            if text:
                text.append("\n")
        text.append(recipient_text(recipient.recipient, ctx.masked), style="bold")
        text.append("  ")
        text.append_text(phase_text(recipient.phase, recipient.status or "no status", ctx.colours))
        if recipient.reason:
            text.append("  ")
            text.append(free_text(recipient.reason, ctx.masked))
        if recipient.msg_id:
            text.append("\nmsg_id ", style="dim")
            text.append(recipient.msg_id)
        entry = self.entry
        assert entry is not None
        channel = entry.state.channel.value if entry.state is not None else entry.channel
        explained = explain(channel, recipient)
        if explained is not None:
            text.append_text(self._explanation(explained, channel, ctx))
        for stuck in entry.stuck(ctx.now, ctx.stuck_after):
            if stuck.recipient is recipient:
                text.append("\nstuck? ", style=f"bold {ctx.colours[Phase.PENDING]}")
                text.append(stuck.why)
        for name, value in channel_fields(recipient, everything=True, masked=ctx.masked):
            text.append(f"\n{name} ", style="dim")
            text.append(value, style="bold" if name == "action" else "")
        box.show_text(text)

    def _explanation(self, explained: Explanation, channel: str, ctx: RenderContext) -> Text:
        """What the status means, permanent or temporary, and what to do next."""
        phase = {
            Outcome.SUCCESS: Phase.DELIVERED,
            Outcome.IN_PROGRESS: Phase.PENDING,
            Outcome.TEMPORARY: Phase.FAILED,
            Outcome.PERMANENT: Phase.FAILED,
        }.get(explained.outcome, Phase.UNKNOWN)
        text = Text("\n")
        text.append(explained.outcome.value, style=f"bold {ctx.colours[phase]}")
        if not explained.known:
            text.append(f" (not in d7tui's table: {explained.code})", style="dim")
        text.append(": ")
        text.append(explained.meaning)
        text.append("\nnext ", style="dim")
        text.append(explained.next_step)
        if explained.credit:
            vendor = "infobip" if channel == Channel.INFOBIP.value else "d7"
            balance = self.balance(vendor)
            text.append(f"\nbalance now {balance}" if balance else "\nbalance not read yet")
        return text

    def on_descendant_focus(self) -> None:
        self.add_class("-inside")
        self._refresh_head()

    def on_descendant_blur(self) -> None:
        self.remove_class("-inside")
        self._refresh_head()

    def on_resize(self) -> None:
        self._refresh_head()  # the first line is cut to the new width

    def _refresh_head(self) -> None:
        if self._ctx is not None:
            self.query_one("#detail-head", TextStatic).show_text(self._head(self.entry, self._ctx))

    def _head(self, entry: Entry | None, ctx: RenderContext) -> Text:
        """The request in a few lines, at least `head_lines` (a head that keeps its height
        costs no layout as the cursor moves). The first line is cut to the width (the id is
        whole; a long label is whole in the list and in `l`); the others wrap, and the head
        grows rather than lose one."""
        if entry is None:
            return Text("Select a request to see its recipients.", style="dim")
        lines = [self._title(entry, ctx.masked)]
        outcome_line = Text()
        summary = phase_counts_text(entry.counts, ctx.colours)
        if summary:
            outcome_line.append_text(summary)
            outcome_line.append("  ")
        outcome_line.append_text(status_cell(entry, ctx.colours, ctx.stuck(entry)))
        outcome = entry.outcome
        if outcome.reason and entry.error is None:
            outcome_line.append(" — ")
            outcome_line.append(free_text(outcome.reason, ctx.masked))
        cost = entry_cost(entry, wide=True)
        if cost:
            # "cost 0.02 EUR" is read as one: it starts a line of its own rather than break.
            tag = f"cost {cost}"
            width = self._head_width()
            last = outcome_line.wrap(self.app.console, width)[-1] if width > 0 else None
            fits = last is None or last.cell_len + 2 + len(tag) <= width
            outcome_line.append(("  " if fits else "\n") + tag, style="dim")
        lines.append(outcome_line)
        if entry.error is not None:
            lines.append(Text(f"⚠ {entry.error}", style=ctx.colours[Phase.FAILED]))
        hint = self.hints(entry)
        if hint:
            lines.append(Text(hint, style="italic"))
        if entry.note:
            note = Text("note ", style="dim")
            note.append(free_text(entry.note, ctx.masked))
            lines.append(note)
        who = _who_line(entry, ctx.now)
        if who:
            lines.append(Text(who, style="dim"))
        hold = ctx.rate_holds.get(credential_of(entry.channel))
        lines.append(Text(_schedule_line(entry, ctx.now, hold), style="dim"))
        lines.extend(Text() for _ in range(self.head_lines - len(lines)))
        return Text("\n").join(lines)

    def _title(self, entry: Entry, masked: bool) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(entry.request_id, style="bold")
        text.append(f"  {entry.channel}")
        if entry.target.is_infobip:
            text.append(f" {entry.target.id_kind.value}", style="dim")
        if entry.label:  # before the key hint: the label is the user's only word for the id
            text.append("  ")
            text.append(free_text(one_line(entry.label), masked), style="italic")
        width = self._head_width()
        if self.has_class("-inside"):
            back, copy = self.keys("back"), self.keys("copy")
            hint = f"  ({back}: back, {copy}: copy number)"
            if width <= 0 or text.cell_len + len(hint) <= width:  # the hint gives way
                text.append(hint, style="dim")
        if width > 0:
            text.truncate(width, overflow="ellipsis")
        return text

    def _head_width(self) -> int:
        return self.query_one("#detail-head", TextStatic).content_size.width


def _who_line(entry: Entry, now: float) -> str:
    """Who did what to this request (a desk shares one database); "" when nothing is known."""
    parts = []
    if entry.added_by:
        parts.append(f"added by {safe_text(entry.added_by, 64)}")
    if entry.noted_by:
        when = f" {format_clock(entry.noted_at, now)}" if entry.noted_at is not None else ""
        parts.append(f"label/note by {safe_text(entry.noted_by, 64)}{when}")
    if entry.archived_by:
        parts.append(f"archived by {safe_text(entry.archived_by, 64)}")
    return " · ".join(parts)


def _schedule_line(entry: Entry, now: float, hold: RateHold | None = None) -> str:
    polled = (
        # Polled before a restart: the time is remembered, not counted in this session.
        f"polled {format_clock(entry.last_poll, now)}"
        + (f" ({entry.polls}×)" if entry.polls else "")
        if entry.last_poll is not None
        else "not polled yet"
    )
    if entry.status is WatchStatus.DONE:
        nxt = "final: no more polls (r polls again)"
    elif entry.status is WatchStatus.STALE:
        nxt = "stale: given up (r polls again)"
    elif entry.status is WatchStatus.MEMORY:
        nxt = "from memory: Infobip keeps messages 48 hours, so it is not asked again"
    elif entry.status is WatchStatus.NOT_FOUND:
        nxt = "not found: given up (r polls again)"
    elif entry.status is WatchStatus.AUTH:
        nxt = "held: credential refused"
    elif hold is not None:  # not "next poll in now": the host said to wait (said first)
        return f"{rate_wait(hold, now)} · added {format_clock(entry.added_at, now)} · {polled}"
    elif entry.next_due is not None:
        nxt = f"next poll in {format_in(entry.next_due - now)}"
    else:
        nxt = "polling now"
    return f"added {format_clock(entry.added_at, now)} · {polled} · {nxt}"
