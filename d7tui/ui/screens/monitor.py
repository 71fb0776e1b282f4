"""The monitor screen: the watchlist, the detail of the selected request, the event strip and
the status line; what poll news does to them (rows, flashes, events); and one action per key of
the key table.

The screen owns no data: the app's Watchlist model and Poller do, and the Monitor service
(d7tui/monitor.py) does what the keys ask of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlsplit

from textual import events
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Container
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, Input, Static

from d7tui.channels.send import Message
from d7tui.errors import Unreachable
from d7tui.models import Phase
from d7tui.monitor import EXPORT_FAILED
from d7tui.output import plural
from d7tui.poller import FRESH_FOR, Asked
from d7tui.tally import Totals
from d7tui.ui.alerts import Alert, alerts_for, summary
from d7tui.ui.bindings import FOCUS_ACTIONS, MONITOR_KEYS
from d7tui.ui.edge import Guarded, guard_callback, on
from d7tui.ui.flashes import Flashes
from d7tui.ui.format import format_interval, rate_wait, recipient_text, short_id
from d7tui.ui.layout import layout_for
from d7tui.ui.messages import AddRequest, PollerStopped, PollNews
from d7tui.ui.screens.add import AddDialog, skipped_words
from d7tui.ui.screens.help import HelpScreen
from d7tui.ui.screens.insights import InsightsScreen
from d7tui.ui.screens.label import LabelDialog
from d7tui.ui.screens.send import SendDialog
from d7tui.ui.theme import DARK, LIGHT, flash_colour, phase_colours
from d7tui.ui.typeahead import FOCUS_BINDINGS
from d7tui.ui.widgets.banner import Banner, Unreached
from d7tui.ui.widgets.detail import DetailPane, RecipientsTable
from d7tui.ui.widgets.event_strip import EventStrip, Severity
from d7tui.ui.widgets.filter_bar import FilterBar
from d7tui.ui.widgets.ids_input import flatten_paste, garbled
from d7tui.ui.widgets.line_table import LineTable
from d7tui.ui.widgets.status_line import PollerView, StatusLine, status_parts
from d7tui.ui.widgets.watchlist_table import RenderContext, WatchlistTable
from d7tui.watchlist import Entry, SortKey

if TYPE_CHECKING:
    from d7tui.ui.app import D7App

ALERT_LINES = 2  # status changes of one batch told one a line; the rest summed up in one
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
# Seconds after news put another request under a cursor following the top in which a key that acts
# on the selected request is taken as meant for the one that was there: a person's time to see a
# row change and stop a key already on its way (K7).
SHIFT_GRACE = 2.0
# Changed requests whose share of the totals is counted in one turn of the loop; the rest in the
# turns after (at 100,000 requests a restart's first count took 1.5-2.3 s in one turn).
TOTALS_SLICE = 500
# Seconds between two slices: keys and polls go between them (at 100,000 requests half the
# loop's time, not all of it, for the four seconds a count of all takes).
COUNT_PAUSE = 0.01
# ... and while keys move the cursor (one came within KEYS_FIRST seconds): a fifth of the loop's
# time, the rest for the keys (the last whole count is shown meanwhile).
KEYS_FIRST = 0.5
COUNT_PAUSE_KEYS = 0.05


def empty_hint(key: Callable[[str], str], archive: bool) -> str:
    """What an empty list says, naming the keys as the user's [keymap] has them."""
    if archive:
        return (
            "The archive is empty.\n\n"
            "Requests whose every recipient is final move here after a day. "
            f"{key('archive_view')} goes back to the live list."
        )
    return (
        "Nothing watched yet.\n\n"
        f"Press {key('add')} to add a request id (or paste several), {key('help')} for every "
        "key.\nNo account? Run d7tui --demo to watch the built-in simulator."
    )


class MonitorScreen(Guarded, Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        *FOCUS_BINDINGS,
        *(key.binding() for key in MONITOR_KEYS),
    ]
    ESCAPE_TO_MINIMIZE = False  # escape is ours: it leaves the detail (the list comes back)

    def __init__(self) -> None:
        super().__init__()
        self.masked = False
        self._flashes = Flashes()
        self._shown: list[Entry] = []
        self._totals: Totals | None = None
        self._counted_at = 0.0  # monotonic time the totals were last counted
        self._dirty: set[str] = set()  # rows poll news changed, not redrawn yet
        self._moved: set[Entry] = set()  # rows poll news changed since the order was last made
        self._last_view = 0.0
        self._view_timer: Timer | None = None
        self._last_full = 0.0
        self._full_timer: Timer | None = None
        self._count_timer: Timer | None = None  # the totals' next slice (TOTALS_SLICE)
        self._moved_at = 0.0  # monotonic time the cursor last moved
        # HOLD_ORDER; a test sets it longer than a loaded machine's pauses, then ends it itself.
        self.hold_order = HOLD_ORDER
        self._shifted_at = 0.0  # app time news last put another request under the cursor
        self._empty_hint = ""  # what the empty list's pane says
        # The view the list shows (sort, filter, problems only, archive): "↑ N new" counts news
        # of this view only, from when it was chosen.
        self._view: tuple[object, ...] | None = None
        self._copied: tuple[str, str] | None = None  # (recipient key, what) copied last

    @property
    def d7app(self) -> D7App:
        return self.app  # type: ignore[return-value]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # While the filter is typed into, the keys that move the focus (priority bindings, see
        # typeahead.py) are letters of the filter, and enter ends it; esc still clears it.
        if action in FOCUS_ACTIONS and action != "back" and isinstance(self.focused, Input):
            return None
        return True

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
                self._empty_hint = empty_hint(self.d7app.key, archive=False)
                yield Static(self._empty_hint, id="empty", markup=False)
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
        layout = layout_for(width, height)
        self.set_class(layout.wide, "-wide")
        self.set_class(layout.short, "-short")
        self.set_class(layout.tall, "-tall")
        self.query_one(DetailPane).head_lines = layout.head_lines

    @property
    def flashing(self) -> set[str]:
        """The requests whose rows flash now (they just changed)."""
        return self._flashes.requests

    def render_context(self) -> RenderContext:
        return RenderContext(
            now=self.d7app.clock.now(),
            colours=phase_colours(self.app.current_theme),
            masked=self.masked,
            flashing=self._flashes.requests,
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
        news: set[Entry] | None
        news, self._moved = self._moved, set()
        view = (
            watchlist.sort,
            watchlist.filter_text,
            watchlist.problems_only,
            self.d7app.showing_archive,
        )
        new_view, self._view = view != self._view, view
        if watchlist.sort is not SortKey.LAST_CHANGE:
            news = None  # news comes in at the top only sorted by last change: none "above"
        table.sync(
            self._shown,
            ctx,
            changed,
            select=select,
            news=news,
            members=watchlist.shown_members,
            new_view=new_view,
        )
        empty = self.query_one("#empty", Static)
        if empty.display != (len(watchlist) == 0):
            empty.display = len(watchlist) == 0
        hint = empty_hint(self.d7app.key, self.d7app.showing_archive)
        if empty.display and hint != self._empty_hint:
            empty.update(hint)
            self._empty_hint = hint
        self._show_detail(ctx)
        self._show_status(ctx)

    def _show_detail(self, ctx: RenderContext) -> None:
        selected = self.query_one(WatchlistTable).selected
        entry = self.d7app.watchlist.get(selected) if selected else None
        self.query_one(DetailPane).show(entry, ctx, self._flashes.recipients(selected))

    def show_status(self) -> None:
        """The status line, now (the balances were read ...)."""
        self._show_status(self.render_context())

    def _show_status(self, ctx: RenderContext) -> None:
        app = self.d7app
        poller = app.poller
        # HTTP requests in flight (an `auto` poll asks three channels at once), else polls.
        engine = getattr(poller.client, "engine", None)
        queued, to_poll = poller.backlog()
        view = PollerView(
            paused=poller.paused,
            running=app.polling,
            in_flight=getattr(engine, "in_flight", poller.busy),
            queued=queued,
            to_poll=to_poll,
            stale=poller.given_up(),
            loading=app.monitor.live_listed if app.loading else 0,
            last_refresh=poller.last_refresh,
            next_due=poller.next_due,
            interval=poller.interval_range(),
            auth_stopped=bool(poller.auth_stops),
            rate_holds=tuple(ctx.rate_holds.values()),
        )
        if self._totals is None:  # counted again for what changed since
            self._totals = app.watchlist.totals(self._shown, budget=TOTALS_SLICE)
            self._counted_at = time.monotonic()
            if app.watchlist.counting and self._count_timer is None and not app.loading:
                # The rest a slice at a time, keys in between; the last whole count shown
                # meanwhile. Not while the store is read: every request read changes again.
                self._count_timer = self.set_timer(
                    COUNT_PAUSE, self._count_more, name="d7tui-count"
                )
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
                counting=bool(app.watchlist.counting),
            )
        )
        self.show_banner()

    def _count_more(self) -> None:
        """A slice more of the totals; the status line once all is counted (not every slice:
        its text changes with every poll, and a repaint a slice held the loop as long)."""
        self._count_timer = None
        if self.d7app.watchlist.count(TOTALS_SLICE):
            keys = time.monotonic() - self._moved_at < KEYS_FIRST
            pause = COUNT_PAUSE_KEYS if keys else COUNT_PAUSE
            self._count_timer = self.set_timer(pause, self._count_more, name="d7tui-count")
            return
        self._totals = None
        self._show_status(self.render_context())

    def show_banner(self) -> None:
        app = self.d7app
        unreached = []
        if self._totals is not None:
            settings = app.settings
            places = {
                "d7": (settings.d7_base_url, "sms, whatsapp, viber", "d7_base_url"),
                "infobip": (settings.infobip_base_url, "infobip", "infobip_base_url"),
            }
            for vendor, (count, error) in sorted(self._totals.unreachable.items()):
                url, channels, setting = places[vendor]
                host = urlsplit(url).hostname or url
                answered = error.status is not None
                slow = isinstance(error, Unreachable) and error.slow
                unreached.append(
                    Unreached(host, channels, setting, count, error.message, answered, slow)
                )
        self.query_one(Banner).show_stops(
            app.poller.auth_stops,
            app.notices,
            unreached,
            pause=app.key("pause"),
            from_environment=app.settings.from_environment,
        )

    def _tick(self) -> None:
        """Once a second: ages, flashes that ended, the status line."""
        now = time.monotonic()
        self._flashes.end_due(now)
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

    def _key_first(self, then: Callable[[], object]) -> Timer | None:
        """When a key is on its way to the screen (keys_first.py): the timer that calls `then`
        once the key is drawn, instead of now (what comes meanwhile joins the same work)."""
        gate = self.d7app.keys_first
        if not gate.closed:
            return None
        return self.set_timer(gate.left(), then, name="d7tui-after-key")

    @on(PollNews)
    def _poll_news(self, message: PollNews) -> None:
        if self._key_first(partial(self.post_message, message)) is not None:
            return  # the batch stays open meanwhile: what comes joins it
        updates = message.take()
        if not updates:
            return
        changed: set[str] = set()
        moved: set[Entry] = set()
        alerts: list[Alert] = []
        watchlist = self.d7app.live
        now = time.monotonic()
        for update, entry in self.d7app.monitor.apply(updates):
            changed.add(update.request_id)
            moved.add(entry)
            if update.transitions and not update.first:
                self._flashes.start(
                    update.request_id, (t.recipient_key for t in update.transitions), now
                )
                short = watchlist.short_ids.short(entry.request_id)
                alerts.extend(alerts_for(entry, short, update.transitions))
        self._dirty |= changed
        self._moved |= moved
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
        self._view_timer = self._key_first(self._flush_view)
        if self._view_timer is not None:
            return
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
            wait = max(wait, self._moved_at + self.hold_order - now)
        return wait

    def _full_due(self) -> None:
        self._full_timer = self._key_first(self._full_due)
        if self._full_timer is not None:
            return
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
            self.d7app.failure_bell.ring()
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
            self.d7app.say(alert.line(False), severity, masked=alert.line(True), at=alert.at)

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
        table = self.query_one(WatchlistTable)
        if table.shifted_from is not None:
            self._shifted_at = self.d7app.clock.now()
        if table.following_top and (self._dirty or self._moved):
            # Back at the top (home, g): the list in the order it claims, at once.
            self.flush_all()
            return
        self._show_detail(self.render_context())

    @property
    def selected(self) -> str | None:
        return self.query_one(WatchlistTable).selected

    def target(self, action: str) -> str | None:
        """The request a key that acts on the selected one acts on. When news put another
        request under the cursor a moment ago, the key was most likely meant for the one that
        was there: the cursor goes back to it, and nothing is done until the key is pressed
        again (a removal, a label or a copy must not land on a request never looked at)."""
        table = self.query_one(WatchlistTable)
        selected, was = table.selected, table.shifted_from
        if selected is None or was is None or selected == was:
            return selected
        if self.d7app.clock.now() - self._shifted_at > SHIFT_GRACE:
            return selected
        table.shifted_from = None
        if table.row_of(was) is not None:
            table.select(was)
            where = f"the cursor is back on {short_id(was)}"
        else:
            where = f"the cursor is on {short_id(selected)}"
        self.d7app.say(
            f"The list moved as you pressed: {where}. Press {self.d7app.key(action)} again to act "
            "on it.",
            "warning",
        )
        return None

    # -- keys ------------------------------------------------------------------------------

    def action_add(self, initial: str = "", garbled: bool = False) -> None:
        watchlist = self.d7app.watchlist
        self.app.push_screen(
            AddDialog(
                initial, watched=lambda rid: rid in watchlist, add=self._added, garbled=garbled
            )
        )

    def on_paste(self, event: events.Paste) -> None:
        if event.text.strip() and not isinstance(self.focused, Input):
            event.stop()
            # shown apart, as typed in the box
            self.action_add(flatten_paste(event.text), garbled=garbled(event.text))

    def _added(self, request: AddRequest) -> None:
        # Right after a restart of 100,000 ids, once the store's list is read (a second at most).
        self.d7app.when_listed(lambda: self._add(request))

    def _add(self, request: AddRequest) -> None:
        added = self.d7app.add_targets(list(request.targets), label=request.label)
        if not added or not self.is_mounted:
            return
        # A filter that would hide the new request is dropped: it must be seen and selected.
        watchlist = self.d7app.watchlist
        entry = watchlist.get(added[0])
        if entry is not None and not watchlist.matches(entry):
            watchlist.filter_text = ""
            watchlist.problems_only = False
            self.query_one(FilterBar).value = ""
        self.refresh_all(select=added[0])
        self.set_focus(self.query_one(WatchlistTable))
        skipped = skipped_words(request.already, request.repeated)
        if len(added) > 1 or skipped:
            more = f" ({skipped})" if skipped else ""
            self.d7app.say(f"Watching {plural(len(added), 'more request')}{more}.")

    def action_remove(self) -> None:
        selected = self.target("remove")
        if selected is None:
            return
        entry = self.d7app.remove_request(selected)
        if entry is None:
            return
        self.refresh_all()
        self.d7app.say(
            f"Stopped watching {short_id(selected)} {entry.label}".rstrip()
            + f" — {self.d7app.key('undo')} brings it back."
        )

    def action_undo(self) -> None:
        app = self.d7app
        if app.showing_archive:
            # In the archive, u brings the selected request back to the live list.
            self.action_unarchive()
            return
        undone = app.undo_remove()
        if undone is None:
            self.d7app.say("Nothing to undo.")
            return
        entry, archived = undone
        self.refresh_all(select=entry.request_id if not archived else None)
        where = f", in the archive ({app.key('archive_view')} shows it)" if archived else ""
        app.say(f"Watching {short_id(entry.request_id)} {entry.label}".rstrip() + f" again{where}.")

    def action_unarchive(self) -> None:
        selected = self.target("unarchive")
        if selected is None or not self.d7app.showing_archive:
            return
        if self.d7app.unarchive(selected):
            self.refresh_all()
            self.d7app.say(f"{short_id(selected)} is back in the live list.")

    def action_archive_view(self) -> None:
        app = self.d7app
        app.toggle_archive()
        self.refresh_all()
        count = len(app.watchlist)
        back, unarchive = app.key("archive_view"), app.key("unarchive")
        if app.showing_archive and not count:
            line = f"The archive is empty: requests final for a day move there. {back} goes back."
        elif app.showing_archive:
            line = (
                f"Archive: {plural(count, 'request')}, not polled. {back} or {app.key('back')} "
                f"goes back, {unarchive} brings the selected one back."
            )
        else:
            line = f"Live list: {plural(count, 'request')}."
        self.d7app.say(line)

    def action_export(self) -> None:
        if self.d7app.watchlist.problems_only:
            # The problems view exports what it shows: the worklist for follow-up calls.
            self.d7app.background(
                self._export_failures(self.d7app.watchlist.visible()),
                "export-failures",
                "writes the failures to a CSV worklist",
                exclusive=False,
            )
            return
        self.d7app.background(
            self._export(), "export", "writes the store to a JSON file", exclusive=False
        )

    async def _export(self) -> None:
        self._exported(await self.d7app.export("json"))

    async def _export_failures(self, entries: list[Entry]) -> None:
        self._exported(await self.d7app.export_failures(entries))

    def _exported(self, line: str) -> None:
        """Said in the event strip; a failure also stays in the banner until an export is
        written (a busy strip pushed it out of sight within two seconds)."""
        failed = line.startswith(EXPORT_FAILED)
        self.d7app.set_notice(EXPORT_FAILED, line if failed else None)
        self.d7app.say(line, "error" if failed else "information")

    def action_insights(self) -> None:
        app = self.d7app
        watchlist = app.watchlist
        self.app.push_screen(
            InsightsScreen(
                whole=lambda: list(app.watchlist),
                view=app.watchlist.visible,
                filtered=bool(watchlist.filter_text.strip() or watchlist.problems_only),
                now=app.clock.now,
                colours=lambda: phase_colours(self.app.current_theme),
                polls=app.poller.interval_range,
                masked=lambda: self.masked,
            )
        )

    def action_send(self) -> None:
        self.app.push_screen(SendDialog(), callback=self._send_confirmed)

    def _send_confirmed(self, message: Message | None) -> None:
        if message is None:
            self.d7app.say("Nothing was sent.")
            return
        self.d7app.send_test(message)

    def action_edit_label(self) -> None:
        selected = self.target("edit_label")
        entry = self.d7app.watchlist.get(selected) if selected else None
        if entry is None:
            return

        opened = (entry.label, entry.note)

        def saved(result: tuple[str, str] | None) -> None:
            if result is None:
                return
            # Only what the user changed is written: a label or note someone else set while
            # the dialog was open stays, unless the user typed over it (then it is said).
            label, note = (
                new if new != old else None for new, old in zip(result, opened, strict=True)
            )
            self.d7app.set_label_note(entry.request_id, label, note, opened=opened)
            self.refresh_all({entry.request_id})

        self.app.push_screen(LabelDialog(entry.request_id, *opened), saved)

    def action_refresh(self) -> None:
        selected = self.selected
        if selected is None:
            return
        if self.d7app.showing_archive:
            self.d7app.say(
                f"Archived requests are not polled: {self.d7app.key('undo')} brings it back."
            )
            return
        if self.d7app.following:  # the leader polls, for everyone
            self.d7app.ask_the_leader([selected])
            return
        poller = self.d7app.poller
        hold = poller.rate_limited(selected)
        now = self.d7app.clock.now()
        if hold is not None:
            self.d7app.say(f"Not polled now: {rate_wait(hold, now)}, then it is.", "warning")
        else:
            asked = poller.ask_now([selected])
            if asked.fresh:
                self.d7app.say(self._fresh_line(asked, now))
            elif not asked.started:
                self.d7app.say(
                    "Held: its credential was refused. Fix it and press "
                    f"{self.d7app.key('pause')}.",
                    "warning",
                )
        self._show_status(self.render_context())

    def _fresh_line(self, asked: Asked, now: float) -> str:
        """What `r`/`R` say of the ids they left alone, asked for a moment ago."""
        ago = max(0.0, now - (asked.fresh_at or now))
        return (
            f"Not asked again: {plural(asked.fresh, 'request')} asked for {ago:.0f} s ago "
            f"(asked again by hand {FRESH_FOR:g} s later at the soonest)."
        )

    def action_refresh_all(self) -> None:
        if self.d7app.following:
            self.d7app.ask_the_leader(None)
            return
        asked = self.d7app.poller.ask_now()
        now = self.d7app.clock.now()
        parts = [f"Polling {plural(asked.started, 'request')} now."] if asked.started else []
        if asked.fresh:
            parts.append(self._fresh_line(asked, now))
        for hold in self.d7app.poller.rate_holds().values():
            parts.append(f"{'The rest wait' if parts else 'Waiting'}: {rate_wait(hold, now)}.")
        said = " ".join(parts) or "Nothing to poll now."
        held = self.d7app.poller.auth_held()
        if held:
            said += (
                f" {plural(held, 'request')} {'waits' if held == 1 else 'wait'} for a refused "
                "credential: fix it and press "
                f"{self.d7app.key('pause')}."
            )
        self.d7app.say(said)
        self._show_status(self.render_context())

    def action_pause(self) -> None:
        app = self.d7app
        poller = app.poller
        # A follower polls nothing: pausing it would stop nothing, and resuming it would make
        # it read every id from the database on a schedule, for nothing.
        if app.desk is not None and app.following and app.polling:
            app.say(app.desk.nothing_to_pause(app.key("refresh")), "warning")
            return
        whole_desk = f" for {app.desk.whole}" if app.desk is not None else ""
        if poller.auth_stops:
            problem = app.reload_settings()
            if problem:
                self.d7app.say(f"Settings: {problem}", "error")
                return
            poller.resume_auth()
            poller.resume()
            self.d7app.say("Credential fixed? Polling those channels again.")
        elif not app.polling:
            app.start_polling()
            self.d7app.say("Polling restarted.")
        elif poller.paused:
            poller.resume()
            self.d7app.say(f"Polling resumed{whole_desk}.")
        else:
            poller.pause()
            self.d7app.say(f"Polling paused{whole_desk}: r and R still poll on demand.")
        self._show_status(self.render_context())

    def action_filter(self) -> None:
        bar = self.query_one(FilterBar)
        bar.display = True
        bar.value = self.d7app.watchlist.filter_text
        self.set_focus(bar)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.d7app.watchlist.filter_text = event.value
        self.refresh_all()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        bar = self.query_one(FilterBar)
        bar.display = bool(bar.value)
        self.set_focus(self.query_one(WatchlistTable))

    def action_back(self) -> None:
        self.remove_class("-detail")
        if self.focused is not None and self.focused.id in (
            "recipients",
            "recipient-fields",
            "timeline",
        ):
            self.set_focus(self.query_one(WatchlistTable))
            return
        watchlist = self.d7app.watchlist
        bar = self.query_one(FilterBar)
        if bar.display or watchlist.filter_text or watchlist.problems_only:
            watchlist.filter_text = ""
            watchlist.problems_only = False
            bar.value = ""
            bar.display = False
            self.set_focus(self.query_one(WatchlistTable))
            self.refresh_all()
        elif self.d7app.showing_archive:  # nothing else to step back from: the live list
            self.action_archive_view()

    def action_sort(self) -> None:
        self.d7app.watchlist.cycle_sort()
        self.refresh_all()

    def action_problems(self) -> None:
        watchlist = self.d7app.watchlist
        watchlist.problems_only = not watchlist.problems_only
        self.refresh_all()

    def action_copy(self) -> None:
        """The selected id; inside the detail, the selected recipient's number (pressed again:
        its msg_id)."""
        if isinstance(self.focused, RecipientsTable):
            self._copy_recipient()
            return
        selected = self.target("copy")
        if selected is None:
            return
        self.app.copy_to_clipboard(selected)
        self.d7app.say(f"Copied {selected}")

    def _copy_recipient(self) -> None:
        recipient = self.query_one(DetailPane).selected_recipient
        if recipient is None:
            return
        choices = [
            (what, value)
            for what, value in (("number", recipient.recipient), ("msg_id", recipient.msg_id))
            if value
        ]
        if not choices:
            return
        last = self._copied
        index = 1 if last == (recipient.key, choices[0][0]) and len(choices) > 1 else 0
        what, value = choices[index]
        self._copied = (recipient.key, what)
        self.app.copy_to_clipboard(value)
        shown = recipient_text(value, self.masked) if what == "number" else value
        more = "  (c again: msg_id)" if index == 0 and len(choices) > 1 else ""
        self.d7app.say(f"Copied {what} {shown}{more}")

    def action_mask(self) -> None:
        self.masked = not self.masked
        self.refresh_all()
        self.show_events()  # the lines that name recipients, masked or not
        self.d7app.say("Privacy mode: recipients masked." if self.masked else "Recipients shown.")

    def action_faster(self) -> None:
        self.d7app.poller.faster()
        self._interval_changed()

    def action_slower(self) -> None:
        self.d7app.poller.slower()
        self._interval_changed()

    def _interval_changed(self) -> None:
        fast, slow = self.d7app.poller.interval_range()
        self.d7app.say(
            f"Polling every {format_interval(fast)}, slowing to {format_interval(slow)}."
        )
        self._show_status(self.render_context())

    def action_toggle_theme(self) -> None:
        self.app.theme = LIGHT if self.app.theme == DARK else DARK

    @on(LineTable.Chosen, "#watchlist")
    def _row_chosen(self) -> None:
        self.action_enter_detail()

    def action_enter_detail(self) -> None:
        if self.selected is None:
            return
        if not self.has_class("-wide"):
            # The list steps aside, not the title, the event strip and the status line (Textual's
            # maximize would hide them too): news of other requests stays in sight.
            self.add_class("-detail")
        self.set_focus(self.query_one(RecipientsTable))

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())

    def action_quit(self) -> None:
        self.d7app.request_quit()
