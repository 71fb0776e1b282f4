"""The monitor's view: the watchlist, the detail of the selected request, the event strip, the
status line, and what poll news does to them (rows, flashes, events). The keys' actions are in
main.py.

The screen owns no data: the app's Watchlist model and Poller do.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from textual import events
from textual.app import ComposeResult
from textual.containers import Container
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, Static

from d7tui.models import Phase
from d7tui.ui.alerts import Alert, alerts_for, summary
from d7tui.ui.edge import Guarded, guard_callback, on
from d7tui.ui.messages import PollerStopped, PollNews
from d7tui.ui.theme import flash_colour, phase_colours
from d7tui.ui.widgets.banner import Banner, Unreached
from d7tui.ui.widgets.detail import DetailPane
from d7tui.ui.widgets.event_strip import EventStrip, Severity
from d7tui.ui.widgets.filter_bar import FilterBar
from d7tui.ui.widgets.status_line import PollerView, StatusLine, status_parts
from d7tui.ui.widgets.watchlist_table import RenderContext, WatchlistTable
from d7tui.watchlist import Entry, SortKey, Totals

if TYPE_CHECKING:
    from d7tui.ui.app import D7App

WIDE_AT = 180  # columns from which the detail sits right of the list instead of under it
SHORT_BELOW = 28  # rows under which the stacked layout leaves the timeline to the detail view
TALL_FROM = 36  # rows from which the event strip has three lines instead of two
HEAD_LINES = 4  # the detail's head, at least (6 from TALL_FROM rows)
HEAD_LINES_TALL = 6
ALERT_LINES = 2  # status changes of one batch told one a line; the rest summed up in one
FLASH_SECONDS = 2.0
VIEW_INTERVAL = 0.2  # seconds between two redraws caused by poll results
# Seconds between two passes over the whole list for poll results: the order (when sorted by
# last change or status), the filter and the totals. Changed rows redraw in place meanwhile;
# a list of 10,000 re-sorted and counted on every redraw kept keys waiting (BENCHMARKS.md).
FULL_VIEW_INTERVAL = 1.0
# Seconds between two counts of what is stuck when nothing else changed: being stuck is a matter
# of time passing, not of news (the problems view is passed over again as often).
STUCK_RECOUNT = 15.0
# Seconds a sorted list keeps its order after the cursor last moved: rows do not jump away
# from under a user moving through them, and keys are not kept waiting by a re-sort.
HOLD_ORDER = 1.5
EMPTY_HINT = (
    "Nothing watched yet.\n\n"
    "Press a to add a request id (or paste several), ? for every key.\n"
    "No account? Run d7tui --demo to watch the built-in simulator."
)

EMPTY_ARCHIVE = (
    "The archive is empty.\n\n"
    "Requests whose every recipient is final move here after a day. A goes back to the live list."
)


class MonitorView(Guarded, Screen[None]):
    def __init__(self) -> None:
        super().__init__()
        self.masked = False
        self._flash_until: dict[str, float] = {}  # request id -> monotonic end of its flash
        self._flash_recipients: dict[str, set[str]] = {}
        self._shown: list[Entry] = []
        self._totals: Totals | None = None
        self._counted_at = 0.0  # monotonic time the totals were last counted
        self._dirty: set[str] = set()  # rows poll news changed, not redrawn yet
        self._moved: set[str] = set()  # rows poll news changed since the order was last made
        self._last_view = 0.0
        self._view_timer: Timer | None = None
        self._last_full = 0.0
        self._full_timer: Timer | None = None
        self._moved_at = 0.0  # monotonic time the cursor last moved
        self._empty_hint = EMPTY_HINT  # what the empty list's pane says

    @property
    def d7app(self) -> D7App:
        return self.app  # type: ignore[return-value]

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(icon="◉")
        yield Banner(id="banner")
        with Container(id="panes"):
            with Container(id="list-pane"):
                yield WatchlistTable(
                    id="watchlist",
                    on_move=self._row_moved,
                    short_ids=lambda: self.d7app.watchlist.short_ids,
                )
                yield Static(EMPTY_HINT, id="empty", markup=False)
            yield DetailPane(id="detail")
        yield FilterBar(id="filter")
        yield EventStrip(id="events")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.masked = self.d7app.options.mask
        self.query_one(DetailPane).hints = self.d7app.hint_for
        self.query_one(DetailPane).balance = self.d7app.accounts.text
        self.query_one(DetailPane).keys = self.d7app.key
        self.query_one(Banner).display = False
        self.query_one(FilterBar).display = False
        self._layout(self.size.width, self.size.height)
        self.set_interval(1.0, self._tick, name="d7tui-clock")
        self.watch(self.app, "theme", guard_callback(self, self._theme_changed), init=False)
        self.set_focus(self.query_one(WatchlistTable))
        self.refresh_all(select=None)
        self.call_after_refresh(self.d7app.begin)

    def on_resize(self, event: events.Resize) -> None:
        self._layout(event.size.width, event.size.height)

    def _layout(self, width: int, height: int) -> None:
        self.set_class(width >= WIDE_AT, "-wide")
        # Too short for list, recipients and timeline at once: the timeline shows in the detail
        # view (enter), where the detail has the whole screen.
        self.set_class(height < SHORT_BELOW and width < WIDE_AT, "-short")
        self.set_class(height >= TALL_FROM, "-tall")
        self.query_one(DetailPane).head_lines = (
            HEAD_LINES_TALL if height >= TALL_FROM else HEAD_LINES
        )

    @property
    def flashing(self) -> set[str]:
        """The requests whose rows flash now (they just changed)."""
        return set(self._flash_until)

    def render_context(self) -> RenderContext:
        return RenderContext(
            now=self.d7app.clock.now(),
            colours=phase_colours(self.app.current_theme),
            masked=self.masked,
            flashing=set(self._flash_until),
            flash_colour=flash_colour(self.app.current_theme),
            stuck_after=self.d7app.watchlist.stuck_after,
            rate_holds=self.d7app.poller.rate_holds(),
        )

    # -- showing the model -------------------------------------------------------------------

    def refresh_all(self, changed: set[str] | None = None, *, select: str | None = None) -> None:
        """Bring every part of the screen up to date with the model (only `changed` rows when
        the order did not change)."""
        watchlist = self.d7app.watchlist
        ctx = self.render_context()
        self._last_full = time.monotonic()
        if self._full_timer is not None:
            self._full_timer.stop()
            self._full_timer = None
        self._shown = watchlist.visible()
        self._totals = None  # the model changed: counted again for the status line
        table = self.query_one(WatchlistTable)
        news, self._moved = self._moved, set()
        table.sync(self._shown, ctx, changed, select=select, news=news)
        empty = self.query_one("#empty", Static)
        if empty.display != (len(watchlist) == 0):
            empty.display = len(watchlist) == 0
        hint = EMPTY_ARCHIVE if self.d7app.showing_archive else EMPTY_HINT
        if empty.display and hint != self._empty_hint:
            empty.update(hint)
            self._empty_hint = hint
        self._show_detail(ctx)
        self._show_status(ctx)

    def _show_detail(self, ctx: RenderContext) -> None:
        selected = self.query_one(WatchlistTable).selected
        entry = self.d7app.watchlist.get(selected) if selected else None
        flashing = self._flash_recipients.get(selected, set()) if selected else set()
        self.query_one(DetailPane).show(entry, ctx, flashing)

    def show_status(self) -> None:
        """The status line, now (the balances were read ...)."""
        self._show_status(self.render_context())

    def _show_status(self, ctx: RenderContext) -> None:
        app = self.d7app
        poller = app.poller
        # HTTP requests in flight (an `auto` poll asks three channels at once), else polls.
        engine = getattr(poller.client, "engine", None)
        view = PollerView(
            paused=poller.paused,
            running=app.polling,
            in_flight=getattr(engine, "in_flight", poller.busy),
            queued=poller.queued(),
            last_refresh=poller.last_refresh,
            next_due=poller.next_due,
            interval=poller.interval_range(),
            auth_stopped=bool(poller.auth_stops),
            rate_holds=tuple(ctx.rate_holds.values()),
        )
        if self._totals is None:  # a pass over every request: not once a second for nothing
            self._totals = app.watchlist.totals(self._shown)
            self._counted_at = time.monotonic()
        totals = self._totals
        self.query_one(StatusLine).show(
            status_parts(
                view,
                totals,
                ctx.colours,
                ctx.now,
                filter_text=app.watchlist.filter_text,
                problems_only=app.watchlist.problems_only,
                sort=app.watchlist.sort,
                masked=self.masked,
                archive=app.showing_archive,
                balance=app.accounts.status_part(ctx.colours),
                keys=app.key,
                desk=app.desk.status_text() if app.desk is not None else None,
                following=app.desk is not None and not app.desk.leading,
            )
        )
        self.show_banner()

    def show_banner(self) -> None:
        app = self.d7app
        unreached = []
        if self._totals is not None:
            settings = app.settings
            places = {
                "d7": (settings.d7_base_url, "sms, whatsapp, viber", "d7_base_url"),
                "infobip": (settings.infobip_base_url, "infobip", "infobip_base_url"),
            }
            for vendor, (count, why) in sorted(self._totals.unreachable.items()):
                url, channels, setting = places[vendor]
                host = urlsplit(url).hostname or url
                unreached.append(Unreached(host, channels, setting, count, why))
        self.query_one(Banner).show_stops(
            app.poller.auth_stops, app.notices, unreached, pause=app.key("pause")
        )

    def _tick(self) -> None:
        """Once a second: ages, flashes that ended, the status line."""
        now = time.monotonic()
        ended = {rid for rid, until in self._flash_until.items() if until <= now}
        for rid in ended:
            del self._flash_until[rid]
            self._flash_recipients.pop(rid, None)
        if now - self._counted_at >= STUCK_RECOUNT:
            if self.d7app.watchlist.problems_only:
                self.refresh_all()  # requests that became stuck join the problems view
                return
            self._totals = None  # recounted: the status line's "stuck?" follows the clock
        ctx = self.render_context()
        table = self.query_one(WatchlistTable)
        table.sync(self._shown, ctx)  # ages: only rows whose age text moved are redrawn
        self._show_detail(ctx)
        self._show_status(ctx)

    def _theme_changed(self) -> None:
        self.refresh_all()
        self.show_events()

    def show_events(self) -> None:
        colours = phase_colours(self.app.current_theme)
        self.query_one(EventStrip).show_events(
            self.d7app.events,
            {"warning": colours[Phase.PENDING], "error": f"bold {colours[Phase.FAILED]}"},
            self.masked,
        )

    # -- news from the poller ----------------------------------------------------------------

    @on(PollNews)
    def _poll_news(self) -> None:
        updates = self.d7app.take_news()
        if not updates:
            return
        changed: set[str] = set()
        alerts: list[Alert] = []
        watchlist = self.d7app.live
        until = time.monotonic() + FLASH_SECONDS
        for update, entry in self.d7app.monitor.apply(updates):
            changed.add(update.request_id)
            if update.transitions and not update.first:
                self._flash_until[update.request_id] = until
                self._flash_recipients.setdefault(update.request_id, set()).update(
                    t.recipient_key for t in update.transitions
                )
                short = watchlist.short_ids.short(entry.request_id)
                alerts.extend(alerts_for(entry, short, update.transitions))
        self._dirty |= changed
        self._moved |= changed
        self._schedule_view()
        self._alert(alerts)

    def _schedule_view(self) -> None:
        """Redraw for poll news at most every VIEW_INTERVAL: a flood of results costs a few
        repaints, not one per batch (keys redraw at once, they do not come through here)."""
        if self._view_timer is not None:
            return
        wait = self._last_view + VIEW_INTERVAL - time.monotonic()
        if wait <= 0:
            self._flush_view()
        else:
            self._view_timer = self.set_timer(wait, self._flush_view, name="d7tui-view")

    def _flush_view(self) -> None:
        self._view_timer = None
        self._last_view = time.monotonic()
        changed, self._dirty = self._dirty, set()
        wait = self._full_wait(self._last_view)
        if wait <= 0:
            self.refresh_all(changed)
            return
        # The rows in place, now; their order, the filter and the totals within a second.
        ctx = self.render_context()
        self.query_one(WatchlistTable).sync(self._shown, ctx, changed)
        self._show_detail(ctx)
        if self._full_timer is None:
            self._full_timer = self.set_timer(wait, self._full_due, name="d7tui-full-view")

    def _full_wait(self, now: float) -> float:
        """Seconds until the whole list may be passed over again for poll results."""
        wait = self._last_full + FULL_VIEW_INTERVAL - now
        following = self.query_one(WatchlistTable).following_top  # nothing to hold still
        if self.d7app.watchlist.sort is not SortKey.ADDED and not following:
            wait = max(wait, self._moved_at + HOLD_ORDER - now)
        return wait

    def _full_due(self) -> None:
        self._full_timer = None
        wait = self._full_wait(time.monotonic())
        if wait > 0:  # the cursor moved meanwhile: later
            self._full_timer = self.set_timer(wait, self._full_due, name="d7tui-full-view")
        else:
            self.flush_all()

    def flush_all(self) -> None:
        """Everything poll results changed, on screen now (order, filter and totals too)."""
        changed, self._dirty = self._dirty, set()
        if self._view_timer is not None:
            self._view_timer.stop()
            self._view_timer = None
        self.refresh_all(changed)  # rows drawn in place before were drawn then

    def _alert(self, alerts: list[Alert]) -> None:
        """Status changes go to the event strip, failures first; a flood is summed up."""
        if not alerts:
            return
        if any(a.failed for a in alerts) and self.d7app.options.bell:
            self.app.bell()
        # Beside the bell, for a user looking elsewhere (masked in privacy mode: it leaves
        # the terminal for the desktop).
        self.d7app.notify_failures([a.line(self.masked) for a in alerts if a.failed])
        ordered = sorted(alerts, key=lambda a: not a.failed)
        shown, rest = ordered[:ALERT_LINES], ordered[ALERT_LINES:]
        if rest:  # the summary is the oldest of the lines: the single changes read on top
            line, failed = summary(rest)
            self.d7app.say(line, "warning" if failed else "information")
        for alert in reversed(shown):
            severity: Severity = "error" if alert.failed else "information"
            self.d7app.say(alert.line(False), severity, masked=alert.line(True))

    @on(PollerStopped)
    def _poller_stopped(self, message: PollerStopped) -> None:
        pause = self.d7app.key("pause")
        self.d7app.say(f"Polling stopped: {message.reason} ({pause} restarts it)", "error")
        self._show_status(self.render_context())

    # -- selection ---------------------------------------------------------------------------

    def _row_moved(self) -> None:
        # Called by the list as its cursor moves, so that the detail is painted in the same
        # frame as the cursor (a message would land a frame later).
        self._moved_at = time.monotonic()
        if self.query_one(WatchlistTable).following_top and (self._dirty or self._moved):
            # Back at the top (home, g): the list in the order it claims, at once.
            self.flush_all()
            return
        self._show_detail(self.render_context())

    @property
    def selected(self) -> str | None:
        return self.query_one(WatchlistTable).selected
