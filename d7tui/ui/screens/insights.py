"""The `i` screen: how the day goes, over the filtered view or the whole watchlist. It draws what
`d7tui.insights.compute` returns, again every few seconds while open."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.timer import Timer

from d7tui.insights import HOUR_MINUTES, NO_COUNTRY, Insights, Tally, compute, sparkline
from d7tui.models import Phase
from d7tui.output import plural
from d7tui.safety import one_line
from d7tui.ui.edge import Guarded
from d7tui.ui.format import costs_text, format_interval, free_text
from d7tui.ui.widgets.text_static import TextStatic
from d7tui.watchlist import Entry

REFRESH = 5.0  # seconds between two counts while the screen is open, at least
# ... and at least this many times what a count took: 100,000 requests take about a second to
# count (BENCHMARKS.md), which the keys wait for, so it is not done every five seconds.
REFRESH_COST = 20.0
TOP_COUNTRIES = 12
MAX_REASON = 120  # a vendor's reason, cut: one screen line, two at most


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.1f}s"
    if seconds < 3600:
        return format_interval(round(seconds / 60) * 60)
    return f"{seconds / 3600:.1f}h" if seconds < 48 * 3600 else f"{seconds / 86400:.1f}d"


def _tally_row(name: str, tally: Tally, colours: Mapping[Phase, str]) -> Text:
    # 65 columns: the 80-column terminal's box holds it without a wrap.
    row = Text(f"  {name:<10} {tally.total:>7,}")
    for phase, count in (
        (Phase.DELIVERED, tally.delivered),
        (Phase.FAILED, tally.failed),
        (Phase.PENDING, tally.pending),
    ):
        share = tally.rate(count)
        rate = f"{share * 100:5.1f}%" if share is not None else "-"
        row.append(f"  {count:>6,} {rate:>6}", style=colours[phase] if count else "dim")
    if tally.unknown:
        row.append(f"  {tally.unknown:,} unknown", style="dim")
    return row


def insights_text(
    insights: Insights,
    scope: str,
    colours: Mapping[Phase, str],
    polls: tuple[float, float],
    masked: bool = False,
) -> Text:
    """The screen as text: every value ours or a number, vendor reasons as plain text (with
    the numbers in them masked in privacy mode, as everywhere)."""
    text = Text()
    text.append("Insights", style="bold")
    text.append(f" — {scope}\n", style="dim")
    if not insights.recipients.total:
        text.append("\nNo recipients yet: nothing to count.\n", style="dim")
    head = f"  {'':<10} {'total':>7}  {'delivered':>13}  {'failed':>13}  {'pending':>13}\n"
    text.append("\nBy channel\n", style="bold underline")
    text.append(head, style="dim")
    for name, tally in sorted(insights.by_channel.items()):
        text.append_text(_tally_row(name, tally, colours))
        text.append("\n")
    if len(insights.by_channel) > 1:
        text.append_text(_tally_row("all", insights.recipients, colours))
        text.append("\n")
    text.append("\nBy country\n", style="bold underline")
    text.append(head, style="dim")
    countries = sorted(insights.by_country.items(), key=lambda kv: (-kv[1].total, kv[0]))
    for name, tally in countries[:TOP_COUNTRIES]:
        shown = "(unknown)" if name == NO_COUNTRY else one_line(name, 10)
        text.append_text(_tally_row(shown, tally, colours))
        text.append("\n")
    if len(countries) > TOP_COUNTRIES:
        text.append(f"  … and {len(countries) - TOP_COUNTRIES:,} more countries\n", style="dim")
    if NO_COUNTRY in insights.by_country:
        text.append(
            "  (unknown): the API named no country (Infobip's logs never do)\n", style="dim"
        )

    text.append("\nTime to deliver\n", style="bold underline")
    if not insights.delivery_times:
        text.append("  nothing delivered and measured yet\n", style="dim")
    for d in insights.delivery_times:
        how = "sentAt → doneAt, exact" if d.exact else "first seen → delivered *"
        text.append(f"  {d.channel:<10} p50 {_duration(d.p50):>6}  p95 {_duration(d.p95):>6}")
        text.append(f"  of {d.count:,}  ({how})\n", style="dim")
    if any(not d.exact for d in insights.delivery_times):
        text.append(
            "  * D7's reports carry no times: each end is late by up to a poll\n"
            f"    (d7tui polls every {format_interval(polls[0])} to {format_interval(polls[1])})\n",
            style="dim",
        )

    text.append("\nTop failure reasons\n", style="bold underline")
    if not insights.failures:
        text.append("  no failures\n", style="dim")
    for reason, count in insights.failures:
        text.append(f"  {count:>7,}  ", style=colours[Phase.FAILED])
        text.append(f"{one_line(free_text(reason, masked), MAX_REASON)}\n")

    text.append("\nCost\n", style="bold underline")
    text.append(f"  {costs_text(insights.costs)}")
    if None in insights.costs:
        text.append("  (no currency: D7's own account currency)", style="dim")
    text.append("\n")

    minutes = insights.changes_per_minute
    peak = max(minutes, default=0)
    text.append("\nStatus changes per minute, the last hour", style="bold underline")
    text.append(f"  (peak {peak:,}/min, {sum(minutes):,} in all)\n", style="dim")
    text.append(f"  {sparkline(minutes)}\n", style=colours[Phase.DELIVERED])
    left, right = f"{HOUR_MINUTES} min ago", "now"
    text.append(f"  {left}{right:>{max(1, len(minutes) - len(left))}}\n", style="dim")
    return text


class InsightsScreen(Guarded, ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,i", "close", "Close", show=False),
        Binding("v", "scope", "Whole list / filtered view", show=False),
    ]

    def __init__(
        self,
        *,
        whole: Callable[[], list[Entry]],
        view: Callable[[], list[Entry]],
        filtered: bool,
        now: Callable[[], float],
        colours: Callable[[], Mapping[Phase, str]],
        polls: Callable[[], tuple[float, float]],
        masked: Callable[[], bool] = lambda: False,
    ) -> None:
        super().__init__()
        self._whole, self._view, self._now = whole, view, now
        self._colours, self._polls, self._masked = colours, polls, masked
        self.filtered = filtered  # which one is shown: the filtered view, or the whole list
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="insights-box"):
            yield TextStatic(id="insights-text")

    def on_mount(self) -> None:
        # On the border: seen without scrolling to the end, at 80×24 too.
        self.query_one(
            "#insights-box"
        ).border_subtitle = "v: whole list / filtered view · esc closes"
        self.show_insights()

    def _again(self) -> None:
        self.show_insights()

    def show_insights(self) -> None:
        started = time.perf_counter()
        self._show()
        took = time.perf_counter() - started
        if self._timer is not None:
            self._timer.stop()
        wait = max(REFRESH, REFRESH_COST * took)
        self._timer = self.set_timer(wait, self._again, name="d7tui-insights")

    def _show(self) -> None:
        whole = self._whole()
        entries = self._view() if self.filtered else whole
        scope = (
            f"the filtered view: {len(entries):,} of {plural(len(whole), 'request')}"
            if self.filtered
            else f"the whole watchlist: {plural(len(whole), 'request')}"
        )
        insights = compute(entries, self._now())
        self.query_one(TextStatic).show_text(
            insights_text(insights, scope, self._colours(), self._polls(), self._masked())
        )

    def action_scope(self) -> None:
        self.filtered = not self.filtered
        self.show_insights()

    def action_close(self) -> None:
        self.dismiss(None)
