"""The monitor screen: the view (view.py) and one action per key of the key table."""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.binding import BindingType
from textual.widgets import Input

from d7tui.channels.send import Message
from d7tui.output import plural
from d7tui.pollstate import Watch
from d7tui.ui.bindings import MONITOR_KEYS
from d7tui.ui.edge import on
from d7tui.ui.format import format_interval, rate_wait, recipient_text, short_id
from d7tui.ui.messages import AddRequest
from d7tui.ui.screens.add import AddDialog
from d7tui.ui.screens.help import HelpScreen
from d7tui.ui.screens.insights import InsightsScreen
from d7tui.ui.screens.label import LabelDialog
from d7tui.ui.screens.send import SendDialog
from d7tui.ui.screens.view import MonitorView
from d7tui.ui.theme import DARK, LIGHT, phase_colours
from d7tui.ui.widgets.detail import DetailPane, RecipientsTable
from d7tui.ui.widgets.filter_bar import FilterBar
from d7tui.ui.widgets.ids_input import flatten_paste
from d7tui.ui.widgets.line_table import LineTable
from d7tui.ui.widgets.watchlist_table import WatchlistTable
from d7tui.watchlist import Entry


class MainScreen(MonitorView):
    BINDINGS: ClassVar[list[BindingType]] = [key.binding() for key in MONITOR_KEYS]
    ESCAPE_TO_MINIMIZE = False  # escape is ours: it leaves the detail (the list comes back)

    def __init__(self) -> None:
        super().__init__()
        # Removed requests, newest last (and whether they came from the archive).
        self._undo: list[tuple[Entry, Watch | None, bool]] = []
        self._copied: tuple[str, str] | None = None  # (recipient key, what) copied last

    def action_add(self, initial: str = "") -> None:
        watchlist = self.d7app.watchlist
        self.app.push_screen(
            AddDialog(initial, watched=lambda rid: rid in watchlist, add=self._added)
        )

    def on_paste(self, event: events.Paste) -> None:
        if event.text.strip() and not isinstance(self.focused, Input):
            event.stop()
            self.action_add(flatten_paste(event.text))  # shown apart, as typed in the box

    def _added(self, request: AddRequest) -> None:
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
            self.d7app.say(f"Watching {plural(len(added), 'more request')}.")

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
        if not self._undo:
            self.d7app.say("Nothing to undo.")
            return
        entry, watch, archived = self._undo.pop()
        app.restore_request(entry, watch, archived=archived)
        self.refresh_all(select=entry.request_id if not archived else None)

    def action_unarchive(self) -> None:
        selected = self.selected
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
        if app.showing_archive and not count:
            line = "The archive is empty: requests final for a day move there. A goes back."
        elif app.showing_archive:
            line = f"Archive: {plural(count, 'request')}, not polled. A goes back, u unarchives."
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
        line = await self.d7app.export("json")
        failed = not line.startswith("Exported")
        self.d7app.say(line, "error" if failed else "information")

    async def _export_failures(self, entries: list[Entry]) -> None:
        line = await self.d7app.export_failures(entries)
        self.d7app.say(line, "information" if line.startswith("Exported") else "error")

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
            self.d7app.say(
                f"Archived requests are not polled: {self.d7app.key('undo')} brings it back."
            )
            return
        poller = self.d7app.poller
        hold = poller.rate_limited(selected)
        if hold is not None:
            now = self.d7app.clock.now()
            self.d7app.say(f"Not polled now: {rate_wait(hold, now)}, then it is.", "warning")
        elif not poller.refresh(selected):
            self.d7app.say(
                f"Held: its credential was refused. Fix it and press {self.d7app.key('pause')}.",
                "warning",
            )
        self._show_status(self.render_context())

    def action_refresh_all(self) -> None:
        started = self.d7app.poller.refresh()
        said = f"Polling {plural(started, 'request')} now."
        now = self.d7app.clock.now()
        for hold in self.d7app.poller.rate_holds().values():
            said += f" The rest wait: {rate_wait(hold, now)}."
        self.d7app.say(said)
        self._show_status(self.render_context())

    def action_pause(self) -> None:
        app = self.d7app
        poller = app.poller
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
            self.d7app.say("Polling resumed.")
        else:
            poller.pause()
            self.d7app.say("Polling paused: r and R still poll on demand.")
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
        self.remove_class("-detail")
        if self.focused is not None and self.focused.id in (
            "recipients",
            "recipient-fields",
            "timeline",
        ):
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
        """The selected id; inside the detail, the selected recipient's number (pressed again:
        its msg_id)."""
        if isinstance(self.focused, RecipientsTable):
            self._copy_recipient()
            return
        selected = self.selected
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
        self.query_one(RecipientsTable).focus()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())

    def action_quit(self) -> None:
        self.d7app.request_quit()
