"""The store when the disk says no: full, read-only, the file deleted or replaced under a running
store. Real failures (see faultfs.py): nothing written is dropped, the caller hears why in one
line, and everything held is written once the disk takes it again."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from pathlib import Path

import pytest
from faultfs import read_only, small_disk
from test_store import d7_status, rid

from d7tui.channels.infobip import parse_page
from d7tui.models import IdKind, observe
from d7tui.store import (
    AsyncStore,
    Snapshot,
    Store,
    StoredState,
    StoreError,
    StoreUnavailable,
    WatchRecord,
    Which,
    open_store,
)


def body(n: int) -> bytes:
    return json.dumps(
        {
            "results": [
                {
                    "bulkId": "BULK-1",
                    "messageId": f"m{n}",
                    "to": "41793026727",
                    "doneAt": f"2024-06-11T10:00:{n % 60:02d}.000+0000",
                    "status": {"groupName": "DELIVERED", "name": "DELIVERED_TO_HANDSET"},
                    "filler": "x" * 2000,
                }
            ]
        }
    ).encode()


def save(astore: AsyncStore, n: int):
    state, transitions = observe(None, d7_status(rid(n), ["sent", "sent"]), n)
    return astore.save_observation(state, transitions, at=n)


class Told:
    """What the store told its user: troubles (and their end) and notices, as they came."""

    def __init__(self) -> None:
        self.troubles: list[StoreError | None] = []
        self.notices: list[str] = []
        self.changed = asyncio.Event()

    def trouble(self, error: StoreError | None) -> None:
        self.troubles.append(error)
        self.changed.set()

    def notice(self, line: str) -> None:
        self.notices.append(line)
        self.changed.set()

    async def until(self, done, timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            while not done():
                self.changed.clear()
                await self.changed.wait()


def open_async(path: Path, told: Told, **kw) -> AsyncStore:
    astore = AsyncStore(
        open_store(path, parse_report=parse_page),
        parse_report=parse_page,
        on_trouble=told.trouble,
        on_notice=told.notice,
        **kw,
    )
    assert astore.try_acquire_report_lock()
    return astore


# ---------------------------------------------------------------------------------------------
# A full disk


async def test_a_full_disk_holds_every_write_stops_report_pulls_and_writes_it_all_after(
    tmp_path, monkeypatch
):
    with small_disk(tmp_path / "disk", monkeypatch) as disk:
        path = tmp_path / "disk" / "d7tui.sqlite3"
        told = Told()
        astore = open_async(path, told, max_queued=40)
        try:
            assert astore.report_refusal() is None
            await astore.commit_report("BULK-1", body(0))
            await astore.flush()  # its reports indexed too
            disk.fill()
            # A report body that cannot be kept: its caller hears it at once, one line ...
            with pytest.raises(StoreUnavailable) as caught:
                await astore.commit_report("BULK-1", body(1))
            assert "disk is full" in str(caught.value) and "\n" not in str(caught.value)
            await told.until(lambda: told.troubles)
            # ... and until the disk takes writes again, no report may be pulled.
            assert "disk is full" in (astore.report_refusal() or "")
            # Polls go on being queued until the queue is full, then the poller waits.
            for n in range(39):
                save(astore, n)
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(1.5):  # two tries of the held batch at least
                    await astore.room()
            assert astore.queued == 40  # held in memory, none dropped
            disk.free()
            astore.retry_now()
            async with asyncio.timeout(20):
                await astore.room()
                await astore.flush()
            assert told.troubles[-1] is None and astore.report_refusal() is None
        finally:
            await astore.aclose()


async def _check_everything_arrived(path: Path) -> None:
    with Store.open(path) as store:
        assert {r.recipient.msg_id for r in store.reports_for("BULK-1")} == {"m0", "m1"}
        assert len(store.load_states(None)) == 39


async def test_held_writes_are_on_disk_once_it_has_room_again(tmp_path, monkeypatch):
    with small_disk(tmp_path / "disk", monkeypatch) as disk:
        path = tmp_path / "disk" / "d7tui.sqlite3"
        told = Told()
        astore = open_async(path, told)
        try:
            await astore.commit_report("BULK-1", body(0))
            disk.fill()
            with pytest.raises(StoreUnavailable):
                await astore.commit_report("BULK-1", body(1))
            pending = [save(astore, n) for n in range(39)]
            await told.until(lambda: told.troubles)
            disk.free()
            astore.retry_now()
            await asyncio.gather(*pending)  # every poll's result committed, none failed
            await astore.flush()
            await _check_everything_arrived(path)
        finally:
            await astore.aclose()


async def test_a_disk_still_full_at_close_counts_what_was_not_saved(tmp_path, monkeypatch):
    with small_disk(tmp_path / "disk", monkeypatch) as disk:
        path = tmp_path / "disk" / "d7tui.sqlite3"
        told = Told()
        astore = open_async(path, told)
        disk.fill()
        with pytest.raises(StoreUnavailable):
            await astore.commit_report("BULK-1", body(7))
        for n in range(3):
            save(astore, n)
        await astore.aclose()
        # Said, not silent: the caller can keep the report bodies somewhere else.
        assert astore.unsaved == 4
        assert astore.unsaved_reports == [("BULK-1", body(7))]


# ---------------------------------------------------------------------------------------------
# The file deleted or replaced under a running store


@pytest.mark.parametrize("what", ["the file", "the file and its WAL", "the whole directory"])
async def test_a_database_deleted_under_a_running_store_is_written_back(tmp_path, what):
    path = tmp_path / "data" / "d7tui.sqlite3"
    told = Told()
    astore = open_async(path, told)
    try:
        astore.add_watch(rid(1), "sms", label="before")
        await astore.commit_report("BULK-1", body(1))
        await astore.flush()
        if what == "the whole directory":
            for found in path.parent.iterdir():
                found.unlink()
            path.parent.rmdir()
        else:
            path.unlink()
            if what == "the file and its WAL":
                Path(f"{path}-wal").unlink()
                Path(f"{path}-shm").unlink()
        await save(astore, 2)  # the next write notices, puts the file back, then writes
        await astore.commit_report("BULK-1", body(3))
        await told.until(lambda: told.notices)
        assert "was deleted" in told.notices[0] and str(path) in told.notices[0]
        assert astore.report_refusal() is None  # the report lock was taken again too
        watches = await astore.watches(Which.KEPT)
        assert [w.label for w in watches] == ["before"]
    finally:
        await astore.aclose()
    with Store.open(path) as store:  # and the file on disk after the end holds all of it
        assert store.integrity_check() == "ok"
        assert store.watch(rid(1)).label == "before"
        assert store.load_state(rid(2)) is not None
        assert {r.recipient.msg_id for r in store.reports_for("BULK-1")} == {"m1", "m3"}


async def test_a_database_deleted_where_it_cannot_be_written_back_holds_until_it_can(tmp_path):
    path = tmp_path / "data" / "d7tui.sqlite3"
    told = Told()
    astore = open_async(path, told)
    try:
        astore.add_watch(rid(1), "sms", label="before")
        await astore.flush()
        path.unlink()
        with read_only(path.parent):
            pending = save(astore, 2)
            await told.until(lambda: told.troubles)
            # Held, said, and no one-time report may be pulled meanwhile.
            said = str(told.troubles[0])
            assert "was deleted" in said and "cannot be put back yet: Read-only" in said
            assert astore.report_refusal() is not None and not pending.done()
        astore.retry_now()
        await pending
        await told.until(lambda: told.notices and told.troubles[-1] is None)
        assert "was deleted" in told.notices[0]
    finally:
        await astore.aclose()
    with Store.open(path) as store:
        assert store.watch(rid(1)).label == "before" and store.load_state(rid(2)) is not None


async def test_a_database_deleted_while_idle_is_written_back_before_the_end(tmp_path):
    path = tmp_path / "d7tui.sqlite3"
    astore = open_async(path, Told())
    astore.add_watch(rid(1), "sms", label="kept")
    await astore.flush()
    path.unlink()
    await astore.aclose()  # nothing was written since: closing notices it
    with Store.open(path) as store:
        assert store.watch(rid(1)).label == "kept"


async def test_a_database_deleted_under_a_store_reopened_on_it_is_written_back_whole(tmp_path):
    """Opened on a file another run left, with nothing written since (its writer has no
    connection of its own): what is written back is the file it opened, not a new, empty one
    made at the path; checked against what the process shows (an id whose adding is still
    queued comes from there), each result written once."""
    path = tmp_path / "d7tui.sqlite3"
    with open_store(path) as store:
        for n in range(3):
            store.add_watch(rid(n), "sms", label=f"L{n}", note=f"n{n}")
            state, transitions = observe(None, d7_status(rid(n), ["sent"]), n)
            store.save_observation(state, transitions, at=n)
    told = Told()
    astore = open_async(path, told)
    shown = await astore.load()
    late_state, late_transitions = observe(None, d7_status(rid(3), ["sent", "sent"]), 3)
    late = WatchRecord(rid(3), "sms", IdKind.REQUEST, "late", "", 3.0, None, None, None, 0)
    astore.held = lambda: Snapshot(
        watches=[*shown.watches, late],
        states={**shown.states, rid(3): StoredState(late_state, 3.0, None, None)},
        timelines={**shown.timelines, rid(3): list(late_transitions)},
    )
    try:
        for suffix in ("", "-wal", "-shm"):  # `rm d7tui.sqlite3*`
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        astore.add_watch(rid(3), "sms", label="late")  # queued: shown, not in the file
        astore.save_observation(late_state, late_transitions, at=3)
        await save(astore, 1)  # a new result of an id the file had: written after the copy
        [said] = told.notices
        assert "was deleted" in said and "1 request d7tui shows was missing" in said
        assert "nothing is lost" not in said
    finally:
        await astore.aclose()
    with Store.open(path) as store:
        kept = {w.request_id: (w.label, w.note) for w in store.watches(Which.KEPT)}
        assert kept == {
            rid(0): ("L0", "n0"),
            rid(1): ("L1", "n1"),
            rid(2): ("L2", "n2"),
            rid(3): ("late", ""),
        }
        assert len(store.transitions(rid(3))) == 2  # once, from memory
        # The file's one, and the new result's second recipient: its first recipient's change
        # (none to sent) is the file's already, stored once.
        assert len(store.transitions(rid(1))) == 2
        assert len(store.transitions(rid(0))) == 1


async def replaced_while_running(tmp_path: Path, write_newcomer) -> tuple[Path, str]:
    """A store writes "mine"; its file is replaced by what `write_newcomer(path)` made; it
    writes "after". The database's path, and the one line it said about it."""
    path = tmp_path / "d7tui.sqlite3"
    told = Told()
    astore = open_async(path, told)
    try:
        astore.add_watch(rid(1), "sms", label="mine")
        await astore.flush()
        newcomer = tmp_path / "newcomer.sqlite3"
        write_newcomer(newcomer)
        os.replace(newcomer, path)
        astore.add_watch(rid(2), "sms", label="after")
        await astore.flush()
        [said] = told.notices
    finally:
        await astore.aclose()
    return path, said


async def test_a_database_replaced_by_a_broken_file_is_set_aside_and_written_back(tmp_path):
    path, said = await replaced_while_running(tmp_path, lambda p: p.write_bytes(b""))
    aside = Path(said.split("kept as ")[1].split(",")[0])
    assert aside.read_bytes() == b"" and aside.parent == tmp_path
    with Store.open(path) as store:
        assert [w.label for w in store.watches()] == ["mine", "after"]


def a_backup(path: Path) -> None:
    with Store.open(path) as other:
        other.add_watch(rid(9), "sms", label="restored from a backup")


async def test_a_database_replaced_by_another_d7tui_database_is_adopted_and_joined(tmp_path):
    path, said = await replaced_while_running(tmp_path, a_backup)  # restored while d7tui runs
    assert "was replaced by another d7tui database" in said
    assert "what it had that the new file lacked was written into it (1 request" in said
    with Store.open(path) as store:  # the new file, what it lacked of ours, what came after
        assert [w.label for w in store.watches()] == ["restored from a backup", "mine", "after"]
    with Store.open(Path(said.split("kept as ")[1])) as store:  # ours until then, whole
        assert [w.label for w in store.watches()] == ["mine"]


async def test_a_new_store_started_where_ours_was_deleted_gets_all_ours(tmp_path):
    """J6: the file deleted, then `d7tui add` (here: the store from another connection) starts
    a new one before this store looks: the new one gets every request ours kept, with its
    label, note, archiving, last state and every transition; what the new one has stays."""
    path = tmp_path / "d7tui.sqlite3"
    told = Told()
    astore = open_async(path, told)
    try:
        for n in range(1, 4):
            astore.add_watch(rid(n), "sms", label=f"L{n}")
            astore.set_note(rid(n), f"note {n}")
            save(astore, n)
        astore.archive(rid(3))
        astore.add_watch(rid(4), "sms", label="gone")
        astore.remove_watch(rid(4))  # removed: in the kept copy only
        await astore.flush()
        # deleted with its WAL (a cleanup script) ...
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink()
        # ... and a new store started there by another d7tui: one id of ours, without label
        newcomer = tmp_path / "newcomer.sqlite3"  # made whole apart: no moment without a file
        with Store.open(newcomer) as other:
            other.add_watch(rid(9), "sms", label="after-rm")
            other.add_watch(rid(2), "sms")
        os.replace(newcomer, path)
        save(astore, 5)  # the next write notices
        await told.until(lambda: told.notices)
        [said] = told.notices
        assert "was replaced by another d7tui database" in said
        assert "(2 requests with labels and notes, 3 last states, 6 transitions, 2 labels" in said
        assert "kept as" in said
    finally:
        await astore.aclose()
    with Store.open(path) as store:
        kept = {w.request_id: (w.label, w.note, w.archived) for w in store.watches(Which.ALL)}
        assert kept == {
            rid(9): ("after-rm", "", False),
            rid(2): ("L2", "note 2", False),  # what it lacked, filled in
            rid(1): ("L1", "note 1", False),
            rid(3): ("L3", "note 3", True),
        }
        for n in (1, 2, 3, 5):
            assert store.load_state(rid(n)) is not None
        assert len(store.transitions(rid(1))) == len(store.transitions(rid(2))) == 2


async def test_a_new_store_started_where_only_the_file_was_deleted_does_not_take_its_wal(
    tmp_path,
):
    """`rm d7tui.sqlite3` leaves the running store's WAL and shared memory: a new store started
    there (`d7tui add`) must not take them for its own (SQLite finds a WAL by name: the deleted
    database's pages laid over the new file, one WAL shared by two files). It starts empty;
    the running store then joins everything into it."""
    path = tmp_path / "d7tui.sqlite3"
    told = Told()
    astore = open_async(path, told)
    try:
        for n in range(1, 4):
            astore.add_watch(rid(n), "sms", label=f"L{n}")
        await astore.flush()
        path.unlink()  # its -wal and -shm stay, in use
        with Store.open(path) as other:
            assert other.watches(Which.ALL) == []  # a new store: nothing of the deleted one
            other.add_watch(rid(9), "sms", label="after-rm")
        assert sorted(p.name.split(".stale-")[0] for p in tmp_path.glob("*.stale-*")) == [
            "d7tui.sqlite3-shm",
            "d7tui.sqlite3-wal",
        ]
        astore.add_watch(rid(4), "sms", label="later")
        await astore.flush()
        [said] = told.notices
        assert "(3 requests with labels and notes" in said
    finally:
        await astore.aclose()
    with Store.open(path) as store:
        assert store.integrity_check() == "ok"
        assert [w.label for w in store.watches()] == ["after-rm", "L1", "L2", "L3", "later"]


async def test_a_new_store_started_while_ours_is_written_back_is_never_overwritten(tmp_path):
    """The file deleted, and another d7tui starts a new one while this store copies its own to
    put it back: the copy must not replace the new store (its id would be lost), it joins it."""
    path = tmp_path / "d7tui.sqlite3"
    store = Store.open(path)
    try:
        store.add_watch(rid(1), "sms", label="mine")
        state, transitions = observe(None, d7_status(rid(1), ["sent"]), 1)
        store.save_observation(state, transitions, at=1)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink()

        def held() -> Snapshot:  # asked while the copy is made: the other d7tui is quicker
            with Store.open(path) as other:
                other.add_watch(rid(9), "sms", label="after-rm")
            return Snapshot(watches=store.watches(Which.KEPT))

        said = store.check_file(held=held)
        assert said is not None and "was deleted, and another d7tui started a new store" in said
        store.add_watch(rid(2), "sms", label="later")
    finally:
        store.close()
    with Store.open(path) as reopened:
        assert [w.label for w in reopened.watches()] == ["after-rm", "mine", "later"]
        assert reopened.load_state(rid(1)) is not None


# ---------------------------------------------------------------------------------------------
# Read-only


def test_a_read_only_directory_is_one_line_and_read_only_opening_still_reads(tmp_path):
    path = tmp_path / "data" / "d7tui.sqlite3"
    with Store.open(path) as store:
        store.add_watch(rid(1), "sms", label="kept")
    with read_only(path.parent):
        with pytest.raises(StoreError) as caught:
            Store.open(path)
        assert "\n" not in str(caught.value) and str(path) in str(caught.value)
        assert "is read-only" in str(caught.value)
        with Store.open(path, readonly=True) as store:
            assert [w.label for w in store.watches()] == ["kept"]
        assert sorted(p.name for p in path.parent.iterdir()) == ["d7tui.sqlite3"]


def test_a_locked_write_waits_its_turn_then_says_so_in_one_line(tmp_path):
    path = tmp_path / "d7tui.sqlite3"
    Store.open(path).close()
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with Store.open(path) as other, other.batch():
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        with (
            Store.open(path, busy_timeout=0.2) as store,
            pytest.raises(StoreUnavailable, match="locked") as caught,
        ):
            store.add_watch(rid(1))
        assert "\n" not in str(caught.value)
    finally:
        release.set()
        holder.join()


async def test_poll_results_queued_when_the_file_is_emptied_are_written_once_from_memory(
    tmp_path,
):
    """What the process holds already has the results queued before it was asked: they are
    not written again after it (their transitions would be there twice)."""
    path = tmp_path / "d7tui.sqlite3"
    told = Told()
    astore = open_async(path, told)
    held: dict[str, tuple] = {}

    def remember(n: int) -> None:
        state, transitions = observe(None, d7_status(rid(n), ["sent", "sent"]), n)
        held[rid(n)] = (state, transitions)
        astore.save_observation(state, transitions, at=n)

    def holding() -> Snapshot:
        return Snapshot(
            watches=[
                WatchRecord(r, "sms", IdKind.REQUEST, "", "", 1.0, None, None, None, 0)
                for r in held
            ],
            states={r: StoredState(s, 1.0, None, None) for r, (s, _) in held.items()},
            timelines={r: list(t) for r, (_, t) in held.items()},
        )

    astore.held = holding
    try:
        for n in range(3):
            astore.add_watch(rid(n), "sms")
            remember(n)
        await astore.flush()
        os.truncate(path, 0)
        remember(3)  # queued after the file was emptied: in memory, and queued
        astore.add_watch(rid(3), "sms", label="late")
        await astore.flush()
        [said] = told.notices
        assert "was emptied" in said and "4 requests" in said
    finally:
        await astore.aclose()
    with Store.open(path) as store:
        assert len(store.transitions()) == 8  # two recipients each, once
        assert store.watch(rid(3)).label == "late"
