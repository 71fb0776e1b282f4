"""The monitor screen: the view (view.py) and one action per key of the key table."""

from __future__ import annotations

from typing import ClassVar

from textual import events, on
from textual.binding import BindingType
from textual.widgets import Input

from d7tui.poller import Watch
from d7tui.ui.bindings import MONITOR_KEYS
from d7tui.ui.format import format_interval, short_id
from d7tui.ui.messages import AddRequest
from d7tui.ui.screens.add import AddDialog
from d7tui.ui.screens.help import HelpScreen
from d7tui.ui.screens.label import LabelDialog
from d7tui.ui.screens.view import MonitorView
from d7tui.ui.theme import DARK, LIGHT
from d7tui.ui.widgets.detail import DetailPane, RecipientsTable
from d7tui.ui.widgets.filter_bar import FilterBar
from d7tui.ui.widgets.watchlist_table import WatchlistTable
from d7tui.watchlist import Entry


class MainScreen(MonitorView):
    BINDINGS: ClassVar[list[BindingType]] = [key.binding() for key in MONITOR_KEYS]
    ESCAPE_TO_MINIMIZE = False  # escape is ours: it leaves the detail (and minimizes it)

    def __init__(self) -> None:
        super().__init__()
        # Removed requests, newest last (and whether they came from the archive).
        self._undo: list[tuple[Entry, Watch | None, bool]] = []

    def action_add(self, initial: str = "") -> None:
        watchlist = self.d7app.watchlist
        self.app.push_screen(
            AddDialog(initial, watched=lambda rid: rid in watchlist), callback=self._added
        )

    def on_paste(self, event: events.Paste) -> None:
        if event.text.strip() and not isinstance(self.focused, Input):
            event.stop()
            self.action_add(event.text)

    def _added(self, request: AddRequest | None) -> None:
        if request is None:
            return
        added = self.d7app.add_targets(list(request.targets), label=request.label)
        if not added:
            return
        # A filter that would hide the new request is dropped: it must be seen and selected.
        watchlist = self.d7app.watchlist
        entry = watchlist.get(added[0])
        if entry is not None and not watchlist.matches(entry):
            watchlist.filter_text = ""
            watchlist.problems_only = False
            self.query_one(FilterBar).value = ""
        self.refresh_all(select=added[0])
        self.query_one(WatchlistTable).focus()
        if len(added) > 1:
            self.notify(f"Watching {len(added):,} more requests.", markup=False)

    def action_remove(self) -> None:
        selected = self.selected
        if selected is None:
            return
        archived = self.d7app.showing_archive
        removed = self.d7app.remove_request(selected)
        if removed is None:
            return
        entry, watch = removed
        self._undo.append((entry, watch, archived))
        self.query_one(WatchlistTable).forget(selected)
        self.refresh_all()
        self.notify(
            f"Stopped watching {short_id(selected)} {entry.label}".rstrip()
            + " — u brings it back.",
            markup=False,
        )

    def action_undo(self) -> None:
        app = self.d7app
        if app.showing_archive:
            # In the archive, u brings the selected request back to the live list.
            self.action_unarchive()
            return
        if not self._undo:
            self.notify("Nothing to undo.", markup=False)
            return
        entry, watch, archived = self._undo.pop()
        app.restore_request(entry, watch, archived=archived)
        self.refresh_all(select=entry.request_id if not archived else None)

    def action_unarchive(self) -> None:
        selected = self.selected
        if selected is None or not self.d7app.showing_archive:
            return
        if self.d7app.unarchive(selected):
            self.query_one(WatchlistTable).forget(selected)
            self.refresh_all()
            self.notify(f"{short_id(selected)} is back in the live list.", markup=False)

    def action_archive_view(self) -> None:
        app = self.d7app
        app.toggle_archive()
        self.refresh_all()
        count = len(app.watchlist)
        self.notify(
            f"Archive: {count:,} requests, not polled. A goes back, u unarchives."
            if app.showing_archive
            else f"Live list: {count:,} requests.",
            markup=False,
        )

    def action_export(self) -> None:
        self.d7app.background(
            self._export(), "export", "writes the store to a JSON file", exclusive=False
        )

    async def _export(self) -> None:
        line = await self.d7app.export("json")
        failed = not line.startswith("Exported")
        self.notify(
            line, title="Export", severity="error" if failed else "information", markup=False
        )

    def action_edit_label(self) -> None:
        selected = self.selected
        entry = self.d7app.watchlist.get(selected) if selected else None
        if entry is None:
            return

        def saved(result: tuple[str, str] | None) -> None:
            if result is None:
                return
            self.d7app.set_label_note(entry.request_id, *result)
            self.refresh_all({entry.request_id})

        self.app.push_screen(LabelDialog(entry.request_id, entry.label, entry.note), saved)

    def action_refresh(self) -> None:
        selected = self.selected
        if selected is None:
            return
        if self.d7app.showing_archive:
            self.notify("Archived requests are not polled: u brings it back.", markup=False)
            return
        if not self.d7app.poller.refresh(selected):
            self.notify(
                "Held: its credential was refused. Fix it and press p.",
                severity="warning",
                markup=False,
            )
        self._show_status(self.render_context())

    def action_refresh_all(self) -> None:
        started = self.d7app.poller.refresh()
        self.notify(f"Polling {started:,} requests now.", markup=False)
        self._show_status(self.render_context())

    def action_pause(self) -> None:
        app = self.d7app
        poller = app.poller
        if poller.auth_stops:
            problem = app.reload_settings()
            if problem:
                self.notify(problem, title="Settings", severity="error", markup=False)
                return
            poller.resume_auth()
            poller.resume()
            self.notify("Credential fixed? Polling those channels again.", markup=False)
        elif not app.polling:
            app.start_polling()
            self.notify("Polling restarted.", markup=False)
        elif poller.paused:
            poller.resume()
            self.notify("Polling resumed.", markup=False)
        else:
            poller.pause()
            self.notify("Polling paused: r and R still poll on demand.", markup=False)
        self._show_status(self.render_context())

    def action_filter(self) -> None:
        bar = self.query_one(FilterBar)
        bar.display = True
        bar.value = self.d7app.watchlist.filter_text
        bar.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.d7app.watchlist.filter_text = event.value
        self.refresh_all()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        bar = self.query_one(FilterBar)
        bar.display = bool(bar.value)
        self.query_one(WatchlistTable).focus()

    def action_back(self) -> None:
        if self.maximized is not None:
            self.minimize()
        if self.focused is not None and self.focused.id in ("recipients", "timeline"):
            self.query_one(WatchlistTable).focus()
            return
        watchlist = self.d7app.watchlist
        bar = self.query_one(FilterBar)
        if bar.display or watchlist.filter_text or watchlist.problems_only:
            watchlist.filter_text = ""
            watchlist.problems_only = False
            bar.value = ""
            bar.display = False
            self.query_one(WatchlistTable).focus()
            self.refresh_all()

    def action_sort(self) -> None:
        self.d7app.watchlist.cycle_sort()
        self.refresh_all()

    def action_problems(self) -> None:
        watchlist = self.d7app.watchlist
        watchlist.problems_only = not watchlist.problems_only
        self.refresh_all()

    def action_copy(self) -> None:
        selected = self.selected
        if selected is None:
            return
        self.app.copy_to_clipboard(selected)
        self.notify(f"Copied {selected}", markup=False)

    def action_mask(self) -> None:
        self.masked = not self.masked
        if self.masked:
            self.app.clear_notifications()  # they may name recipients in full
        self.refresh_all()
        self.notify(
            "Privacy mode: recipients masked." if self.masked else "Recipients shown.",
            markup=False,
        )

    def action_faster(self) -> None:
        self.d7app.poller.faster()
        self._interval_changed()

    def action_slower(self) -> None:
        self.d7app.poller.slower()
        self._interval_changed()

    def _interval_changed(self) -> None:
        fast, slow = self.d7app.poller.interval_range()
        self.notify(
            f"Polling every {format_interval(fast)}, slowing to {format_interval(slow)}.",
            markup=False,
        )
        self._show_status(self.render_context())

    def action_toggle_theme(self) -> None:
        self.app.theme = LIGHT if self.app.theme == DARK else DARK

    def action_enter_detail(self) -> None:
        if self.selected is None:
            return
        detail = self.query_one(DetailPane)
        if not self.has_class("-wide"):
            self.maximize(detail, container=False)
        self.query_one(RecipientsTable).focus()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())

    def action_quit(self) -> None:
        self.app.exit(0)
