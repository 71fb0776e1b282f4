"""The Textual app: builds the model, the poller and the main screen; one factory (`make_app`)
for the command line and the tests, so the tests run exactly what users run."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import sys
import tempfile
import termios
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from textual.app import App, SystemCommand
from textual.screen import Screen

from d7tui.clock import Clock, SystemClock
from d7tui.config import ConfigError, Settings, load_settings
from d7tui.models import IdKind, Target
from d7tui.poller import Fetcher, PollConfig, Poller, PollUpdate
from d7tui.safety import Secret, one_line
from d7tui.ui.bindings import MONITOR_KEYS
from d7tui.ui.messages import PollerStopped, PollNews
from d7tui.ui.screens.main import MainScreen
from d7tui.ui.theme import DARK, THEMES
from d7tui.watchlist import Watchlist

DEMO_TOKEN = "sim-token"  # the simulator's own credentials: not secrets
DEMO_KEY = "sim-key"


@dataclass(frozen=True, slots=True)
class UiOptions:
    mask: bool = False  # start in privacy mode
    bell: bool = True  # ring the terminal bell when a recipient fails
    max_toasts: int = 2  # toasts in any 8 s; the changes beyond are summed up in one
    demo: bool = False


class D7App(App[int]):
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
    ) -> None:
        super().__init__()
        self.settings = settings
        self.clock = clock or SystemClock()
        self.options = options or UiOptions()
        self.watchlist = Watchlist()
        self.poller = Poller(
            client,  # type: ignore[arg-type]  # set on mount when not given
            poll_config or PollConfig(workers=settings.max_in_flight),
            clock=self.clock,
            on_update=self._poll_update,
        )
        self.simulator = simulator
        self.data_dir: str | None = None
        self._client = client
        self._own_client = client is None
        self._initial = list(initial)
        self._reload = reload_settings
        self._news: list[PollUpdate] = []
        self._main: MainScreen | None = None
        self._polling = False
        self._set_up = False
        self._begun = False
        if self.options.demo:
            self.sub_title = "demo: the built-in simulator, no account needed"

    # -- life cycle --------------------------------------------------------------------------

    def get_default_screen(self) -> Screen[Any]:
        self._main = MainScreen()
        return self._main

    async def on_mount(self) -> None:
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = DARK
        if self.simulator is not None:
            self._start_demo()
        if self._client is None:
            from d7tui.channels.status import StatusClient

            self._client = StatusClient(self.settings)
        self.poller.client = self._client
        self._watch_terminal()
        for setting_warning in self.settings.warnings:
            self.notify(one_line(setting_warning), severity="warning", markup=False)
        self._set_up = True
        self.begin()

    def begin(self) -> None:
        """Watch the initial ids and start polling, once both the app and its main screen are
        mounted (whichever comes last calls it)."""
        if self._begun or not self._set_up or self._main is None or not self._main.is_mounted:
            return
        self._begun = True
        for target, label in self._initial:
            self.add_targets([target], label=label, refresh=False)
        self._main.refresh_all()
        self.start_polling()

    def _start_demo(self) -> None:
        base_url = self.simulator.start()
        self.data_dir = tempfile.mkdtemp(prefix="d7tui-demo-")
        self.settings = replace(
            self.settings,
            d7_token=Secret(DEMO_TOKEN),
            d7_base_url=base_url,
            infobip_key=Secret(DEMO_KEY),
            infobip_base_url=base_url,
            warnings=(),
        )
        if not self._initial:
            self._initial = [
                (Target(rid, channel, IdKind(kind)), label)
                for rid, channel, kind, label in self.simulator.demo_targets()
            ]

    async def on_unmount(self) -> None:
        self.poller.pause()
        if self._own_client and self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()  # type: ignore[attr-defined]
        if self.simulator is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.simulator.stop)
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    # -- polling -----------------------------------------------------------------------------

    @property
    def polling(self) -> bool:
        return self._polling

    def start_polling(self) -> None:
        self._polling = True
        self.run_worker(
            self._run_poller(),
            name="poller",
            group="poller",
            description="polls every watched id on its schedule",
            exclusive=True,
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
        self._news.append(update)
        if len(self._news) == 1 and self._main is not None:
            self._main.post_message(PollNews())

    def take_news(self) -> list[PollUpdate]:
        news, self._news = self._news, []
        return news

    def add_targets(
        self, targets: list[Target], *, label: str = "", refresh: bool = True
    ) -> list[str]:
        """Start watching; returns the ids that were not watched already."""
        now = self.clock.now()
        added = []
        for target in targets:
            if self.watchlist.add(target, label, now) is None:
                continue
            self.poller.add(target, added_at=now)
            added.append(target.request_id)
        if refresh and added and self._main is not None:
            self._main.refresh_all(select=added[0])
        return added

    def reload_settings(self) -> str | None:
        """Read the settings again (the user fixed a credential); a problem, or None."""
        if self._reload is None:
            return None
        try:
            settings = self._reload()
        except ConfigError as exc:
            return one_line(str(exc))
        self.settings = settings
        if self._client is not None and hasattr(self._client, "settings"):
            self._client.settings = settings  # type: ignore[attr-defined]
        return None

    # -- the terminal going away -------------------------------------------------------------

    def _watch_terminal(self) -> None:
        """Exit when the terminal goes away (an SSH drop) instead of spinning on a dead tty."""
        if self.is_headless:
            return
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGHUP, self._terminal_gone)
            loop.add_signal_handler(signal.SIGTERM, partial(self.exit, None, 143))
        self.set_interval(1.0, self._check_terminal, name="d7tui-terminal-check")

    def _check_terminal(self) -> None:
        try:
            fd = sys.__stdin__.fileno() if sys.__stdin__ is not None else -1
            termios.tcgetattr(fd)
        except (termios.error, OSError, ValueError):
            self._terminal_gone()

    def _terminal_gone(self) -> None:
        self.exit(None, return_code=129)

    # -- the command palette -----------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if isinstance(screen, MainScreen):
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
) -> D7App:
    """The monitor, as the command line runs it and as the tests drive it.

    `demo`: watch the built-in simulator (started on a free loopback port when the app starts,
    stopped when it ends; `simulator` may pass one already built). `ids`: watched from the start,
    `labels` naming them. `clock`: time for the schedule and the ages (tests hold it still).
    """
    if demo and simulator is None:
        from d7tui.simulator import Simulator

        simulator = Simulator(token=DEMO_TOKEN, infobip_key=DEMO_KEY, demo=True)
    labels = labels or {}
    return D7App(
        settings,
        poll_config=poll_config,
        clock=clock,
        options=UiOptions(mask=mask, bell=bell, demo=demo),
        initial=[(t, labels.get(t.request_id, "")) for t in ids or []],
        client=client,
        simulator=simulator if demo else None,
        reload_settings=reload_settings,
    )


def run_monitor(
    settings: Settings, *, demo: bool = False, mask: bool = False, ids: list[Target] | None = None
) -> int:
    """Run the monitor in this terminal; the exit status (0 on `q`)."""
    app = make_app(
        settings, demo=demo, mask=mask, ids=ids, reload_settings=None if demo else load_settings
    )
    app.run()
    return app.return_code or 0
