"""The store as the monitor uses it: writes never block the event loop, queued writes commit
together and in order, a report body is on disk before the drain moves on, and no credential
ever reaches the file."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from test_store import d7_status, rid

from d7tui.channels.infobip import parse_page
from d7tui.channels.status import StatusClient
from d7tui.config import Settings
from d7tui.models import IdKind, InfobipSource, Target, observe
from d7tui.safety import Secret
from d7tui.store import AsyncStore, Store, StoreError, open_store


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "d7tui.sqlite3"


async def test_writes_return_at_once_and_whatever_is_queued_commits_in_one_transaction(db_path):
    astore = AsyncStore(Store.open(db_path))
    entered, release = threading.Event(), threading.Event()

    def gate() -> None:  # holds the writer, as a slow disk would
        entered.set()
        release.wait(10)

    held = astore._submit("gate", gate)
    assert await asyncio.to_thread(entered.wait, 10)
    pending = []
    for n in range(300):
        state, transitions = observe(None, d7_status(rid(n), ["sent"]), n)
        pending.append(astore.save_observation(state, transitions, at=n))
    # The loop queued 300 writes while the disk was busy: none waited for it.
    assert not any(p.done() for p in pending)
    release.set()
    await held
    await asyncio.gather(*pending)
    # One transaction (one fsync) for the gate, one for the 300.
    assert (astore.stats.batches, astore.stats.writes) == (2, 301)
    states = await astore.read(lambda: astore.store.load_states(None))
    assert len(states) == 300
    await astore.aclose()


async def test_a_failing_write_is_reported_and_does_not_undo_its_neighbours(db_path):
    errors: list[StoreError] = []
    loop_thread: list[int] = []

    def on_error(error: StoreError) -> None:
        loop_thread.append(threading.get_ident())
        errors.append(error)

    astore = AsyncStore(Store.open(db_path), on_error=on_error)
    entered, release = threading.Event(), threading.Event()
    astore._submit("gate", lambda: (entered.set(), release.wait(10)))
    await asyncio.to_thread(entered.wait, 10)
    good = astore.add_watch(rid(1), "sms", label="kept")
    state, transitions = observe(None, d7_status(rid(2), ["sent"]), 1)
    bad = astore.save_observation(state, [replace(transitions[0], new_phase=None)])
    also_good = astore.set_label(rid(1), "still kept")
    release.set()
    assert await good and await also_good
    with pytest.raises(AttributeError):
        await bad
    await asyncio.sleep(0)  # on_error is scheduled on this loop
    assert len(errors) == 1 and "\n" not in str(errors[0])
    assert loop_thread == [threading.get_ident()]
    assert (await astore.watches())[0].label == "still kept"
    assert await astore.load_state(rid(2)) is None  # the failed write left nothing half-done
    assert astore.last_error is errors[0]
    await astore.aclose()


async def test_a_report_body_is_on_disk_before_the_drain_moves_on_and_parsed_after(db_path):
    parsing, finish = threading.Event(), threading.Event()

    def slow_parser(body: bytes):
        parsing.set()
        finish.wait(10)
        return parse_page(body)

    astore = AsyncStore(Store.open(db_path), parse_report=slow_parser)
    body = b'{"results": [{"messageId": "m1", "to": "4179", "status": {"name": "PENDING_ENROUTE", "groupName": "PENDING"}}]}'
    await astore.commit_report("BULK-1", body)
    # Committed: another connection (another process after a crash) sees it ...
    conn = sqlite3.connect(db_path)
    assert [bytes(r[0]) for r in conn.execute("SELECT body FROM report_body")] == [body]
    conn.close()
    # ... while it may not even be parsed yet.
    assert await asyncio.to_thread(parsing.wait, 10)
    finish.set()
    await astore.flush()
    assert [r.recipient.msg_id for r in await astore.reports_for("BULK-1")] == ["m1"]
    await astore.aclose()


async def test_a_body_that_cannot_be_kept_stops_the_sink_with_a_store_error(db_path):
    store = Store.open(db_path)

    def disk_full(*args: object) -> int:
        raise StoreError(f"{db_path}: database or disk is full")

    store.save_report_body = disk_full  # type: ignore[method-assign]
    astore = AsyncStore(store, parse_report=parse_page)
    with pytest.raises(StoreError, match="disk is full"):
        await astore.commit_report("BULK-1", b'{"results": []}')
    await astore.flush()  # the parse queued behind it found nothing to parse
    assert store.unparsed_bodies() == [] and store.report_bodies() == []
    await astore.aclose()


async def test_close_commits_everything_still_queued(db_path):
    astore = AsyncStore(Store.open(db_path))
    for n in range(50):
        astore.add_watch(rid(n), label=f"#{n}")
    await astore.aclose()
    with pytest.raises(StoreError, match="closed"):
        astore.add_watch(rid(99))
    with Store.open(db_path) as store:
        assert [w.label for w in store.watches()] == [f"#{n}" for n in range(50)]


async def test_a_monitor_run_against_the_simulator_never_stores_a_credential(tmp_path):
    """The whole path the monitor takes: StatusClient with the store as its report sink, each
    observation saved; then the database files are searched byte by byte for the secrets."""
    from d7tui.simulator import Simulator

    token, key = "d7-TOKEN-7f3a9c-never-stored", "ib-KEY-51e0b2-never-stored"
    sim = Simulator(token=token, infobip_key=key, seed=5)
    base = sim.start()
    db_path = tmp_path / "d7tui.sqlite3"
    astore = AsyncStore(open_store(db_path, parse_report=parse_page), parse_report=parse_page)
    assert astore.try_acquire_report_lock()
    settings = Settings(
        d7_token=Secret(token),
        d7_base_url=base,
        infobip_key=Secret(key),
        infobip_base_url=base,
        infobip_source=InfobipSource.REPORTS,  # the report sink's path
    )
    try:
        d7_id = sim.create_request("sms", ["+971509752655", "+971509752656"])
        bulk, _ = sim.create_infobip_bulk(["41793026727", "41793026728"])
        sim.advance(3600)
        targets = [Target(d7_id, "auto"), Target(bulk, "infobip", IdKind.BULK)]
        async with StatusClient(settings, report_sink=astore.commit_report) as client:
            for target in targets:
                astore.add_watch(target.request_id, target.channel, target.id_kind)
                for _ in range(2):
                    update = await client.fetch(target)
                    before = await astore.load_state(target.request_id)
                    state, transitions = observe(before.state if before else None, update, 1.0)
                    await astore.save_observation(state, transitions)
        await astore.flush()
        assert_no_secret(tmp_path, token, key)  # the WAL too, before it is checkpointed
    finally:
        await astore.aclose()
        sim.stop()
    with Store.open(db_path) as store:
        assert store.watch(d7_id).resolved_channel == "sms"
        assert len(store.load_state(d7_id).state.recipients) == 2
        assert {r.recipient.recipient for r in store.reports_for(bulk)} == {
            "41793026727",
            "41793026728",
        }
        assert len(store.load_state(bulk).state.recipients) == 2
    assert_no_secret(tmp_path, token, key)


def assert_no_secret(directory: Path, *secrets: str) -> None:
    files = [p for p in directory.iterdir() if p.name.startswith("d7tui.sqlite3")]
    assert directory / "d7tui.sqlite3" in files
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"a credential was found in {path.name}"
            assert secret.encode("utf-16-le") not in data
