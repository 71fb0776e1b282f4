"""The Textual app: builds the model, the poller and the main screen; one factory (`make_app`)
for the command line and the tests, so the tests run exactly what users run."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import termios
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from textual import events
from textual.app import App, SystemCommand
from textual.driver import Driver
from textual.screen import Screen
from textual.timer import Timer

from d7tui.channels.send import TEST_LABEL, MaybeSent, Message
from d7tui.clock import Clock, SystemClock
from d7tui.config import Settings, load_settings
from d7tui.errors import ChannelError
from d7tui.fetch_thread import FetchThread
from d7tui.keys_first import KeysFirst
from d7tui.memory import FIRST_ROWS, EarlyOpen, Memory
from d7tui.models import IdKind, InfobipSource, Target
from d7tui.monitor import DESK_RETRY, NO_ROWS, Monitor
from d7tui.notify import DesktopNotifier, choose
from d7tui.poller import Poller
from d7tui.pollstate import Fetcher, NewsBatch, PollConfig, PollUpdate
from d7tui.report_guard import KeepsReports, ReportGuard
from d7tui.safety import Secret, error_line, one_line, whole_line
from d7tui.store import StoreError
from d7tui.store.commands import Replaced
from d7tui.store.db import DB_NAME, default_path
from d7tui.ui import hints, terminal
from d7tui.ui.accounts import BALANCE_EVERY, Accounts
from d7tui.ui.alerts import Bell
from d7tui.ui.bindings import MONITOR_KEYS, key_label
from d7tui.ui.desk import LEAD_CHECK, DeskLink
from d7tui.ui.edge import Edge, EdgeConsole, Guarded, guard_awaitable
from d7tui.ui.format import format_clock
from d7tui.ui.keymap import resolve as resolve_keymap
from d7tui.ui.messages import PollerStopped, PollNews
from d7tui.ui.paste_guard import PasteGuard
from d7tui.ui.screens.monitor import MonitorScreen
from d7tui.ui.theme import DARK, THEMES
from d7tui.ui.widgets.event_strip import Event, Events, Severity
from d7tui.watchlist import Entry, Watchlist

DEMO_TOKEN = "sim-token"  # the simulator's own credentials: not secrets
DEMO_KEY = "sim-infobip-key"
ARCHIVE_AFTER = 24 * 3600.0  # a request final this long leaves the live list for the archive
ARCHIVE_CHECK = 60.0  # seconds between two looks for requests to archive
PICK_UP_CHECK = 5.0  # seconds between two looks for ids `d7tui add` wrote from another shell
INTERNAL_ERROR = "internal error"
SETTINGS_SHOWN = 3  # settings problems the banner names; the rest are counted
LOAD_PART = 2000  # remembered requests read and filled in between two turns of the UI loop
SKETCH_PART = 1000  # remembered requests drawn in one turn of the UI loop after those (~10 ms)
SKETCH_PAUSE = 0.005  # seconds between two parts: keys go between them
SWITCH_INTERVAL = 0.001  # seconds a thread holds the interpreter while another waits (run_monitor)
DATABASE_AWAY = "The desk's database cannot be reached: "
STORE_TROUBLE = "Saving fails: "  # how the banner's line about held writes begins


@dataclass(frozen=True, slots=True)
class UiOptions:
    mask: bool = False  # start in privacy mode
    bell: bool = True  # ring the terminal bell when a recipient fails
    demo: bool = False
    archive_after: float = ARCHIVE_AFTER


class D7App(Guarded, App[int]):
    CSS_PATH = "d7tui.tcss"
    TITLE = "d7tui"

    def __init__(
        self,
        settings: Settings,
        *,
        poll_config: PollConfig | None = None,
        clock: Clock | None = None,
        options: UiOptions | None = None,
        initial: Iterable[tuple[Target, str]] = (),
        client: Fetcher | None = None,
        simulator: Any = None,
        reload_settings: Callable[[], Settings] | None = None,
        store_path: Path | None = None,
        persist: bool = True,
        early: EarlyOpen | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.clock = clock or SystemClock()
        self.options = options or UiOptions()
        self.showing_archive = False
        self.events = Events()  # what the event strip tells, newest last
        # A failure seen while the terminal is not focused also raises a desktop notification.
        self.notifier = DesktopNotifier(
            None,  # the driver's write, once there is a driver (none in tests: they set it)
            choose(settings.desktop_notifications, os.environ),
            tmux=bool(os.environ.get("TMUX")),
            clock=self.clock.now,
        )
        # `self.bell` looked up at each ring: a test counts the rings by replacing it.
        self.failure_bell = Bell(lambda: self.bell(), self.clock.now)
        self.accounts = Accounts(
            lambda: self.settings,
            self._shared_engine,  # one engine for everything on this loop
            on_low=self._balance_low,
        )
        # The user's [keymap], applied before any screen exists: the footer is built with it.
        self.keymap, self._keymap_problems = resolve_keymap(settings.keymap, settings.config_file)
        self._settings_shown: list[str] = []  # the banner's lines about the settings
        # Printed on standard error before the screen took the terminal (cli._settings).
        self._printed_at_start = set(settings.warnings)
        if self.keymap:
            self.set_keymap(self.keymap)
        self.edge = Edge(self._data_directory, self._secrets, self._internal_error)
        self._paste_guard = PasteGuard()
        self.error_console = EdgeConsole(self.edge)
        self.farewell: list[str] = []  # printed on the terminal once the screen is gone
        self._sending: list[Message] = []  # test messages sent and not answered yet
        self._quitting = False  # `q` waits for those (request_quit)
        self._notify_flush_due = False  # a timer will send what the notifier held back
        self._store_path = store_path
        self._persist = persist
        self._early = early  # the default store, opened while the screen's code was imported
        self._first_rows = NO_ROWS  # the list's first screenful, drawn before the rest is read
        self._when_listed: list[Callable[[], None]] = []  # what waits for the list (when_listed)
        self.loading = False  # remembered states are being read: polling waits for them
        self.poller = Poller(
            client,  # type: ignore[arg-type]  # set on mount when not given
            poll_config or PollConfig(workers=settings.max_in_flight),
            clock=self.clock,
        )
        # A key on its way to the screen goes before the polls' work (keys_first.py).
        self.keys_first = KeysFirst()
        self._frames_told = False  # the driver tells when it writes a frame (_frame_written)
        self.poller.make_way = self.keys_first.wait
        # What the monitor does, without the screen (monitor.py); the app redraws after it.
        self.monitor = Monitor(
            settings,
            self.poller,
            clock=self.clock,
            archive_after=self.options.archive_after,
            say=self.say,
            reload=reload_settings,
        )
        self.monitor.client = client
        self.monitor.on_news = self._post_news
        self._store_told: dict[str, int] = {}  # each line the store put in the banner, how often
        self.desk: DeskLink | None = None  # one poller per store: a desk's database, a file
        self.simulator = simulator
        self.data_dir: str | None = None
        self._client = client
        self._own_client = client is None
        self._initial = list(initial)
        self._main: MonitorScreen | None = None
        self._polling = False
        self._set_up = False
        self._begun = False
        self._desk_retrying: Timer | None = None  # tries a desk's database away at start
        if self.options.demo:
            self.sub_title = "demo: the built-in simulator, no account needed"

    # -- life cycle --------------------------------------------------------------------------

    def get_driver_class(self) -> type[Driver]:
        return terminal.driver_class(
            super().get_driver_class(), self._terminal_writer, self._key_came, self._frame_written
        )

    def _key_came(self) -> None:
        # In the terminal's input thread, from the driver made in App.__init__: the gate may
        # not be there yet.
        keys_first = getattr(self, "keys_first", None)
        if keys_first is not None:
            keys_first.close()

    def _frame_written(self) -> None:
        self._frames_told = True
        keys_first = getattr(self, "keys_first", None)
        if keys_first is not None:
            keys_first.frame()

    def _terminal_writer(self, write: Callable[[str], None]) -> None:
        self.notifier.write = write

    def get_default_screen(self) -> Screen[Any]:
        self._main = MonitorScreen()
        return self._main

    async def on_mount(self) -> None:
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = DARK
        if self.simulator is not None:
            self._start_demo()
        if self._persist:
            await self._open_memory()
        memory = self.memory
        if self._client is None:
            self._client = self._status_client()
            self.monitor.client = self._client
        # One-time Infobip reports are pulled only while they can be kept (report_guard.py).
        if memory is not None:
            self.poller.client = ReportGuard(self._client, memory.report_refusal, memory.remembered)
            self.poller.backpressure = memory.room
        else:
            self.poller.client = ReportGuard(self._client, lambda: self.monitor.no_memory)
        if memory is not None and memory.one_poller:  # one poller per store: lead, or follow
            self._link_desk(memory)
        self._exit_with_the_terminal()
        self.watch(self, "app_focus", self._focus_changed, init=False)
        for setting_warning in [*self.settings.warnings, *self._keymap_problems]:
            self.say(one_line(setting_warning), "warning")
        self._show_settings_problems()
        self._set_up = True
        self.set_interval(ARCHIVE_CHECK, self._archive_check, name="d7tui-archive")
        self.set_interval(PICK_UP_CHECK, self._pick_up_check, name="d7tui-pick-up")
        if self.monitor.held_for_desk is not None:  # the desk's database away at start
            self._desk_retrying = self.set_interval(
                DESK_RETRY, self._desk_retry, name="d7tui-desk-retry"
            )
        self.read_balances()
        self.background(self._balances_every(), "balance-clock", "reads the balances again")
        self.begin()

    def _link_desk(self, memory: Memory) -> None:
        """One poller per store: this monitor leads, or follows the one that does."""
        self.desk = DeskLink(
            memory,
            self.poller,
            self.poller.client,
            say=lambda line: self.say(line),
            on_watch_changes=self._watches_changed,
            on_lost=self._database_away,
        )
        self.monitor.following = lambda: self.following
        self.monitor.shows_who = memory.shared
        self.desk.start()
        self._lead_check()  # the status line names the leader from the start
        self.set_interval(LEAD_CHECK, self._lead_check, name="d7tui-lead")

    def _status_client(self) -> Fetcher:
        """The client that asks the vendors. On the system clock it asks and parses in a thread
        of its own (fetch_thread.py: keys no longer wait behind a few hundred answers a
        second); a clock held by a test moves only on this loop, so there it stays here."""
        from d7tui.channels.status import StatusClient

        memory = self.memory
        build = partial(
            StatusClient,
            self.settings,
            report_sink=memory.astore.commit_report if memory is not None else None,
            on_first_reports=self._warn_reports,
            clock=self.clock,
        )
        if not isinstance(self.clock, SystemClock):
            return build()
        loop = asyncio.get_running_loop()
        thread = FetchThread(
            partial(build, on_first_reports=partial(loop.call_soon_threadsafe, self._warn_reports))
        )
        thread.make_way = self.keys_first.wait
        return thread

    def _shared_engine(self) -> Any:
        """The polls' engine, for the balances and sends, when it belongs to this loop."""
        if isinstance(self._client, FetchThread):
            return None  # its session belongs to the thread's loop: Accounts has its own
        return getattr(self._client, "engine", None)

    # -- the app's edge ------------------------------------------------------------------------

    def _data_directory(self) -> Path:
        """Where the error log goes: beside the store (the user's data directory)."""
        if self.memory is not None:
            return self.memory.path.parent
        if self._store_path is not None:
            return self._store_path.parent
        if self.data_dir is not None:
            return Path(self.data_dir)
        return default_path().parent

    def _secrets(self) -> list[str]:
        return self.settings.secrets()

    def _internal_error(self, edge: Edge) -> None:
        """An error escaped a handler: one line in the banner, kept, with the file to read."""
        times = f" ({edge.count:,} times)" if edge.count > 1 else ""
        self.set_notice(INTERNAL_ERROR, f"{INTERNAL_ERROR}{times} — details in {edge.path}")

    def set_notice(self, kind: str, line: str | None) -> None:
        """The banner's line of one `kind` (the start of its text): replaced by `line`, or
        gone with None."""
        self.notices[:] = [n for n in self.notices if not n.startswith(kind)]
        if line is not None:
            self.notices.append(one_line(line))
        if self._main is not None and self._main.is_mounted:
            self._main.show_banner()

    @property
    def watchlist(self) -> Watchlist:
        """The list on screen: the live one, or the archive (`A`)."""
        return self.archived if self.showing_archive else self.live

    @property
    def live(self) -> Watchlist:
        return self.monitor.live

    @property
    def archived(self) -> Watchlist:
        return self.monitor.archived

    @property
    def memory(self) -> Memory | None:
        return self.monitor.memory

    @memory.setter
    def memory(self, memory: Memory | None) -> None:
        self.monitor.memory = memory

    @property
    def notices(self) -> list[str]:
        """Lines the banner keeps showing (the store, the lock, an internal error)."""
        return self.monitor.notices

    async def _open_memory(self) -> None:
        path: Path | str | None = self._store_path
        if path is None and self.data_dir is not None:
            path = Path(self.data_dir) / DB_NAME  # demo: a throw-away store
        elif path is None:
            path = self.settings.store_location()  # a desk's PostgreSQL, if configured
        early, self._early = self._early, None
        if early is not None and path != early.path:  # not the store opened early
            early.discard()
            early = None
        self._first_rows = await self.monitor.open_memory(
            path,
            reports=self.settings.infobip_source is InfobipSource.REPORTS,
            on_error=self._store_failed,
            on_trouble=self._store_trouble,
            on_notice=self._store_notice,
            early=early,
            first=FIRST_ROWS,
        )

    def _warn_reports(self) -> None:
        """The first pull of one-time reports from an account (in this data directory) says
        what it costs every other consumer of that account."""
        from d7tui.first_use import REPORTS, REPORTS_WARNING, first_time
        from d7tui.store.db import default_path

        directory = self.memory.path.parent if self.memory is not None else default_path().parent
        if first_time(directory, REPORTS, self.settings.infobip_base_url):
            self.say(REPORTS_WARNING, "warning")

    def _store_failed(self, error: StoreError) -> None:
        self.say(f"Store: {error_line(error)}", "error")

    def _store_trouble(self, error: StoreError | None) -> None:
        """Writes are held (the disk is full ...), or work again: the banner says which."""
        self.notices[:] = [n for n in self.notices if not n.startswith(STORE_TROUBLE)]
        if error is not None:
            where = self.memory.held_where() if self.memory is not None else "held in memory"
            self.notices.append(
                f"{STORE_TROUBLE}{error_line(error)}. What is not saved yet is {where}; it is "
                "tried again every few seconds, polling waits when too much is held, and "
                "Infobip reports are not pulled meanwhile."
            )
        elif self.memory is not None:
            self.say("Saving works again: everything held was saved.")

    def _store_notice(self, line: str) -> None:
        """Something the store put right (its file deleted under it ...): said, and kept whole
        in the banner (it wraps): what could not be recovered is said at its end. The same
        again is one line with a count: a file emptied every second stacked the same three
        lines until they covered the list (fresh-eyes F3)."""
        whole = whole_line(line)
        count = self._store_told[whole] = self._store_told.get(whole, 0) + 1
        again = f"{whole} ("
        self.notices[:] = [n for n in self.notices if n != whole and not n.startswith(again)]
        self.notices.append(whole if count == 1 else f"{again}{count:,} times)")
        self.say(f"Store: {one_line(line)}", "warning")

    def begin(self) -> None:
        """Watch the initial ids and start polling, once both the app and its main screen are
        mounted (whichever comes last calls it)."""
        if self._begun or not self._set_up or self._main is None or not self._main.is_mounted:
            return
        self._begun = True
        # The list first, from one quick read: the rows on screen at once, the other entries
        # of 100,000 once those are painted; the states and timelines next, off the UI loop,
        # and polling once they are in: a restart must not ask again what the store knows is
        # final.
        first, self._first_rows = self._first_rows, NO_ROWS
        self.monitor.sketch_first(first)
        for remembered in self.monitor.take_read_only():
            self.monitor.restore_remembered(remembered)
        for target, label in self._initial:
            self.add_targets([target], label=label, refresh=False)
        if self.memory is not None and (
            len(self.live) + len(self.archived) or self.monitor.sketching
        ):
            self.loading = True
            if self.monitor.sketching:
                self.call_after_refresh(self._read_the_list)
            else:
                self._read_remembered()
        else:
            self.start_polling()
        self._main.refresh_all()  # after: the status line's first word is "polling", not "stopped"

    def _read_the_list(self) -> None:
        self.background(
            self._read_list_then_draw(), "list", "reads the rest of the remembered list"
        )

    async def _read_list_then_draw(self) -> None:
        await self.monitor.read_rest()
        self._draw_the_rest()

    def _draw_the_rest(self) -> None:
        """The first rows are painted: the rest of the list, a part a turn (keys in between),
        then what the store remembers."""
        if self.monitor.sketch_more(SKETCH_PART):
            self.set_timer(SKETCH_PAUSE, self._draw_the_rest, name="d7tui-sketch")
            return
        if self._main is not None:
            self._main.refresh_all()
        self._read_remembered()

    def _read_remembered(self) -> None:
        self.background(self._read_the_rest(), "load", "reads remembered states and timelines")

    async def _read_the_rest(self) -> None:
        await self.monitor.read_remembered(LOAD_PART)
        self.loading = False
        self.start_polling()
        if self._main is not None:
            self._main.refresh_all()

    def _start_demo(self) -> None:
        base_url = self.simulator.start()
        self.data_dir = tempfile.mkdtemp(prefix="d7tui-demo-")
        self.settings = replace(
            self.settings,
            d7_token=Secret(DEMO_TOKEN),
            d7_base_url=base_url,
            infobip_key=Secret(DEMO_KEY),
            infobip_base_url=base_url,
        )
        if not self._initial:
            self._initial = [
                (Target(rid, channel, IdKind(kind)), label)
                for rid, channel, kind, label in self.simulator.demo_targets()
            ]

    async def on_unmount(self) -> None:
        # Every settings problem the banner could not fit is on the terminal after the quit
        # (those of config.toml were printed before the screen came, the keymap's were not).
        self.farewell.extend(
            f"warning: {problem}"
            for problem in (*self.settings.warnings, *self._keymap_problems)
            if problem not in self._printed_at_start
        )
        for message in self._sending:  # quit before the vendor answered: it may have gone out
            self.farewell.append(
                f"{message.describe()} was being sent when the monitor quit: it may have been "
                f"sent, and is not watched; look in {message.vendor()}'s dashboard before "
                "sending again"
            )
        if isinstance(self._client, KeepsReports) and self._client.reports_in_flight():
            self.farewell.append(
                "an Infobip report pull was in flight when the monitor quit: the reports of its "
                "page may be lost (Infobip hands each out once; its logs still show the last 48 "
                "hours: --infobip-source logs)"
            )
        self.poller.pause()
        with contextlib.suppress(Exception):
            self._run_when_listed()  # ids added just before the quit are kept (the list waited)
        with contextlib.suppress(Exception):
            await self.accounts.aclose()
        if self._own_client and self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()  # type: ignore[attr-defined]
        if self.memory is not None:
            with contextlib.suppress(Exception):
                await self.memory.close()
            self.farewell.extend(self.memory.farewell)
        else:
            await self.monitor.settle_held()
            if (held := await asyncio.to_thread(self.monitor.keep_held)) is not None:
                self.farewell.append(held)
        if self.simulator is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.simulator.stop)
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    async def on_event(self, event: events.Event) -> None:
        if not self._paste_guard.admits(event):
            if self._paste_guard.dropped == 1:  # once a paste
                self.say(
                    "Keys that came inside a paste were ignored: a paste types text, it never "
                    "presses keys (check what was copied).",
                    "warning",
                )
            return
        if isinstance(event, events.Key):
            self.keys_first.close()  # (a terminal's reader closed it already, as it read it)
            await super().on_event(event)
            # Its frame is the next one written; a driver that does not tell its frames (a
            # test's): once the screen has taken what the key did.
            self.keys_first.handled()
            if not self._frames_told:
                (self.focused or self.screen).call_after_refresh(self.keys_first.open)
            return
        await super().on_event(event)

    # -- telling the user ------------------------------------------------------------------------

    def say(
        self,
        text: str,
        severity: Severity = "information",
        *,
        masked: str | None = None,
        at: float | None = None,
    ) -> None:
        """One line in the event strip (never a toast: nothing may cover what the user reads or
        types), shown as plain text; `masked`: the line in privacy mode, if it names anyone;
        `at`: when it happened, if not now (a change a desk's follower read from the store)."""
        now = self.clock.now()
        when = format_clock(now if at is None else at, now)
        hidden = one_line(masked, 300) if masked is not None else None
        self.events.append(Event(when, one_line(text, 300), severity, hidden))
        if self._main is not None and self._main.is_mounted:
            self._main.show_events()

    def _focus_changed(self, focused: bool) -> None:
        self.notifier.focus(focused)

    def notify_failures(self, lines: list[str]) -> None:
        """Failures just seen: a desktop notification too, if the user is looking elsewhere
        (the notifier decides; nothing is sent while the terminal has focus)."""
        if not lines:
            return
        more = f" (+{len(lines) - 1:,} more)" if len(lines) > 1 else ""
        self.notifier.notify("d7tui: a message failed", lines[0] + more)
        wait = self.notifier.flush_in()
        if wait is not None and not self._notify_flush_due:
            # Held back by the gap: sent when the gap is over, if no later failure carried it
            # (looked at every second: the gap is counted on the monitor's clock).
            self._notify_flush_due = True
            self.set_timer(min(wait, 1.0) + 0.05, self._flush_notifications, name="d7tui-notify")

    def _flush_notifications(self) -> None:
        self._notify_flush_due = False
        self.notifier.flush()
        wait = self.notifier.flush_in()
        if wait is not None:  # not sent yet (too soon): try again when it may be
            self._notify_flush_due = True
            self.set_timer(min(wait, 1.0) + 0.05, self._flush_notifications, name="d7tui-notify")

    def hint_for(self, entry: Entry) -> str | None:
        """What to do about a request that is stuck, when d7tui knows."""
        return hints.hint(entry, self.settings)

    # -- the accounts' money -------------------------------------------------------------------

    def read_balances(self) -> None:
        self.background(self._read_balances(), "balance", "reads the accounts' balances")

    async def _balances_every(self) -> None:
        # On the app's clock, not a Textual timer: a test moves it by hand, as the polls'.
        while True:
            await self.clock.sleep(BALANCE_EVERY)
            self.read_balances()

    async def _read_balances(self) -> None:
        await self.accounts.refresh()
        if self._main is not None and self._main.is_mounted:
            self._main.show_status()

    def _balance_low(self, vendor: str) -> None:
        self.say(
            f"Balance low: {self.accounts.text(vendor)}. Top it up before messages fail for "
            "lack of credit.",
            "warning",
        )

    # -- polling -----------------------------------------------------------------------------

    @property
    def polling(self) -> bool:
        return self._polling

    def start_polling(self) -> None:
        self._polling = True
        self.background(self._run_poller(), "poller", "polls every watched id on its schedule")

    def background(
        self,
        work: Coroutine[Any, Any, object],
        name: str,
        description: str,
        *,
        exclusive: bool = True,
    ) -> None:
        """Run `work` as a worker of its own name (`exclusive`: a new one replaces a running
        one); a failure is the worker's to report, never the end of the app."""
        self.run_worker(
            guard_awaitable(self, work, f"worker {name}"),
            name=name,
            group=name,
            description=description,
            exclusive=exclusive,
            exit_on_error=False,
        )

    async def _run_poller(self) -> None:
        try:
            await self.poller.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the worker's edge: say so, keep the app alive
            if self._main is not None:
                self._main.post_message(PollerStopped(one_line(f"{type(exc).__name__}: {exc}")))
        finally:
            self._polling = False

    def _poll_update(self, update: PollUpdate) -> None:
        self.monitor._poll_update(update)

    def _post_news(self, batch: NewsBatch) -> None:
        """A batch of poll results opened: the screen takes all that joined it by then."""
        if self._main is not None:
            self._main.post_message(PollNews(batch))

    @property
    def news_waiting(self) -> bool:
        """Poll results the screen has not taken yet."""
        return self.monitor.news_waiting

    def add_targets(
        self, targets: list[Target], *, label: str = "", refresh: bool = True
    ) -> list[str]:
        """Start watching; returns the ids that were not watched already."""
        added = self.monitor.add_targets(targets, label=label)
        if refresh and added and self._main is not None:
            self._main.refresh_all(select=added[0])
        return added

    def when_listed(self, then: Callable[[], None]) -> None:
        """`then` now, or once the rest of the store's list is read (the first second or so of
        a restart of 100,000 ids), without blocking the screen's loop meanwhile: ids added by a
        key then waited ~1 s for the read (Monitor.sketch_these). Run at quit all the same."""
        if not self.monitor.reading_list:
            then()
            return
        self._when_listed.append(then)
        if len(self._when_listed) == 1:
            self.background(
                self._once_listed(),
                "when-listed",
                "adds ids once the list is read",
                exclusive=False,
            )

    async def _once_listed(self) -> None:
        await self.monitor.read_rest()
        self._run_when_listed()

    def _run_when_listed(self) -> None:
        waiting, self._when_listed = self._when_listed, []
        for then in waiting:
            then()

    def remove_request(self, request_id: str) -> Entry | None:
        """Stop watching the request (from the list on screen); `undo_remove` brings it back."""
        return self.monitor.remove_request(request_id, archived=self.showing_archive)

    def undo_remove(self) -> tuple[Entry, bool] | None:
        return self.monitor.undo()

    def set_label_note(
        self,
        request_id: str,
        label: str | None,
        note: str | None,
        *,
        opened: tuple[str, str] | None = None,
    ) -> None:
        """See Monitor.set_label_note; what a change replaced is said in the event strip (also
        once written, for an edit found in the store that the pick-up had not brought yet)."""

        def tell(changes: list[Replaced]) -> None:
            for change in changes:
                self.say(
                    change.said(),
                    "warning",
                    masked=f"{change.request_id}: {change.what} replaced (changed elsewhere "
                    "since the dialog opened; privacy mode hides what it was)",
                )

        tell(self.monitor.set_label_note(request_id, label, note, opened=opened, told=tell))

    # -- the archive -------------------------------------------------------------------------

    def toggle_archive(self) -> None:
        self.showing_archive = not self.showing_archive

    def unarchive(self, request_id: str) -> bool:
        """Back to the live list, polled again."""
        return self.monitor.unarchive(request_id)

    async def archive_finished(self) -> list[str]:
        """Move to the archive every request final for `archive_after`; the ids moved."""
        moved = await self.monitor.archive_finished()
        if moved and self._main is not None:
            self._main.refresh_all()
        return moved

    def _archive_check(self) -> None:
        self._take_over_reports()
        self.background(
            self.archive_finished(), "archive", "moves long-finished requests to the archive"
        )

    def _desk_retry(self) -> None:
        self.background(
            self._hand_over_held(),
            "desk-retry",
            "writes what is held to the desk's database once it answers",
            exclusive=False,  # never cancelled halfway: Monitor.hand_over_held runs one at a time
        )

    async def _hand_over_held(self) -> None:
        changed = await self.monitor.hand_over_held()
        if self.monitor.desk_back:
            changed |= await self._rejoin_desk()
        if changed and self._main is not None and self._main.is_mounted:
            self._main.show_banner()

    async def _rejoin_desk(self) -> bool:
        """Started without its desk's database, which answers again: this monitor joins the
        desk as one started with it would (it follows its leader, or leads), and shows the
        desk's list. Whether it joined."""
        rejoined = await self.monitor.rejoin_desk()
        memory, status = self.memory, self._client
        if not rejoined or memory is None or status is None:
            return False
        if self._desk_retrying is not None:
            self._desk_retrying.stop()
        # Reports pulled from now on are kept (the client was made with nowhere to keep them).
        client: Any = getattr(status, "client", status)
        if hasattr(client, "report_sink"):
            client.report_sink = memory.astore.commit_report
        self.poller.client = ReportGuard(status, memory.report_refusal, memory.remembered)
        self.poller.backpressure = memory.room
        if memory.one_poller:
            self._link_desk(memory)
        # Ids it had that the desk removed, archived or relabelled meanwhile, as the desk has them.
        await self.monitor.follow_watches({e.request_id for e in (*self.live, *self.archived)})
        await self.monitor.pick_up_added()
        if self.following:
            self.poller.refresh()  # what the desk's leader stored, read once for every id
        self.say(
            "Joined the desk: "
            + (
                f"this monitor follows {self.desk.fetcher.leader}."
                if self.desk is not None and self.following
                else "this monitor leads it (it polls the vendors for everyone)."
            ),
            "information",
        )
        if self._main is not None and self._main.is_mounted:
            self._main.refresh_all()
        return True

    def _lead_check(self) -> None:
        if self.desk is not None:
            self.background(
                self.desk.check(),
                "lead",
                "keeps or takes the desk's lead",
                exclusive=False,  # never cancelled halfway: DeskLink.check runs one at a time
            )

    @property
    def following(self) -> bool:
        """On a desk's database, following its leader (which polls the vendors for everyone)."""
        return self.desk is not None and not self.desk.leading

    def ask_the_leader(self, request_ids: list[str] | None) -> None:
        """`r` (these ids) or `R` (None: every id) on a follower: the desk's leader polls them."""
        if self.desk is not None:
            self.background(
                self._ask_the_leader(self.desk, request_ids),
                "ask-leader",
                "asks the desk's leader to poll now",
                exclusive=False,
            )

    async def _ask_the_leader(self, desk: DeskLink, request_ids: list[str] | None) -> None:
        line, asked = await desk.ask_to_poll(request_ids)
        self.say(line, "information" if asked else "warning")

    def _watches_changed(self, ids: set[str]) -> None:
        """Another monitor of the desk (or `d7tui add`) added, relabelled, removed or archived
        ids: this one shows the same."""
        self._pick_up_check()
        if ids:
            self.background(
                self._follow_watches(ids),
                "follow-watches",
                "shows what another monitor of the desk did to the watchlist",
                exclusive=False,
            )

    async def _follow_watches(self, ids: set[str]) -> None:
        if await self.monitor.follow_watches(ids) and self._main is not None:
            self._main.refresh_all()

    def _database_away(self, error: StoreError | None) -> None:
        """The desk's database cannot be reached, or answers again: the banner says which."""
        self.notices[:] = [n for n in self.notices if not n.startswith(DATABASE_AWAY)]
        if error is not None:
            leading = self.desk is not None and self.desk.leading
            self.notices.append(
                f"{DATABASE_AWAY}{error_line(error)}. "
                + (
                    "This monitor leads: it goes on polling, and what it learns is held in "
                    "memory and written when the database is back."
                    if leading
                    else "This monitor shows what it had until the database is back."
                )
            )
        else:
            self.say("The desk's database answers again.")
        if self._main is not None and self._main.is_mounted:
            self._main.show_banner()

    def _pick_up_check(self) -> None:
        if self.memory is None or not self._begun:
            return
        self.background(
            self.pick_up_added(),
            "pick-up",
            "watches ids added with `d7tui add` while the monitor runs",
        )

    async def pick_up_added(self) -> int:
        """Show what another process did to the watchlist (`d7tui add` from another shell,
        another monitor on the same store); how many ids were added or changed on screen."""
        new = await self.monitor.pick_up_added()
        if new and self._main is not None:
            self._main.refresh_all()
        return new

    def _take_over_reports(self) -> None:
        """The other monitor has ended: this one pulls the Infobip reports from now on."""
        if self.monitor.take_over_reports() and self._main is not None and self._main.is_mounted:
            self._main.show_banner()  # the banner no longer names the other process

    def _export_directory(self) -> Path | None:
        """Beside the store; in the demo, whose store is deleted when it quits, the working
        directory: an export is made to be kept."""
        if self.data_dir is not None:
            try:
                return Path.cwd()
            except OSError:  # the working directory was deleted under the demo
                return Path.home()
        if self.memory is not None:
            return self.memory.path.parent
        return None

    async def export_failures(self, entries: list[Entry]) -> str:
        """The failed and stuck recipients of `entries` (the problems view) as a CSV worklist
        beside the store; one line saying where."""
        return await self.monitor.export_failures(entries, self._export_directory())

    def send_test(self, message: Message) -> None:
        """Send one checked test message and watch the id it gets back, labelled "test"."""
        self.background(self._send_test(message), "send", "sends one test message", exclusive=False)

    async def _send_test(self, message: Message) -> None:
        self.say(
            f"Sending {message.describe()}…",
            masked=f"Sending a {message.channel.value} test message…",
        )
        self._sending.append(message)
        try:
            sent = await self.accounts.send(message)
        except MaybeSent as exc:
            # What to do first: at 80 columns the line is cut after about 70 characters.
            self.say(
                f"Maybe sent to {message.to}: see {message.vendor()}'s dashboard before sending "
                f"again. {exc}",
                "error",
                masked=f"Maybe sent: see {message.vendor()}'s dashboard before sending again. "
                f"{exc}",
            )
            if self._quitting:  # the screen goes now: the terminal keeps the line
                self.farewell.append(
                    f"maybe sent to {message.to}: see {message.vendor()}'s dashboard before "
                    f"sending again. {exc}"
                )
            return
        except ChannelError as exc:
            said = exc.message.removeprefix("not sent: ")  # said once, first
            self.say(f"Not sent: {exc.channel}: {said}", "error")
            return
        finally:
            # Not on cancellation (the monitor quitting): then its farewell says it may have
            # gone out.
            if not asyncio.current_task().cancelling():  # type: ignore[union-attr]
                self._sending.remove(message)
        target = Target(sent.request_id, sent.channel.value, sent.id_kind)
        self.add_targets([target], label=TEST_LABEL)
        note = f"test message to {message.to}, sent {format_clock(self.clock.now())}"
        self.set_label_note(sent.request_id, TEST_LABEL, note)
        self.say(
            f"Sent: {sent.request_id} ({sent.status or 'no status yet'}), watched as "
            f"{TEST_LABEL!r}.",
            masked=f"Sent: {sent.request_id}, watched as {TEST_LABEL!r}.",
        )
        if self._main is not None and self._main.is_mounted:
            self._main.show_status()

    def key(self, action: str) -> str:
        """The first key of `action` after the user's [keymap], as hints name it."""
        return key_label(action, self.keymap)

    def request_quit(self, return_code: int = 0) -> None:
        """`q` (and SIGTERM, SIGHUP, SIGINT): quit once what is in flight and would be lost by
        quitting now has answered: a test message (so its id is watched, or the user is told on
        the terminal it may have gone out), a pull of Infobip's one-time reports (its page
        committed: cut short, the reports are gone for everyone). `q` again quits at once."""
        what, masked, waits = ("", "", []) if self._quitting else self._in_flight()
        if not waits:
            self.exit(None, return_code)
            return
        self._quitting = True
        wait = self.settings.timeout + 1  # the request's own deadline, and a little
        line = f"waiting up to {wait:g} s before quitting; {self.key('quit')} again quits now."
        self.say(f"{what} in flight: {line}", "warning", masked=f"{masked} in flight: {line}")
        self.background(
            self._quit_after(waits, wait, return_code),
            "quit",
            "quits once what was in flight ended",
        )

    def _in_flight(self) -> tuple[str, str, list[Coroutine[Any, Any, Any]]]:
        """What quitting now would lose: said plainly, said masked, and what to wait for."""
        said: list[str] = []
        masked: list[str] = []
        waits: list[Coroutine[Any, Any, Any]] = []
        if self._sending:
            said.append(f"A send to {self._sending[0].to} is")
            masked.append("A send is")
            waits += [w.wait() for w in self.workers if w.group == "send" and not w.is_finished]
        client = self._client
        if isinstance(client, KeepsReports) and client.reports_in_flight():
            # Told at once to start no other page: the wait is for the one on the wire.
            said.append("Infobip reports (handed out once) are")
            masked.append(said[-1])
            waits.append(client.reports_kept())
        return " and ".join(said), " and ".join(masked), waits

    async def _quit_after(
        self, waits: list[Coroutine[Any, Any, Any]], wait: float, return_code: int
    ) -> None:
        tasks = [asyncio.ensure_future(w) for w in waits]
        _, late = await asyncio.wait(tasks, timeout=wait)
        for task in late:
            task.cancel()
        self.exit(None, return_code)

    async def export(self, fmt: str = "json") -> str:
        """Export the store into a new file in the data directory; one line saying where."""
        return await self.monitor.export(fmt, self._export_directory())

    def reload_settings(self) -> str | None:
        """Read the settings again (the user fixed a credential); a problem, or None."""
        problem = self.monitor.reload_settings()
        self.settings = self.monitor.settings
        self._show_settings_problems()
        return problem

    def _show_settings_problems(self) -> None:
        """What is wrong in the settings stays in the banner (a chmod to run, a key that does
        nothing): said once in the event strip, it scrolled away under the first status news,
        and standard error is hidden under the screen for as long as the monitor runs."""
        problems = [one_line(p) for p in (*self.settings.warnings, *self._keymap_problems)]
        shown = problems[:SETTINGS_SHOWN]
        if len(problems) > SETTINGS_SHOWN:
            shown.append(
                f"… and {len(problems) - SETTINGS_SHOWN} more settings problems (all of them "
                "are on the terminal when d7tui quits)"
            )
        self.notices[:] = [n for n in self.notices if n not in self._settings_shown]
        self.notices.extend(shown)
        self._settings_shown = shown

    # -- the terminal going away -------------------------------------------------------------

    def _exit_with_the_terminal(self) -> None:
        """Exit when the terminal goes away (an SSH drop) instead of spinning on a dead tty."""
        if self.is_headless or self.is_web:  # a browser tab has no tty; textual-serve ends it
            return
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGHUP, self._terminal_gone)
            # As `q`: what is in flight is waited for; the same signal again quits at once.
            loop.add_signal_handler(signal.SIGTERM, partial(self.request_quit, 143))
            # `kill -INT` (ctrl+c is a key here): the shell's convention, 128 + 2.
            loop.add_signal_handler(signal.SIGINT, partial(self.request_quit, 130))
        self.set_interval(1.0, self._check_terminal, name="d7tui-terminal-check")

    def _check_terminal(self) -> None:
        try:
            fd = sys.__stdin__.fileno() if sys.__stdin__ is not None else -1
            termios.tcgetattr(fd)
        except (termios.error, OSError, ValueError):
            self._terminal_gone()

    def _terminal_gone(self) -> None:
        if not self._quitting:  # checked every second: once is a request, not an insistence
            self.request_quit(129)

    # -- the command palette -----------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if isinstance(screen, MonitorScreen):
            for key in MONITOR_KEYS:
                yield SystemCommand(
                    f"{key.description} ({key.label})",
                    key.help,
                    partial(screen.run_action, key.action),
                )


def make_app(
    settings: Settings,
    *,
    demo: bool = False,
    mask: bool = False,
    ids: list[Target] | None = None,
    poll_config: PollConfig | None = None,
    clock: Clock | None = None,
    labels: dict[str, str] | None = None,
    bell: bool = True,
    client: Fetcher | None = None,
    simulator: Any = None,
    reload_settings: Callable[[], Settings] | None = None,
    store_path: Path | None = None,
    persist: bool = True,
    archive_after: float = ARCHIVE_AFTER,
    early: EarlyOpen | None = None,
) -> D7App:
    """The monitor, as the command line runs it and as the tests drive it.

    `demo`: watch the built-in simulator (started on a free loopback port when the app starts,
    stopped when it ends; `simulator` may pass one already built). `ids`: watched from the start,
    `labels` naming them. `clock`: time for the schedule and the ages (tests hold it still).
    `store_path`: the database (default: d7tui.sqlite3 in the user data dir; demo: a throw-away
    one); `persist=False` runs without one. `archive_after`: seconds a request stays in the live
    list once every recipient is final. `early`: the default store, opened and its list read
    in a thread begun before the screen's code was imported (run_monitor).
    """
    if demo and simulator is None:
        from d7tui.simulator import Simulator

        simulator = Simulator(token=DEMO_TOKEN, infobip_key=DEMO_KEY, demo=True)
    labels = labels or {}
    return D7App(
        settings,
        poll_config=poll_config,
        clock=clock,
        options=UiOptions(mask=mask, bell=bell, demo=demo, archive_after=archive_after),
        initial=[(t, labels.get(t.request_id, "")) for t in ids or []],
        client=client,
        simulator=simulator if demo else None,
        reload_settings=reload_settings,
        store_path=store_path,
        persist=persist,
        early=early,
    )


def run_monitor(
    settings: Settings,
    *,
    demo: bool = False,
    mask: bool = False,
    ids: list[Target] | None = None,
    store_path: Path | None = None,
    persist: bool = True,
    archive_after: float = ARCHIVE_AFTER,
    early: EarlyOpen | None = None,
) -> int:
    """Run the monitor in this terminal; the exit status (0 on `q`). `early`: see make_app."""
    app = make_app(
        settings,
        demo=demo,
        mask=mask,
        ids=ids,
        reload_settings=None if demo else load_settings,
        store_path=store_path,
        persist=persist,
        archive_after=archive_after,
        bell=settings.bell,
        early=early if persist and not demo else None,
    )
    # The screen's loop shares the interpreter with the thread that asks and parses the polls:
    # a key waiting for the lock waited up to the default 5 ms at every hand-over (the key read,
    # the frame, the write); 1 ms keeps keys ahead of a flood of answers.
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        app.run()
    finally:
        if early is not None:  # not taken: the app ended before it opened its store
            early.discard()
    sys.stderr.write(farewell_text(app.farewell))
    return app.return_code or 0


def farewell_text(lines: list[str]) -> str:
    """What is printed on the terminal once the screen is gone: each line whole."""
    return "".join(f"d7tui: {whole_line(line)}\n" for line in lines)
