"""The status line: polling state, requests in flight, last refresh, next poll, errors by kind,
totals by phase and total cost. Every part is our own text or a number; the filter (typed by the
user) is appended as plain text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text

from d7tui.errors import ERROR_LABEL, ERROR_LABELS, SERVER_ERROR, ErrorKind
from d7tui.models import Phase
from d7tui.pollstate import RateHold
from d7tui.tally import Totals
from d7tui.ui.bindings import key_label
from d7tui.ui.format import (
    costs_text,
    format_clock,
    format_in,
    format_interval,
    phase_counts_text,
    rate_wait,
)
from d7tui.ui.widgets.text_static import TextStatic
from d7tui.watchlist import SortKey

SEPARATOR = "  │  "
# The labels that are nouns take a plural ("2 bad answers"); "2 unreachable" reads as it is.
_COUNTED = (ERROR_LABEL[ErrorKind.API], ERROR_LABEL[ErrorKind.PROTOCOL], SERVER_ERROR)


@dataclass
class PollerView:
    """What the status line needs to know about the poller."""

    paused: bool
    running: bool
    in_flight: int
    last_refresh: float | None
    next_due: float | None
    interval: tuple[float, float]
    auth_stopped: bool
    queued: int = 0  # polls handed to the workers and not answered yet (in flight included)
    rate_holds: tuple[RateHold, ...] = ()  # hosts that answered 429, waited for
    to_poll: int = 0  # watched requests that will be asked again (queued ones included)
    loading: int = 0  # remembered requests whose states are still being read (polling waits)
    stale: int = 0  # requests given up (too old) while not final: not asked again, not final


def all_final(poller: PollerView, watched: int) -> bool:
    """Polling runs, and nothing is due, queued, in flight, left to poll or still being read:
    every watched request is final."""
    running = poller.running and not poller.paused and not poller.auth_stopped
    idle = poller.next_due is None and not poller.in_flight and not poller.queued
    return bool(watched) and running and idle and not poller.to_poll and not poller.loading


def refreshed_text(
    refreshed: float | None, polled: float | None, now: float, following: bool
) -> str:
    """When the rows were last refreshed: by this monitor's polls (`refreshed`), else by
    whoever polled them (`polled`: a run before a restart whose rows are all final, or the
    desk's leader, for a follower: not when the follower read what it stored)."""
    newest = (
        polled
        if following
        else max((t for t in (refreshed, polled) if t is not None), default=None)
    )
    if newest is None:
        return "not polled yet"
    if following:
        return f"leader polled {format_clock(newest, now)}"
    return f"refreshed {format_clock(newest, now)}"


def status_parts(
    poller: PollerView,
    totals: Totals,
    colours: dict[Phase, str],
    now: float,
    *,
    filter_text: str = "",
    problems_only: bool = False,
    sort: SortKey = SortKey.ADDED,
    masked: bool = False,
    archive: bool = False,
    balance: Text | None = None,
    keys: Callable[[str], str] = key_label,
    desk: str | None = None,
    following: bool = False,
    counting: bool = False,
) -> list[Text]:
    """`keys`: an action's key as the hints name it (after the user's [keymap]); `counting`:
    the totals are still being counted (a slice at a time, after a restart's read)."""
    parts: list[Text] = []
    if desk is not None:  # on a desk's shared database: who polls for everyone
        parts.append(Text(desk, style="bold"))
    if archive:
        live, back = keys("archive_view"), keys("unarchive")
        parts.append(
            Text(f"▤ archive: not polled ({live}: live list, {back}: unarchive)", style="bold")
        )
    fast, slow = poller.interval
    pause = keys("pause")
    if following:
        pass  # a follower polls nothing: the leader does
    elif poller.loading:  # a restart reads what the store remembers; polling starts after
        parts.append(Text(f"◌ reading {poller.loading:,} remembered…", style="bold"))
    elif not poller.running:
        parts.append(
            Text(f"✗ polling stopped ({pause} restarts)", style=f"bold {colours[Phase.FAILED]}")
        )
    elif poller.paused:
        parts.append(Text(f"⏸ paused ({pause} resumes)", style=f"bold {colours[Phase.PENDING]}"))
    else:
        parts.append(Text(f"● polling every {format_interval(fast)}→{format_interval(slow)}"))
    waiting = poller.queued - poller.in_flight
    if not following:
        parts.append(
            Text(f"{poller.in_flight} in flight" + (f", {waiting:,} queued" if waiting > 0 else ""))
        )
    # Both vendors may be one host (a proxy, a test server): its wait is said once.
    for wait in dict.fromkeys(rate_wait(hold, now) for hold in poller.rate_holds):
        parts.append(Text(wait, style=f"bold {colours[Phase.PENDING]}"))
    parts.append(Text(refreshed_text(poller.last_refresh, totals.last_poll, now, following)))
    if poller.next_due is not None and not poller.paused:
        parts.append(Text(f"next {format_in(poller.next_due - now)}"))
    elif all_final(poller, totals.requests) and poller.stale:
        # Given up is not settled: no ✓ for a customer's message still pending (K13).
        parts.append(
            Text(
                f"nothing to poll: {poller.stale:,} stale (given up, still pending; "
                f"{keys('refresh')} asks again)",
                style=colours[Phase.PENDING],
            )
        )
    elif all_final(poller, totals.requests):
        parts.append(Text("✓ all final: nothing to poll", style=colours[Phase.DELIVERED]))
    errors = [
        f"{count:,} {label}{'s' if count > 1 and label in _COUNTED else ''}"
        for label in ERROR_LABELS
        if (count := totals.errors.get(label, 0))
    ]
    if errors:
        parts.append(Text("⚠ " + ", ".join(errors), style=colours[Phase.FAILED]))
    if totals.stuck:
        parts.append(Text(f"{totals.stuck:,} stuck?", style=f"bold {colours[Phase.PENDING]}"))
    counts = phase_counts_text(totals.phases, colours)
    # Not counted yet is not none: "no recipients yet · cost -" under rows showing recipients
    # and costs, for seconds after a restart (fresh-eyes F6).
    counting = not counts and (counting or bool(poller.loading))
    if counts:
        parts.append(counts)
    else:
        parts.append(Text("counting…" if counting else "no recipients yet", style="dim"))
    parts.append(Text("cost …" if counting else f"cost {costs_text(totals.costs)}"))
    if balance is not None:
        parts.append(balance)
    view = Text(
        f"{totals.shown:,} of {totals.requests:,} shown"
        if totals.shown != totals.requests
        else f"{totals.requests:,} {'archived' if archive else 'watched'}"
    )
    view.append(f" · sort: {sort.value}", style="dim")
    if problems_only:
        view.append(" · problems only", style="bold")
    if filter_text:
        view.append(" · filter: ", style="bold")
        view.append(filter_text)
    if masked:
        view.append(" · masked", style="bold")
    parts.append(view)
    return parts


def pack(parts: list[Text], width: int) -> Text:
    """The parts on as few lines as fit `width`, breaking only between parts."""
    separator = Text(SEPARATOR, style="dim")
    lines: list[Text] = []
    line = Text()
    for part in parts:
        if line and line.cell_len + separator.cell_len + part.cell_len > width:
            lines.append(line)
            line = Text()
        if line:
            line.append_text(separator)
        line.append_text(part)
    lines.append(line)
    return Text("\n").join(lines)


class StatusLine(TextStatic):
    """One line, or a few at a narrow width, broken between parts and never inside one."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._parts: list[Text] = []

    def show(self, parts: list[Text]) -> None:
        self._parts = parts
        self.show_text(pack(parts, max(20, self.content_size.width or self.size.width or 80)))

    def on_resize(self) -> None:
        super().on_resize()
        # The parts as they are when the call runs, not as they were at the resize: news shown
        # in between must not be overwritten by an older line.
        self.call_after_refresh(self._reshow)

    def _reshow(self) -> None:
        if self._parts:
            self.show(self._parts)
