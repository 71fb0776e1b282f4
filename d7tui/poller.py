"""Who is polled when. Knows nothing about widgets: it reports through callbacks.

One scheduler (a heap of next-due times) feeds a fixed set of worker coroutines for each API
credential (D7, Infobip: each is its own host), so that polls stuck on a host that never answers
hold only that host's workers, and the other API is still polled on schedule. A watched id is
in the heap at most once, and is put back only after its poll has finished, so polls never pile
up. The interval grows with the age of the request; an id whose every recipient is final is
polled once more to confirm and then never again.

Ids the fetcher can ask together (Infobip logs take lists: `BatchFetcher.batch_key`) go to a
worker as one job: every such id due in a scheduler pass, and those due within half their
interval ride along, so a poll round of Infobip ids is one call where they fit in one.
An Infobip id whose messages were all sent longer ago than Infobip keeps them keeps its last
state, shown as from memory, and is not asked again in vain.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from d7tui.channels.infobip import beyond_logs
from d7tui.clock import Clock, SystemClock
from d7tui.errors import (
    AuthError,
    ChannelError,
    ErrorKind,
    NotFound,
    NotRead,
    ProtocolError,
    RateLimited,
    detached,
    internal_error,
)
from d7tui.models import (
    Channel,
    RequestStatus,
    StoredAnswer,
    Target,
    Transition,
    observe,
    swapped,
)
from d7tui.pollstate import (
    D7_CREDENTIAL,
    INFOBIP_CREDENTIAL,
    RESTING,
    Backlog,
    BatchFetcher,
    Fetcher,
    PollConfig,
    PollUpdate,
    RateHold,
    Watch,
    WatchStatus,
    held_without_raw,
    sent_at,
)

__all__ = [
    "Poller",
    "TransitionHook",
    "UpdateHook",
]

log = logging.getLogger(__name__)

D7_NAMED = ("sms", "whatsapp", "viber")  # D7 channels a user may name instead of `auto`
_Batching = BatchFetcher

MAX_SLEEP = 5.0  # the scheduler looks again at least this often (a wall clock may jump)
# Due ids handed to the workers in one turn of the loop at most; the rest in the next turns. At
# 100,000 ids every first poll is due at once, and one pass over them all held the screen's
# loop 0.7 s (a key pressed then waited that long).
DISPATCH_SLICE = 500
# Seconds between two slices (real time, whatever the clock): a key goes through a few turns of
# the loop before it is drawn, and slices back to back would take a turn between each of them.
# 100,000 due ids are handed over in 1-2 s, faster than the workers ask them.
DISPATCH_PAUSE = 0.005
SCALES = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)  # `+`/`-` steps: intervals multiplied by this
# Seconds after `r`/`R` (or a desk's ask) asked for an id during which they do not ask for it
# again: a held key repeats some 30 times a second, and each press asked every id anew (10
# presses of `R` were 560 requests in 2 s; on Infobip, the account's minute of logs in 13 s).
FRESH_FOR = 5.0


class Asked(NamedTuple):
    """What a poll asked for by hand started: polls begun (or asked again once the one under
    way answers), and ids left alone because they were asked for by hand less than FRESH_FOR
    ago (the latest such ask: `fresh_at`)."""

    started: int
    fresh: int = 0
    fresh_at: float | None = None


UpdateHook = Callable[[PollUpdate], None]
TransitionHook = Callable[[Sequence[Transition]], None]
Job = Watch | list[Watch]  # one id, or ids asked together in one call


@dataclass
class _Hooks:
    on_update: list[UpdateHook] = field(default_factory=list)
    on_transition: list[TransitionHook] = field(default_factory=list)


class Poller:
    def __init__(
        self,
        client: Fetcher,
        config: PollConfig | None = None,
        *,
        clock: Clock | None = None,
        on_update: UpdateHook | None = None,
        on_transition: TransitionHook | None = None,
    ) -> None:
        self.client = client
        self.config = config or PollConfig()
        self.clock = clock or SystemClock()
        self.hooks = _Hooks()
        if on_update:
            self.hooks.on_update.append(on_update)
        if on_transition:
            self.hooks.on_transition.append(on_transition)
        self.scale = self.config.scale
        self.paused = False
        self.auth_stops: dict[str, AuthError] = {}  # credential -> the refusal
        self.busy = 0  # polls in flight
        self.last_refresh: float | None = None  # when the last poll finished
        self.running = False
        self._watches: dict[str, Watch] = {}
        self._backlog = Backlog()  # of the watches in _watches
        self._heap: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        # Ready to poll, one queue for each credential's workers.
        self._lanes: dict[str, asyncio.Queue[Job]] = {
            credential: asyncio.Queue() for credential in (D7_CREDENTIAL, INFOBIP_CREDENTIAL)
        }
        self._wake = asyncio.Event()
        self._asked_client: object = None  # the fetcher _batching was found for
        self._batching = False
        self._holds: dict[str, float] = {}  # channel -> time before which it is not polled
        # Credential (host) -> the 429 it answered with: none of its ids is asked before then,
        # not even on `r` (the engine would only wait out the same Retry-After, saying nothing).
        self._rate_holds: dict[str, RateHold] = {}
        self._backoff: dict[str, float] = {}  # channel -> current error backoff
        # Awaited by each worker before it takes the next poll: the store's room for what the
        # poll will tell (a disk slower than the polls slows the polls, not fills memory).
        self.backpressure: Callable[[], Awaitable[None]] | None = None
        # Awaited before work that can wait a moment (a slice of the schedule, an answer
        # settled): a key on its way to the screen goes first (keys_first.py).
        self.make_way: Callable[[], Awaitable[None]] | None = None

    # -- the watched ids -----------------------------------------------------------------------

    def __contains__(self, request_id: str) -> bool:
        return request_id in self._watches

    def __len__(self) -> int:
        return len(self._watches)

    def __iter__(self) -> Iterator[Watch]:
        return iter(list(self._watches.values()))

    def get(self, request_id: str) -> Watch | None:
        return self._watches.get(request_id)

    def add(
        self,
        target: Target,
        *,
        added_at: float | None = None,
        state: RequestStatus | None = None,
        observed_at: float | None = None,
        last_change: float | None = None,
    ) -> Watch | None:
        """Watch an id (first poll at once); None if it is already watched. `state`: what the
        store remembers of it, last `observed_at` from the API, last changed at `last_change`
        (kept by the polls that change nothing: the row's "Since" is not reset to when the
        id was added)."""
        if target.request_id in self._watches:
            return None
        now = self.clock.now()
        watch = Watch(
            target=target, added_at=now if added_at is None else added_at, channel=target.channel
        )
        if state is not None:
            watch.state = state
            watch.channel = state.channel.value
            watch.status = WatchStatus.ACTIVE
            watch.observed_at = observed_at
            watch.last_change = last_change
        self._watches[target.request_id] = watch
        watch.count_in(self._backlog)
        if state is not None and state.final:
            # Remembered final: a restart asks nothing of it (r or R polls it anyway).
            watch.status = WatchStatus.DONE
            watch.final_seen = True
        elif self._beyond_keep(watch, now):
            self._to_memory(watch)  # the API has forgotten it: asking would be in vain
            self._emit(watch, now, [], False)
        else:
            self._schedule(watch, now + self.config.first_delay)
        return watch

    def remove(self, request_id: str) -> Watch | None:
        """Stop watching; the returned record can be given back to `restore` (undo)."""
        watch = self._watches.pop(request_id, None)
        if watch is not None:
            watch.next_due = None
            watch.count_in(None)
        return watch

    def restore(self, watch: Watch) -> bool:
        """Watch again a record `remove` returned, with everything it knew."""
        if watch.request_id in self._watches:
            return False
        self._watches[watch.request_id] = watch
        watch.count_in(self._backlog)
        watch.again = False
        if watch.status in RESTING:
            return True
        if not watch.queued:
            self._schedule(watch, self.clock.now())
        return True

    # -- control -------------------------------------------------------------------------------

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False
        self._wake.set()

    def refresh(self, request_id: str | None = None) -> int:
        """Poll one id (or every id) now, whatever its schedule, even while paused; returns how
        many polls were started. Ids whose credential was refused wait for `resume_auth`; ids
        of a host that answered 429 wait until it said (`rate_limited` says until when)."""
        return self._refresh(self._chosen(None if request_id is None else [request_id])).started

    def refresh_many(self, request_ids: Iterable[str]) -> int:
        """`refresh` of these ids (those watched), in as few calls as the fetcher batches them
        (a desk's follower reads what the leader changed in one read of the database)."""
        return self._refresh(self._chosen(request_ids)).started

    def ask_now(self, request_ids: Iterable[str] | None = None) -> Asked:
        """`refresh` as a person (`r`, `R`) or another monitor of the desk asks it: an id asked
        for this way less than FRESH_FOR ago is not asked again (a held key, or a second press,
        must not turn into a flood of requests to the customer's account)."""
        return self._refresh(self._chosen(request_ids), fresh_for=FRESH_FOR)

    def _chosen(self, request_ids: Iterable[str] | None) -> list[Watch]:
        if request_ids is None:
            # Everything, but not what the API no longer has (asked for by itself, it may be).
            return [w for w in self._watches.values() if w.status is not WatchStatus.MEMORY]
        return [self._watches[rid] for rid in request_ids if rid in self._watches]

    def _refresh(self, watches: list[Watch], fresh_for: float = 0.0) -> Asked:
        started = fresh = 0
        fresh_at: float | None = None
        batches: dict[str, list[Watch]] = {}
        now = self.clock.now()
        for watch in watches:
            if watch.credential in self.auth_stops or self._rate_hold(watch, now):
                continue
            if fresh_for:
                last = watch.asked_at
                if last is not None and now - last < fresh_for:
                    fresh += 1
                    fresh_at = last if fresh_at is None else max(fresh_at, last)
                    continue
                watch.asked_at = now
            started += 1
            if watch.queued:
                watch.again = True
            else:
                watch.by_hand = True
                self._dispatch(watch, batches)
        self._send(batches, now, early=False)
        return Asked(started, fresh, fresh_at)

    def auth_held(self) -> int:
        """How many ids wait for a refused credential to be fixed (`resume_auth`)."""
        return sum(1 for w in self._watches.values() if w.credential in self.auth_stops)

    def rate_limited(self, request_id: str) -> RateHold | None:
        """The 429 an id waits for (its host and until when), if it waits for one."""
        watch = self._watches.get(request_id)
        return None if watch is None else self._rate_hold(watch, self.clock.now())

    def rate_holds(self) -> dict[str, RateHold]:
        """Every host that answered 429 and is waited for now, by credential."""
        now = self.clock.now()
        return {key: hold for key, hold in self._rate_holds.items() if hold.until > now}

    def _rate_hold(self, watch: Watch, now: float) -> RateHold | None:
        hold = self._rate_holds.get(watch.credential)
        return hold if hold is not None and hold.until > now else None

    def resume_auth(self) -> list[str]:
        """Forget every refused credential and poll the ids they held at once."""
        cleared = list(self.auth_stops)
        self.auth_stops.clear()
        now = self.clock.now()
        for watch in self._watches.values():
            if watch.status is WatchStatus.AUTH:
                watch.status = WatchStatus.ACTIVE if watch.state else WatchStatus.WAITING
                if not watch.queued:
                    self._schedule(watch, now)
        self._wake.set()
        return cleared

    def faster(self) -> float:
        return self._rescale(-1)

    def slower(self) -> float:
        return self._rescale(+1)

    def interval_range(self) -> tuple[float, float]:
        """The shortest and longest interval of the first hour, as currently scaled."""
        return self.config.fast_interval * self.scale, self.config.max_interval * self.scale

    @property
    def next_due(self) -> float | None:
        """When the next scheduled poll is due (None if nothing is scheduled)."""
        while self._heap:
            due, _, request_id = self._heap[0]
            watch = self._watches.get(request_id)
            if watch is not None and watch.next_due == due and not watch.queued:
                return due
            heapq.heappop(self._heap)
        return None

    def queued(self) -> int:
        """Watches handed to the workers and not settled yet."""
        return self.backlog()[0]

    def backlog(self) -> tuple[int, int]:
        """(queued, to poll): watches handed to the workers and not settled yet, and every
        watch that will be asked again (queued, in flight or scheduled), as kept while they
        change (`Backlog`). Nothing to poll is what "all final" means, whatever the schedule's
        heap says."""
        return self._backlog.queued, self._backlog.to_poll

    def given_up(self) -> int:
        """Watches given up (older than stale_after) with recipients not final: nothing asks
        them again, and they are not final either."""
        return self._backlog.stale

    def idle(self) -> bool:
        """Nothing in flight, nothing waiting for a worker, nothing due now."""
        if self.busy or any(not lane.empty() for lane in self._lanes.values()):
            return False
        if self._backlog.queued:
            return False
        due = self.next_due
        return self.paused or due is None or due > self.clock.now()

    # -- running -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Poll until cancelled."""
        self.running = True
        tasks = [
            asyncio.create_task(self._worker(lane), name=f"d7tui-poll-worker-{credential}-{i}")
            for credential, lane in self._lanes.items()
            for i in range(max(1, self.config.workers))
        ]
        tasks.append(asyncio.create_task(self._scheduler(), name="d7tui-poll-scheduler"))
        try:
            await asyncio.gather(*tasks)
        finally:
            self.running = False
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task

    async def _scheduler(self) -> None:
        while True:
            try:
                timeout = self._dispatch_due()
            except Exception:  # a bug here must not stop every poll
                log.exception("poll scheduler")
                timeout = 1.0
            if timeout <= 0:  # more due than one slice: the rest after a pause
                await asyncio.sleep(DISPATCH_PAUSE)
                if self.make_way is not None:
                    await self.make_way()
            else:
                await self._sleep(timeout)

    async def _sleep(self, timeout: float) -> None:
        if self._wake.is_set():
            self._wake.clear()
            return
        sleeper = asyncio.ensure_future(self.clock.sleep(timeout))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()
        self._wake.clear()

    def _dispatch_due(self) -> float:
        if self.paused:
            return MAX_SLEEP
        now = self.clock.now()
        batches: dict[str, list[Watch]] = {}
        try:
            return self._pop_due(now, batches)
        finally:
            self._send(batches, now, early=True)

    def _pop_due(self, now: float, batches: dict[str, list[Watch]]) -> float:
        """Hand what is due to the workers, DISPATCH_SLICE ids at most; the seconds until the
        next is due (0: more are due now)."""
        budget = DISPATCH_SLICE
        while self._heap:
            if budget <= 0:
                return 0.0
            budget -= 1
            due, _, request_id = self._heap[0]
            watch = self._watches.get(request_id)
            if watch is None or watch.next_due != due or watch.queued:
                heapq.heappop(self._heap)
                continue
            if due > now:
                return min(due - now, MAX_SLEEP)
            heapq.heappop(self._heap)
            if watch.credential in self.auth_stops:
                watch.next_due = None
                self._set_auth(watch, self.auth_stops[watch.credential], now)
                continue
            hold = self._holds.get(watch.channel_key, 0.0)
            if hold > now:
                self._schedule(watch, hold)
                continue
            rate = self._rate_hold(watch, now)
            if rate is not None:
                # Said on its row: it waits for the host's 429, not "next poll in now".
                self._schedule(watch, rate.until)
                self._emit(watch, now, [], False)
                continue
            self._dispatch(watch, batches)
        return MAX_SLEEP

    def _schedule(self, watch: Watch, due: float) -> None:
        watch.next_due = due
        heapq.heappush(self._heap, (due, next(self._seq), watch.request_id))
        self._wake.set()

    def _batch_key(self, watch: Watch) -> str | None:
        client = self.client
        if client is not self._asked_client:
            # isinstance with a Protocol inspects the class every time: 47 µs, or 4.7 s for a
            # round of 100,000 ids. Asked once for each fetcher instead.
            self._asked_client, self._batching = client, isinstance(client, _Batching)
        if not self._batching:
            return None
        return client.batch_key(watch.fetch_target())  # type: ignore[attr-defined]

    def _dispatch(self, watch: Watch, batches: dict[str, list[Watch]] | None = None) -> None:
        """Hand a watch to the workers: alone, or into `batches` (sent by `_send`) when the
        fetcher asks it together with others."""
        watch.next_due = None
        watch.queued = True
        key = self._batch_key(watch) if batches is not None else None
        if batches is None or key is None:
            self._lanes[watch.credential].put_nowait(watch)
        else:
            batches.setdefault(key, []).append(watch)

    def _send(self, batches: dict[str, list[Watch]], now: float, *, early: bool) -> None:
        """One job per batch key. `early`: ids of the same key due within a share of their
        interval ride along, so that the next round does not need a call of its own."""
        for key, batch in batches.items():
            if early:
                for watch in self._watches.values():
                    if (
                        watch.next_due is not None
                        and not watch.queued
                        and watch.channel == Channel.INFOBIP.value
                        and watch.credential not in self.auth_stops
                        and self._holds.get(watch.channel_key, 0.0) <= now
                        and self._rate_hold(watch, now) is None
                        and watch.next_due - now
                        <= watch.interval * self.scale * self.config.batch_early
                        and self._batch_key(watch) == key
                    ):
                        watch.next_due = None
                        watch.queued = True
                        batch.append(watch)
            self._lanes[batch[0].credential].put_nowait(batch)

    async def _worker(self, lane: asyncio.Queue[Job]) -> None:
        while True:
            if self.backpressure is not None:
                await self.backpressure()
            job = await lane.get()
            watches = job if isinstance(job, list) else [job]
            current = []
            for watch in watches:
                if self._watches.get(watch.request_id) is watch:
                    current.append(watch)
                else:
                    watch.queued = False  # removed while it waited: an undo schedules it again
            if not current or self._held_back(current):
                continue
            try:
                if isinstance(job, list):
                    await self._poll_many(current)
                else:
                    await self._poll(current[0])
            except asyncio.CancelledError:
                for watch in current:
                    watch.queued = False
                raise
            except Exception:  # the edge of the worker: log, keep polling the rest
                log.exception("poll of %s", ", ".join(w.request_id for w in current))
                for watch in current:
                    watch.queued = False
                    if self._watches.get(watch.request_id) is watch and watch.next_due is None:
                        self._schedule(watch, self.clock.now() + self.config.max_interval)

    def _held_back(self, watches: list[Watch]) -> bool:
        """Ids queued before their channel failed (a start, `R`: thousands at once) wait for
        the channel's back-off like those still in the heap, rather than each asking a host
        that answers nothing usable (oversize pages from a captive portal: 45 × 8 MB a
        second). A refresh by hand is still asked."""
        now = self.clock.now()
        hold = self._holds.get(watches[0].channel_key, 0.0)
        if hold <= now or any(w.by_hand for w in watches):
            for watch in watches:
                watch.by_hand = False
            return False
        for watch in watches:
            watch.queued = False
            self._schedule(watch, hold)
        return True

    async def _poll(self, watch: Watch) -> None:
        outcome: RequestStatus | ChannelError
        self.busy += 1
        try:
            outcome = await self.client.fetch(watch.fetch_target())
        except ChannelError as exc:
            outcome = detached(exc)
        except Exception as exc:  # a bug below us shows on the row, and polling goes on
            log.exception("fetch of %s", watch.request_id)
            outcome = internal_error(watch.channel, exc)
        finally:
            self.busy -= 1
        if self.make_way is not None:
            await self.make_way()
        self._settle(watch, outcome)
        if watch.status is WatchStatus.NOT_FOUND and not watch.probed:
            await self._probe(watch)

    async def _poll_many(self, watches: list[Watch]) -> None:
        assert isinstance(self.client, _Batching)
        answers: Mapping[str, RequestStatus | ChannelError] = {}
        failure: ChannelError | None = None
        self.busy += len(watches)
        try:
            answers = await self.client.fetch_many([w.fetch_target() for w in watches])
        except Exception as exc:  # a bug below us shows on the rows, and polling goes on
            log.exception("fetch of %d ids", len(watches))
            failure = internal_error(watches[0].channel, exc)
        finally:
            self.busy -= len(watches)
        if self.make_way is not None:
            await self.make_way()
        # Ids asked for again while this call was out go again together, not one call each.
        again: dict[str, list[Watch]] = {}
        for watch in watches:
            outcome = answers.get(watch.request_id) or failure
            if outcome is None:
                outcome = internal_error(watch.channel, LookupError("no answer for this id"))
            elif isinstance(outcome, ChannelError):
                outcome = detached(outcome)
            self._settle(watch, outcome, again)
        self._send(again, self.clock.now(), early=False)

    def _settle(
        self,
        watch: Watch,
        outcome: RequestStatus | ChannelError,
        again: dict[str, list[Watch]] | None = None,
    ) -> None:
        """What a poll's answer (or error) does to its watch, its schedule and the screen.
        `again`: where a watch asked for again meanwhile goes (see `_dispatch`)."""
        now = self.clock.now()
        if isinstance(outcome, NotRead):
            # Nothing learnt and nobody failed (a desk's follower that could not read the
            # database: its banner says so): the id stays as it was.
            watch.queued = False
            if self._watches.get(watch.request_id) is watch:
                self._reschedule(watch, now, False, again)
            return
        result = outcome if isinstance(outcome, RequestStatus) else None
        error = outcome if isinstance(outcome, ChannelError) else None
        self.last_refresh = now
        watch.queued = False
        watch.polls += 1
        watch.last_poll = now
        raw: tuple[bytes, ...] = ()
        if result is not None:
            transitions, first, raw = self._apply(watch, result, now)
        else:
            assert error is not None
            transitions, first = [], False
            self._fail(watch, error, now)
        if self._watches.get(watch.request_id) is not watch:
            return  # removed meanwhile: what it learnt stays on the record, for an undo
        self._reschedule(watch, now, result is not None and bool(result.recipients), again)
        self._emit(watch, now, transitions, first, raw)

    async def _probe(self, watch: Watch) -> None:
        """A D7 id given up as not found on the channel the user named: ask the other D7
        channels once, so the row can say which one knows it."""
        watch.probed = True
        if watch.target.channel not in D7_NAMED:
            return
        try:
            found = await self.client.fetch(Target(watch.request_id, "auto"))
        except Exception:  # not found anywhere, or no answer: nothing more to say
            return
        if (
            found.channel.value != watch.target.channel
            and self._watches.get(watch.request_id) is watch
        ):
            watch.known_on = found.channel.value
            self._emit(watch, self.clock.now(), [], False)

    def _apply(
        self, watch: Watch, result: RequestStatus, now: float
    ) -> tuple[list[Transition], bool, tuple[bytes, ...]]:
        """The transitions, whether it is the first answer, and the answer's raw bodies when
        the watch's state does not keep them (`held_without_raw`)."""
        first = watch.state is None
        self._backoff.pop(watch.channel_key, None)
        known = watch.state is not None and bool(watch.state.recipients)
        if known and not result.recipients and not result.incremental:
            # The API answers nothing for an id it told us about (Infobip's logs forget after
            # 48 hours): what was seen is kept, never replaced by nothing.
            watch.error = None
            if self._beyond_keep(watch, now):
                self._to_memory(watch)
            else:
                gone = NotFound(watch.channel, "the API no longer answers for this id")
                self._not_found(watch, gone, now)
            return [], first, ()
        doubt = swapped(watch.state, result)
        if doubt is not None:
            self._fail(watch, ProtocolError(watch.channel, doubt), now)
            return [], first, ()
        state, transitions = observe(watch.state, result, now)
        # Read from a store (a desk's follower): dated as stored, not when it was read.
        stored = result if isinstance(result, StoredAnswer) else None
        if stored is not None:
            transitions = stored.dated(transitions)
            if stored.observed_at is not None:
                watch.last_poll = stored.observed_at  # by the leader ("leader polled")
        changed = [t.at for t in transitions]
        if stored is not None and stored.changed_at is not None:
            changed.append(stored.changed_at)
        raw: tuple[bytes, ...] = ()
        if held_without_raw(state):
            raw, state = state.raw, replace(state, raw=())
        watch.state = state
        watch.channel = result.channel.value
        watch.error = None
        if state.recipients:
            watch.observed_at = watch.last_poll if stored is not None else now
        watch.sent_at = sent_at(state, now) or watch.sent_at
        if changed:
            watch.last_change = max(changed)
        if not state.recipients and not result.incremental:
            # Known to the API but with no message in it (Infobip logs): as good as not found.
            self._not_found(watch, NotFound(watch.channel, "no message for this id"), now)
            return transitions, first, raw
        watch.not_found_since = None
        if state.final:
            done = watch.final_seen and not transitions
            watch.final_seen = True
            watch.status = WatchStatus.DONE if done else WatchStatus.ACTIVE
        else:
            watch.final_seen = False
            watch.status = WatchStatus.ACTIVE
        return transitions, first, raw

    def _fail(self, watch: Watch, error: ChannelError, now: float) -> None:
        watch.error = error
        if isinstance(error, AuthError):
            self.auth_stops.setdefault(watch.credential, error)
            self._set_auth(watch, error, now, emit=False)
            return
        if isinstance(error, NotFound):
            self._not_found(watch, error, now)
            return
        if isinstance(error, RateLimited):
            # The whole host waits (the engine holds every request to it), so every id of its
            # credential is rescheduled past the wait, and says why.
            until = now + (error.retry_after or self.config.error_backoff)
            held = self._rate_holds.get(watch.credential)
            if held is None or held.until < until:
                self._rate_holds[watch.credential] = RateHold(
                    error.host or error.channel, until, error.status or 429
                )
            return
        key = watch.channel_key
        if error.kind not in (ErrorKind.UNREACHABLE, ErrorKind.PROTOCOL):
            return  # the API refused this id (400/402/422): its own schedule continues
        if self._holds.get(key, 0.0) > now:
            # Held already: the answers of the requests that were in flight together are one
            # failure, not one doubling each (16 answers too large held the channel 5 minutes,
            # its new ids "polling now" and never asked).
            return
        hold = min(
            self._backoff.get(key, self.config.error_backoff / 2) * 2,
            self.config.error_backoff_max,
        )
        self._backoff[key] = hold
        self._holds[key] = now + hold

    def _not_found(self, watch: Watch, error: ChannelError, now: float) -> None:
        watch.error = error
        if watch.not_found_since is None:
            watch.not_found_since = watch.added_at if watch.state is None else now
        if now - watch.not_found_since >= self.config.not_found_grace:
            watch.status = WatchStatus.NOT_FOUND

    def _set_auth(self, watch: Watch, error: AuthError, now: float, *, emit: bool = True) -> None:
        watch.status = WatchStatus.AUTH
        watch.error = error
        if emit:
            self._emit(watch, now, [], False)

    def _beyond_keep(self, watch: Watch, now: float) -> bool:
        """An Infobip id whose every message was sent longer ago than Infobip keeps them."""
        state = watch.state
        return (
            watch.channel == Channel.INFOBIP.value
            and state is not None
            and not state.final
            and beyond_logs(state, now, self.config.infobip_keep)
        )

    def _to_memory(self, watch: Watch) -> None:
        watch.status = WatchStatus.MEMORY
        watch.next_due = None
        if watch.state is not None and watch.state.remembered is None:
            seen = watch.observed_at if watch.observed_at is not None else watch.last_poll
            watch.state = replace(watch.state, remembered=seen)

    def _reschedule(
        self,
        watch: Watch,
        now: float,
        answered: bool = False,
        again: dict[str, list[Watch]] | None = None,
    ) -> None:
        """`answered`: the poll just made returned messages of the id; `again`: see `_settle`."""
        if watch.status in (
            WatchStatus.DONE,
            WatchStatus.NOT_FOUND,
            WatchStatus.AUTH,
            WatchStatus.MEMORY,
        ):
            if watch.again and watch.status is not WatchStatus.AUTH:
                watch.again = False
                self._dispatch(watch, again)
            return
        # What the logs have just returned is live, whatever its sentAt or this machine's clock
        # says (a clock days ahead, a sentAt of 1970): memory is for when they stop answering.
        past_keep = self._beyond_keep(watch, now)
        if past_keep and not answered:
            self._to_memory(watch)
            return
        # Returned although sent longer ago than the logs keep: that sentAt (or this clock) is
        # off, so the schedule counts from when the id was added.
        sent = None if past_keep else watch.sent_at
        anchor = min(watch.added_at, sent or watch.added_at)
        interval = self.config.interval(now - anchor, watch.interval)
        if interval is None:
            watch.status = WatchStatus.STALE
            return
        if watch.status is WatchStatus.STALE:
            watch.status = WatchStatus.ACTIVE
        watch.interval = interval
        rate = self._rate_hold(watch, now)
        if watch.again and rate is None:
            watch.again = False
            self._dispatch(watch, again)
        else:
            watch.again = False
            due = now + interval * self.scale
            self._schedule(watch, due if rate is None else max(due, rate.until))

    def _rescale(self, step: int) -> float:
        index = min(range(len(SCALES)), key=lambda i: abs(SCALES[i] - self.scale))
        new = SCALES[max(0, min(len(SCALES) - 1, index + step))]
        if new == self.scale:
            return new
        factor, self.scale = new / self.scale, new
        now = self.clock.now()
        heap = []
        for watch in self._watches.values():
            if watch.next_due is not None and not watch.queued:
                watch.next_due = now + max(0.0, watch.next_due - now) * factor
                heap.append((watch.next_due, next(self._seq), watch.request_id))
        heapq.heapify(heap)
        self._heap = heap
        self._wake.set()
        return new

    def _emit(
        self,
        watch: Watch,
        now: float,
        transitions: list[Transition],
        first: bool,
        raw: tuple[bytes, ...] = (),
    ) -> None:
        update = PollUpdate(
            request_id=watch.request_id,
            at=now,
            channel=watch.channel,
            status=watch.status,
            state=watch.state,
            error=watch.error,
            transitions=tuple(transitions),
            first=first,
            last_poll=watch.last_poll,
            last_change=watch.last_change,
            next_due=watch.next_due,
            polls=watch.polls,
            known_on=watch.known_on,
            raw=raw,
        )
        for hook in self.hooks.on_update:
            try:
                hook(update)
            except Exception:
                log.exception("on_update hook")
        if transitions:
            for transition_hook in self.hooks.on_transition:
                try:
                    transition_hook(transitions)
                except Exception:
                    log.exception("on_transition hook")
