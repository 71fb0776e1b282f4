"""Poller corners a real server cannot reach on demand: a fetch that hangs or raises something
unexpected, and the bounds on how many polls run at once. (The flows run against the simulator
over HTTP in test_poller.py.)"""

from __future__ import annotations

import asyncio

from pollkit import ScriptedFetcher, running_poller, settle, until

from d7tui.errors import ProtocolError
from d7tui.models import Target
from d7tui.pollstate import PollConfig, WatchStatus

IDS = [f"{i:08x}-0000-4000-8000-000000000000" for i in range(40)]


def test_schedule_grows_from_two_seconds_to_a_minute_then_slows_and_gives_up():
    cfg = PollConfig()
    assert cfg.interval(0) == 2.0
    assert cfg.interval(29.9) == 2.0
    assert cfg.interval(31, previous=2.0) == 3.0
    assert cfg.interval(200, previous=50.0) == 60.0
    assert cfg.interval(3599, previous=60.0) == 60.0
    assert cfg.interval(3601, previous=60.0) == 300.0
    assert cfg.interval(6 * 3600 + 1, previous=300.0) == 900.0
    assert cfg.interval(72 * 3600) is None
    # a schedule time in the future: not stale, not hammered either
    assert cfg.interval(-600, previous=2.0) == 3.0


async def test_an_unexpected_exception_becomes_an_error_on_the_row_and_polling_goes_on():
    fetcher = ScriptedFetcher()
    fetcher.raise_next[IDS[0]] = KeyError("boom")
    async with running_poller(fetcher) as (poller, clock, updates):
        poller.add(Target(IDS[0]))
        poller.add(Target(IDS[1]))
        await settle(poller)
        first = {u.request_id: u for u in updates}
        assert isinstance(first[IDS[0]].error, ProtocolError)
        assert "internal error: KeyError" in first[IDS[0]].error.message
        assert first[IDS[1]].error is None
        # the failing id is polled again later and recovers
        clock.advance(30)
        await settle(poller)
        assert updates[-1].request_id == IDS[0] or any(
            u.request_id == IDS[0] and u.error is None for u in updates
        )
        assert poller.running


async def test_a_hook_that_raises_does_not_stop_polling():
    fetcher = ScriptedFetcher()
    seen: list[str] = []

    def bad_hook(update: object) -> None:
        seen.append("x")
        raise RuntimeError("hook bug")

    async with running_poller(fetcher) as (poller, clock, _updates):
        poller.hooks.on_update.append(bad_hook)
        poller.add(Target(IDS[0]))
        await settle(poller)
        clock.advance(2)
        await settle(poller)
        assert len(seen) == 2


async def test_polls_never_pile_up_and_the_global_bound_holds():
    fetcher = ScriptedFetcher(gate=asyncio.Event())
    async with running_poller(fetcher, PollConfig(workers=5)) as (poller, clock, _updates):
        for rid in IDS:
            poller.add(Target(rid))
        await until(None, lambda: fetcher.running == 5)
        # time passes and refreshes are asked while every worker is stuck: nothing piles up
        for _ in range(5):
            clock.advance(10)
            poller.refresh()
            await asyncio.sleep(0.01)
        assert fetcher.running == 5
        fetcher.gate.set()  # type: ignore[union-attr]
        await settle(poller)
        assert fetcher.max_running == 5
        assert fetcher.max_per_id == 1
        # each id: its first poll, then exactly one more for the refreshes that came meanwhile
        assert all(fetcher.calls.count(rid) <= 2 for rid in IDS)


async def test_removing_an_id_mid_poll_drops_its_result_and_restore_brings_it_back():
    fetcher = ScriptedFetcher(gate=asyncio.Event())
    async with running_poller(fetcher) as (poller, _clock, updates):
        poller.add(Target(IDS[0]))
        await until(None, lambda: fetcher.running == 1)
        watch = poller.remove(IDS[0])
        fetcher.gate.set()  # type: ignore[union-attr]
        await settle(poller)
        assert updates == []
        assert watch is not None and watch.state is not None  # what it learnt is kept
        assert poller.restore(watch)
        await settle(poller)
        assert [u.request_id for u in updates] == [IDS[0]]
        assert not updates[0].first  # its first answer was already had


async def test_faster_and_slower_rescale_what_is_already_scheduled():
    fetcher = ScriptedFetcher()
    async with running_poller(fetcher) as (poller, clock, _updates):
        poller.add(Target(IDS[0]))
        await settle(poller)
        due = poller.next_due
        assert due == clock.now() + 2.0
        assert poller.faster() == 0.5
        assert poller.next_due == clock.now() + 1.0
        assert poller.interval_range() == (1.0, 30.0)
        poller.slower()
        poller.slower()
        assert poller.scale == 2.0
        assert poller.next_due == clock.now() + 4.0
        for _ in range(10):
            poller.slower()
        assert poller.scale == 8.0


async def test_done_ids_are_not_polled_and_refresh_polls_them_anyway():
    fetcher = ScriptedFetcher(statuses={IDS[0]: ["delivered"]})
    async with running_poller(fetcher) as (poller, clock, updates):
        poller.add(Target(IDS[0]))
        await settle(poller)
        clock.advance(2)
        await settle(poller)
        assert updates[-1].status is WatchStatus.DONE
        calls = len(fetcher.calls)
        clock.advance(3600)
        await settle(poller)
        assert len(fetcher.calls) == calls
        assert poller.refresh(IDS[0]) == 1
        await settle(poller)
        assert len(fetcher.calls) == calls + 1
        assert updates[-1].status is WatchStatus.DONE


class OneBatch(ScriptedFetcher):
    """A fetcher that asks for any ids together (as a desk's follower reads the database)."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[str]] = []

    def batch_key(self, target: Target) -> str:
        return "all"

    async def fetch_many(self, targets):  # type: ignore[no-untyped-def]
        self.batches.append([t.request_id for t in targets])
        return {t.request_id: await self.fetch(t) for t in targets}


async def test_ids_refreshed_together_and_again_while_out_are_asked_together_again():
    fetcher = OneBatch()
    async with running_poller(fetcher) as (poller, _, _):
        poller.pause()  # only what is asked for
        fetcher.gate = asyncio.Event()
        for rid in IDS[:10]:
            poller.add(Target(rid))
        assert poller.refresh_many(IDS[:10]) == 10
        await until(None, lambda: len(fetcher.batches) == 1)
        assert fetcher.batches == [IDS[:10]]
        # Asked for again while their call is out: after it, once more, in one call.
        assert poller.refresh_many(IDS[:10]) == 10
        fetcher.gate.set()
        await settle(poller)
        assert fetcher.batches == [IDS[:10], IDS[:10]]
        assert poller.refresh_many(["not-watched", IDS[3]]) == 1
        await settle(poller)
        assert fetcher.batches[-1] == [IDS[3]]


def recount(poller) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(queued, to poll) as a pass over every watch says them."""
    watches = list(poller)
    queued = sum(1 for w in watches if w.queued)
    resting = (WatchStatus.DONE, WatchStatus.NOT_FOUND, WatchStatus.STALE, WatchStatus.MEMORY)
    return queued, sum(1 for w in watches if w.queued or w.status not in resting)


async def test_the_kept_backlog_is_what_a_pass_over_every_watch_counts():
    """The status line's "N queued" and "all final" come from counts kept as watches change:
    through polls, removals mid-poll, undo, refusals and refreshes they match a recount."""
    fetcher = ScriptedFetcher(gate=asyncio.Event(), statuses={i: ["delivered"] for i in IDS[:20]})
    async with running_poller(fetcher) as (poller, clock, _updates):
        seen = []

        def check() -> None:
            seen.append(poller.backlog())
            assert poller.backlog() == recount(poller)

        for rid in IDS[:30]:
            poller.add(Target(rid))
        check()
        await until(None, lambda: fetcher.running == 4)
        check()
        removed = [poller.remove(rid) for rid in IDS[:6]]  # some queued, some in a worker
        check()
        fetcher.raise_next[IDS[25]] = ProtocolError("sms", "garbled")
        fetcher.gate.set()  # type: ignore[union-attr]
        await settle(poller)
        check()
        for watch in removed:
            assert watch is not None and poller.restore(watch)
        check()
        await settle(poller)
        clock.advance(2)
        await settle(poller)  # the final ones confirmed: done
        check()
        assert poller.refresh() == 30
        check()
        await settle(poller)
        clock.advance(120)
        await settle(poller)
        check()
        assert seen[-1][1] == 10  # the ten never final are still to poll; the twenty are done
        assert seen[0] == (0, 30) and any(queued for queued, _ in seen[1:3])


async def test_a_flood_of_due_ids_is_handed_over_in_slices_between_turns_of_the_loop():
    """Thousands of ids due at once (a start at 100,000 ids) are handed to the workers a slice
    at a time: other work on the loop (a key) runs between two slices."""
    from d7tui.poller import DISPATCH_SLICE

    fetcher = ScriptedFetcher(gate=asyncio.Event())
    total = 3 * DISPATCH_SLICE + 7
    async with running_poller(fetcher) as (poller, _clock, _updates):
        poller.pause()
        for i in range(total):
            poller.add(Target(f"{i:08x}-0000-4000-8000-{i:012x}"))
        looks = []
        poller.resume()
        while not looks or looks[-1] < total:
            await asyncio.sleep(0)  # a turn of the loop, as a key's handler gets
            looks.append(poller.queued())
        assert any(0 < n < total for n in looks)  # seen part-way: not all in one turn
        assert looks[-1] == total and poller.backlog() == (total, total)
        fetcher.gate.set()  # type: ignore[union-attr]
        await settle(poller)
        assert sorted(set(fetcher.calls)) == sorted(w.request_id for w in poller)
