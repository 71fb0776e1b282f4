"""The monitor on a store others share: leading or following (see d7tui/desk.py).

`DeskLink` puts a `DeskFetcher` in front of the poller, keeps or takes the lead once a second
(a lock the system drops when its holder dies, kill -9 included: an advisory lock on a desk's
database, a file lock beside a SQLite file; a holder stopped or frozen keeps it, so a follower
ends its lead after SILENT_AFTER without a sign of life), and turns what the store tells into
polls of the store and pick-ups: a desk's database tells as it commits (LISTEN/NOTIFY: states
written by the leader, ids added, relabelled, removed from any monitor or `d7tui add`); a file's
numbered news (states written, polls asked for) are read at each look at the lead, its
watchlist's changes by the app's pick-up. No Textual here beyond what the app hands in.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from d7tui.desk import CONFIRM_AFTER, DeskFetcher
from d7tui.output import plural
from d7tui.poller import Poller
from d7tui.pollstate import Fetcher
from d7tui.store import StoreError
from d7tui.ui.format import format_clock

if TYPE_CHECKING:
    from d7tui.memory import Memory
    from d7tui.store.pglisten import Changes

LEAD_CHECK = 1.0  # seconds between two looks at the lead
SETTLE_LIMIT = 10.0  # seconds the new leader waits for its last reads of the database
HEAD_START = 2.0  # seconds a lock is seen free before a follower takes it
# A leader renews its lock every LEAD_CHECK (on a file, its heartbeat); one silent this long is
# stopped or frozen (a closed laptop's connection the server drops by itself, in about 11 s: see
# pglock.KEEPALIVE), and a follower ends its lead.
SILENT_AFTER = 20.0
SILENT_CHECK = 5.0  # seconds between two looks for a silent leader
QUIET_SAID = 5.0  # seconds of a leader's silence after which the status line says since when


class DeskLink:
    def __init__(
        self,
        memory: Memory,
        poller: Poller,
        client: Fetcher,
        *,
        say: Callable[[str], None],
        on_watch_changes: Callable[[set[str]], None],
        on_lost: Callable[[StoreError | None], None],
    ) -> None:
        self.memory = memory
        self.poller = poller
        self.fetcher = DeskFetcher(
            client, memory.remembered_many, leading=memory.leading, confirm=self.confirm
        )
        self.say = say
        self.on_watch_changes = on_watch_changes
        self.on_lost = on_lost
        self._loop: asyncio.AbstractEventLoop | None = None
        self._taking = False
        self._checking = False
        self._free_since: float | None = None  # when the lock was first seen free
        self._silence_checked = 0.0  # monotonic time of the last look for a silent leader
        self._looking = asyncio.Lock()  # one look at a leader's own lead at a time
        self._unended_said: str | None = None  # why the leader could not be ended, said
        # For the benchmark: when this monitor last heard of a change (time.time()).
        self.heard: list[tuple[float, set[str]]] = []

    @property
    def leading(self) -> bool:
        return self.fetcher.leading

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.poller.client = self.fetcher
        self._follow_only(not self.leading)
        self.memory.follow(self._changes_from_thread, self._lost_from_thread)

    def _follow_only(self, following: bool) -> None:
        """A follower polls nothing on a schedule: it reads the database when told to."""
        if following:
            self.poller.pause()
        else:
            self.poller.resume()

    def status_text(self) -> str | None:
        """Who polls, for the status line (a lone monitor on a file has nothing to say)."""
        if self.leading:
            return "◆ leads the desk" if self.memory.shared else None
        return f"◇ follows {self.fetcher.leader}"

    @property
    def whole(self) -> str:
        """Whom the leader's pause stops: every monitor of the store."""
        return "the whole desk" if self.memory.shared else "every monitor on this store"

    # -- the lead ------------------------------------------------------------------------------

    async def check(self) -> None:
        """Keep the lead, or take it when the leader is gone; learn who leads otherwise.

        A leader that cannot reach the database keeps leading: it polls on, its results held
        in memory and written when the database is back (AsyncStore), and it takes the lock
        again then. A follower takes a free lock only once it has seen it free for
        `HEAD_START`: after an outage, the leader from before it leads again.

        One look at a time, and a look is never cut short by the next: a take waits up to
        `SETTLE_LIMIT` for the poller, and a take cut short by the next second's look left
        this monitor holding the lock as a follower, following itself while nobody polled."""
        if self._checking or self._taking:
            return
        self._checking = True
        try:
            await self._check()
        finally:
            self._checking = False

    async def _check(self) -> None:
        if not self.leading and self.memory.leading:
            # The lock is this monitor's but it does not lead (a take that did not finish):
            # whoever holds the lock polls, so this one takes the lead now.
            await self._take_the_lead()
            return
        if not self.memory.shared:  # a file tells nothing by itself: its news are read
            try:
                news = await self.memory.news(states=not self.leading)
            except StoreError:
                news = None
            if news:
                self.followed(news)
        if self.leading:
            async with self._looking:
                await self._keep_the_lead()
            return
        try:
            who = await self.memory.leader()
        except StoreError:
            self._free_since = None
            self.fetcher.leader = "nobody (the database cannot be reached)"
            return
        now = time.monotonic()
        if who is not None:
            self._free_since = None
            quiet = self.memory.leader_quiet_since()
            if quiet is not None and time.time() - quiet >= QUIET_SAID:
                who = f"{who}, no sign of life since {format_clock(quiet)}"
            self.fetcher.leader = who
            if now - self._silence_checked >= SILENT_CHECK:
                self._silence_checked = now
                ended = await self.memory.end_silent_leader(SILENT_AFTER)
                unended = self.memory.leader_unended()
                if unended is not None and unended != self._unended_said:
                    self.say(unended)  # once for each leader: a setting, not an event
                self._unended_said = unended
                if ended is not None:
                    self.say(
                        f"{ended} gave no sign of life for {SILENT_AFTER:g} s (stopped or "
                        "frozen): its lead was ended, so that a running monitor leads."
                    )
        elif self._free_since is None:
            self._free_since = now
        elif now - self._free_since >= HEAD_START and await self.memory.lead():
            await self._take_the_lead()

    async def confirm(self) -> bool:
        """Does this monitor still lead? Asked by the fetcher before it asks a vendor anything
        after a while without a look at the lead (it was stopped: another may lead now). Not
        while the database is away: a leader leads on then (see `check`), and a look waits for
        the connection's timeout."""
        if self.memory.lead_problem is not None:
            return self.leading
        async with self._looking:
            if self.leading and self.fetcher.lost_for() >= CONFIRM_AFTER:
                await self._keep_the_lead()
            return self.leading

    async def _keep_the_lead(self) -> None:
        """Renew the lead (on a file, its heartbeat); lost, this monitor follows from now on. A
        leader that cannot reach the database keeps leading (see `check`)."""
        if not self.leading:
            return
        stopped = self.fetcher.lost_for()
        try:
            leads = await self.memory.lead()
        except StoreError:
            leads = False
        if leads or self.memory.lead_problem is not None:
            self.fetcher.looked()
            return
        self.fetcher.leading = False
        self._follow_only(True)
        if stopped >= CONFIRM_AFTER:  # it looks every second while it runs
            self.say(
                f"This monitor did not run for {stopped:.0f} s (stopped or frozen), and another "
                "monitor leads the desk now: this one follows it (it polls nothing; what the "
                "leader learns shows here)."
            )
        else:
            self.say("Another monitor leads the desk now: this one follows it.")

    async def _take_the_lead(self) -> None:
        """Read everything the old leader wrote before asking a vendor anything: an answer
        compared with a state older than the database's would write its transitions twice."""
        self._taking = True
        try:
            self.poller.refresh()
            deadline = time.monotonic() + SETTLE_LIMIT
            while not self.poller.idle() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            self.fetcher.leading = True
            self.fetcher.looked()
            self._follow_only(False)
        finally:
            self._taking = False
        self.say("This monitor leads the desk now: it polls the vendors for everyone.")

    # -- r and R on a follower: the leader polls -------------------------------------------

    async def ask_to_poll(self, request_ids: list[str] | None) -> tuple[str, bool]:
        """A follower's `r` (these ids) or `R` (None: every id): the leader polls them now, and
        what it finds reaches this monitor as any change does. The line to say, and whether the
        leader was asked."""
        what = "every request" if request_ids is None else plural(len(request_ids), "request")
        if what == "1 request":
            what = "it"
        if self._free_since is not None:
            return (
                f"Not polled: nobody leads the desk right now. This monitor takes the lead "
                f"within seconds if nobody does, and then polls {what} itself.",
                False,
            )
        try:
            await self.memory.ask_to_poll(request_ids or [])
        except StoreError as exc:
            return f"Not polled: {self.fetcher.leader} could not be asked ({exc}).", False
        return f"Asked {self.fetcher.leader} to poll {what} now: what it finds shows here.", True

    def nothing_to_pause(self, refresh_key: str) -> str:
        """What `p` on a follower says: there is no polling here to pause."""
        return (
            f"Nothing to pause here: this monitor follows {self.fetcher.leader}, which polls "
            f"the vendors for the whole desk. {refresh_key} asks it to poll the selected "
            "request now."
        )

    def _asked(self, changes: Changes) -> None:
        """Another monitor of the desk pressed r or R: poll what it asked for, now."""
        # As the leader's own keys: an id answered a moment ago is not asked again.
        started = self.poller.ask_now(None if changes.asked_all else changes.asked).started
        if started:
            self.say(
                f"Polling {plural(started, 'request')} now: another monitor of the desk asked."
            )

    # -- what the database tells -------------------------------------------------------------

    def _changes_from_thread(self, changes: Changes) -> None:
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: the app is ending
                loop.call_soon_threadsafe(self.followed, changes)

    def _lost_from_thread(self, error: StoreError | None) -> None:
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.on_lost, error)

    def followed(self, changes: Changes) -> None:
        self.heard.append((time.time(), set(changes.states)))
        del self.heard[:-1000]
        if changes.watches or changes.everything:
            self.on_watch_changes(changes.watches)
        if self.leading and not self._taking and (changes.asked or changes.asked_all):
            self._asked(changes)
        if self.leading or self._taking:
            return  # the leader wrote these itself
        if changes.everything:
            self.poller.refresh()
        else:
            self.poller.refresh_many(changes.states)  # one read of the database for them all
