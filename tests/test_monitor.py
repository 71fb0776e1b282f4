"""The monitor without a screen (d7tui/monitor.py): what a user does, what another shell or
another d7tui does, against the simulator and a real store, with plain pytest."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from faultfs import read_only
from pollkit import settle
from storekit import remember_final

from d7tui.channels.infobip import parse_page
from d7tui.channels.status import StatusClient
from d7tui.client import Engine
from d7tui.clock import ManualClock
from d7tui.config import ConfigError, Settings
from d7tui.memory import FIRST_ROWS
from d7tui.models import InfobipSource, Target
from d7tui.monitor import Monitor
from d7tui.poller import Poller
from d7tui.pollstate import PollConfig
from d7tui.safety import Secret
from d7tui.simulator import Simulator
from d7tui.simulator.lifecycles import Step
from d7tui.store import Store, Which, add_ids, open_store
from d7tui.store.core import FirstRows
from d7tui.watchlist import SortKey

DELIVERS = [Step(0, "accepted"), Step(4, "delivered")]


def settings_for(sim: Simulator, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "d7_token": Secret("sim-token"),
        "d7_base_url": sim.base_url,
        "infobip_key": Secret("sim-infobip-key"),
        "infobip_base_url": sim.base_url,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


class Running:
    def __init__(self, monitor: Monitor, said: list[str], first: FirstRows) -> None:
        self.monitor = monitor
        self.said = said
        self.first = first  # the list's first rows, as the store gave them (sketch_first)

    async def settled(self) -> None:
        """Polls done, their results on the list (as the screen puts them) and in the store."""
        await settle(self.monitor.poller)
        self.monitor.apply(self.monitor.take_news())
        assert self.monitor.memory is not None
        await self.monitor.memory.astore.flush()


@contextlib.asynccontextmanager
async def running(
    sim: Simulator,
    clock: ManualClock,
    db: Path,
    *,
    settings: Settings | None = None,
    archive_after: float = 3600.0,
    reload: object = None,
    first: int = FIRST_ROWS,
) -> AsyncIterator[Running]:
    settings = settings or settings_for(sim)
    said: list[str] = []
    client = StatusClient(settings, Engine())
    poller = Poller(client, PollConfig(workers=4), clock=clock)
    monitor = Monitor(
        settings,
        poller,
        clock=clock,
        archive_after=archive_after,
        say=lambda line, _severity: said.append(line),
        reload=reload,  # type: ignore[arg-type]
    )
    monitor.client = client
    rows = await monitor.open_memory(
        db,
        reports=settings.infobip_source is InfobipSource.REPORTS,
        on_error=lambda exc: said.append(str(exc)),
        on_trouble=lambda exc: None,
        on_notice=said.append,
        first=first,
    )
    task = asyncio.create_task(poller.run())
    try:
        yield Running(monitor, said, rows)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if monitor.memory is not None:
            await monitor.memory.close()
        await client.aclose()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "d7tui.sqlite3"


def live_ids(db: Path) -> list[str]:
    with Store.open(db) as store:
        return [w.request_id for w in store.watches(Which.LIVE)]


async def test_added_ids_are_polled_remembered_and_removal_is_undone(sim, clock, db):
    ids = [sim.create_request("sms", [f"+97150000000{i}"], DELIVERS) for i in range(2)]
    async with running(sim, clock, db) as run:
        monitor = run.monitor
        assert monitor.add_targets([Target(i) for i in ids], label="order 1182") == ids
        assert monitor.add_targets([Target(ids[0])]) == []  # watched already
        await run.settled()
        assert [e.latest_status for e in monitor.live] == ["accepted", "accepted"]
        removed = monitor.remove_request(ids[0], archived=False)
        assert removed is not None and ids[0] not in monitor.live
        assert monitor.poller.get(ids[0]) is None
        await run.settled()
        assert live_ids(db) == [ids[1]]
        assert monitor.undo() == (removed, False)
        assert monitor.undo() is None  # nothing more to undo
        monitor.set_label_note(ids[0], "order 1183", "called back")
        await run.settled()
        assert monitor.poller.get(ids[0]) is not None
        assert monitor.live.get(ids[0]).label == "order 1183"  # type: ignore[union-attr]
    assert sorted(live_ids(db)) == sorted(ids)
    with Store.open(db) as store:
        assert store.watch(ids[0]).note == "called back"  # type: ignore[union-attr]


async def test_a_d7_answers_body_is_in_the_store_whole_and_not_held_by_the_monitor(sim, clock, db):
    """The raw body of every answer is what the API said: the store keeps it, byte for byte.
    The monitor reads nothing of it again: its states do not hold it (33 MB at 100,000 ids)."""
    rid = sim.create_request("sms", ["+971500000001"], DELIVERS)
    async with running(sim, clock, db) as run:
        run.monitor.add_targets([Target(rid)])
        await run.settled()
        clock.advance(5)  # delivered: another answer, another body
        await run.settled()
        entry = run.monitor.live.get(rid)
        watch = run.monitor.poller.get(rid)
        assert entry is not None and entry.state is not None and watch is not None
        assert entry.latest_status == "delivered"
        assert entry.state.raw == () and watch.state is not None and watch.state.raw == ()
        shown = entry.state
    with Store.open(db) as store:
        stored = store.load_state(rid)
    assert stored is not None and len(stored.state.raw) == 1
    body = json.loads(stored.state.raw[0])
    assert body["request_id"] == rid and body["messages"][0]["status"] == "delivered"
    assert stored.state.recipients == shown.recipients


async def test_a_request_final_long_enough_is_archived_and_adding_it_brings_it_back(sim, clock, db):
    rid = sim.create_request("sms", ["+971500000001"], [Step(0, "delivered")])
    busy = sim.create_request("sms", ["+971500000002"], [Step(0, "accepted")])
    async with running(sim, clock, db, archive_after=60) as run:
        monitor = run.monitor
        monitor.add_targets([Target(rid), Target(busy)])
        await run.settled()
        clock.advance(2)  # final: confirmed once more
        await run.settled()
        assert await monitor.archive_finished() == []  # final, but not for long enough
        clock.advance(61)
        await run.settled()
        assert await monitor.archive_finished() == [rid]
        assert rid in monitor.archived and rid not in monitor.live and busy in monitor.live
        assert monitor.poller.get(rid) is None
        assert monitor.add_targets([Target(rid)]) == [rid]
        assert rid in monitor.live and rid not in monitor.archived


async def test_ids_added_from_another_shell_are_picked_up_once_and_said(sim, clock, db):
    first, second = (sim.create_request("sms", [f"+97150000001{i}"], DELIVERS) for i in (1, 2))
    async with running(sim, clock, db) as run:
        monitor = run.monitor
        assert await monitor.pick_up_added() == 0
        with Store.open(db) as shell:  # `d7tui add` in another terminal
            add_ids(shell, [first, second], label="from a shell")
        assert await monitor.pick_up_added() == 2
        assert await monitor.pick_up_added() == 0
        assert {first, second} <= {e.request_id for e in monitor.live}
        assert (
            "Watching 2 more requests added elsewhere (d7tui add, or another monitor on this "
            "store)." in run.said
        )
        await run.settled()
        assert monitor.live.get(first).latest_status == "accepted"  # type: ignore[union-attr]


async def test_the_lock_makes_one_poller_and_is_taken_when_the_other_holder_ends(sim, clock, db):
    reports = settings_for(sim, infobip_source=InfobipSource.REPORTS)
    other = Store.open(db)  # another d7tui on this store: it polls and pulls Infobip's reports
    assert other.try_acquire_report_lock()
    try:
        async with running(sim, clock, db, settings=reports) as run:
            memory = run.monitor.memory
            assert memory is not None and memory.one_poller
            assert not memory.leading and not memory.pulls_reports
            assert run.monitor.notices == []  # the status line says who leads (the app's)
            assert not await memory.lead()  # still held
            other.close()
            assert await memory.lead()
            assert memory.leading and memory.pulls_reports
    finally:
        other.close()


async def test_export_writes_beside_the_store_and_a_reload_reaches_the_client(
    sim, clock, db, tmp_path
):
    rid = sim.create_request("sms", ["+971500000001"], DELIVERS)
    fixed = settings_for(sim, d7_token=Secret("fixed-token"))
    answers: list[Settings | ConfigError] = [ConfigError("config.toml: bad timeout"), fixed]

    def reload() -> Settings:
        answer = answers.pop(0)
        if isinstance(answer, ConfigError):
            raise answer
        return answer

    async with running(sim, clock, db, reload=reload) as run:
        monitor = run.monitor
        monitor.add_targets([Target(rid)], label="order 1182")
        await run.settled()
        line = await monitor.export("json")
        assert line.startswith("Exported to ")  # the path first: the strip shows it whole
        assert line.endswith(": 1 request, 1 recipient, 1 transition")
        path = Path(line.removeprefix("Exported to ").rsplit(": ", 1)[0])
        assert path.parent == db.parent
        assert json.loads(path.read_text())["watchlist"][0]["label"] == "order 1182"
        assert monitor.reload_settings() == "config.toml: bad timeout"
        assert monitor.settings is not fixed
        assert monitor.reload_settings() is None
        assert monitor.settings is fixed and monitor.client.settings is fixed  # type: ignore[union-attr]


async def test_a_store_that_cannot_be_opened_is_said_and_the_monitor_works_without(
    sim, clock, tmp_path
):
    (tmp_path / "not-a-directory").write_text("")
    rid = sim.create_request("sms", ["+971500000001"], DELIVERS)
    async with running(sim, clock, tmp_path / "not-a-directory" / "d7tui.sqlite3") as run:
        monitor = run.monitor
        assert monitor.memory is None
        [notice] = monitor.notices
        assert notice.startswith("Not remembering this session: ")
        assert monitor.no_memory.startswith("this session has no store (")
        assert monitor.add_targets([Target(rid)]) == [rid]
        await settle(monitor.poller)
        monitor.apply(monitor.take_news())
        assert monitor.live.get(rid).latest_status == "accepted"  # type: ignore[union-attr]
        assert await monitor.export() == "Nothing to export: this session is not remembered."
        assert await monitor.pick_up_added() == 0 and await monitor.archive_finished() == []


async def test_the_remembered_list_is_drawn_newest_first_then_whole_and_nothing_is_lost(
    sim, clock, db
):
    ids = remember_final(db, 12, archived=2)
    async with running(sim, clock, db, first=3) as run:
        monitor = run.monitor
        assert monitor.memory is not None
        assert len(run.first.rows) == 3 and run.first.live == 10 and run.first.kept == 12
        assert monitor.sketch_first(run.first)  # the rest is left for later
        # What the first screen shows: the newest changes, and only those.
        assert [e.request_id for e in monitor.live.visible()] == ids[:-4:-1]
        assert monitor.remove_request(ids[-1], archived=False) is not None  # before the rest
        # An id not drawn yet is watched already: adding it again keeps what was remembered.
        assert monitor.add_targets([Target(ids[5])]) == []
        kept = monitor.live.get(ids[5])
        assert kept is not None and kept.label == "kept" and kept.loading
        # Only that one was drawn: the others are left to the parts (all of them made in one
        # turn held the screen's loop 0.5-1 s at 100,000 ids).
        assert monitor.sketching and len(monitor.live) == 3
        assert monitor.remove_request(ids[5], archived=False) is not None
        assert monitor.sketch_more(None) is False  # the rest, all of it now
        assert ids[5] not in monitor.live  # removed: the parts do not bring it back
        kept_ids = [rid for rid in ids[2:-1] if rid != ids[5]]
        monitor.live.sort = SortKey.ADDED
        assert [e.request_id for e in monitor.live.visible()] == kept_ids  # the store's order
        assert [e.request_id for e in monitor.archived] == ids[:2]
        await monitor.read_remembered(5)  # in parts of five
        assert all(e.latest_status == "delivered" for e in [*monitor.live, *monitor.archived])
        assert monitor.poller.queued() == 0  # every one final: nothing to ask
        await run.settled()
    assert live_ids(db) == kept_ids  # the removals are kept; nothing else went


async def test_on_a_read_only_store_removals_undos_and_unarchiving_are_held_and_taken_in(
    sim, clock, tmp_path, monkeypatch
):
    """J5, without a screen: every watchlist change made while the store cannot be written is
    kept at quit in the order it was made, and the next open replays it."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    db = tmp_path / "data" / "d7tui.sqlite3"
    gone, back, archived = (
        sim.create_request("sms", [f"+97150000000{n}"], DELIVERS) for n in range(1, 4)
    )
    new = sim.create_request("sms", ["+971500000009"], DELIVERS)
    with Store.open(db) as store:
        for rid in (gone, back, archived):
            store.add_watch(rid, "sms")
        store.archive(archived)
    with read_only(db.parent):
        async with running(sim, clock, db) as run:
            monitor = run.monitor
            assert monitor.memory is None and monitor.held is not None
            for remembered in monitor.take_read_only():  # shown, as the app shows them
                monitor.restore_remembered(remembered)
            monitor.remove_request(gone, archived=False)
            monitor.remove_request(back, archived=False)
            assert monitor.undo() is not None  # `back` is back
            assert monitor.unarchive(archived)
            monitor.add_targets([Target(new)], label="new one")
            assert run.said[-1].startswith("Held, not saved (the store cannot be written): ")
            line = await asyncio.to_thread(monitor.keep_held)
    # The polls' results join them if any came in before the quit (the simulator's pace).
    said = re.match(
        r"4 watchlist changes(?:,| and) 1 id added(?: and (\d+) poll results?)? could not be saved",
        line or "",
    )
    assert said is not None, line
    polled = int(said.group(1) or 0)
    with open_store(db, parse_report=parse_page) as store:
        assert store.warnings and f"took in {5 + polled} held writes" in store.warnings[-1]
        live = {w.request_id: w.label for w in store.watches(Which.LIVE)}
    assert live == {back: "", archived: "", new: "new one"}
