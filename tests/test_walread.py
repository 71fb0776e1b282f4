"""J16's class: what another d7tui committed to the store and nobody read yet is in the WAL
kept aside with an emptied store, and is taken from there (store/walread.py) — by the monitor
that writes the store again, and by a d7tui that finds the emptied file first. Real files:
a real SQLite WAL, a real `: > d7tui.sqlite3`."""

from __future__ import annotations

import os
import sqlite3

from d7tui.models import MAX_NOTE
from d7tui.store import Store, Which
from d7tui.store.walread import WATCH_COLUMNS, watch_rows, watched_in_wal

LONG = "n" * MAX_NOTE  # with the rest of its row, more than a 4 KiB page holds


def test_the_watch_columns_are_those_a_new_store_has_in_that_order(tmp_path):
    Store.open(tmp_path / "d7tui.sqlite3").close()
    conn = sqlite3.connect(tmp_path / "d7tui.sqlite3")
    try:
        names = tuple(row[1] for row in conn.execute("PRAGMA table_info(watch)"))
    finally:
        conn.close()
    assert names == WATCH_COLUMNS


def test_an_emptied_store_found_by_the_next_d7tui_keeps_what_only_its_wal_held(tmp_path):
    db = tmp_path / "d7tui.sqlite3"
    with Store.open(db) as store:
        store.add_watch("earlier", label="on the same page")
    monitor = Store.open(db)  # a running monitor keeps the WAL from being checkpointed away
    try:
        monitor.load(Which.KEPT)
        with Store.open(db) as other:  # `d7tui add` in another shell
            other.add_watch("in-the-wal", label="second", note="customer ticket 4711")
            other.add_watch("long", note=LONG)  # spills onto an overflow page
        os.truncate(db, 0)
        with Store.open(db) as found:  # the next d7tui to open it finds it emptied
            kept = {w.request_id: (w.label, w.note) for w in found.watches(Which.KEPT)}
            [notice] = found.notices
    finally:
        monitor.close()
    # The page the add wrote holds the rows before it too: those come back with it.
    assert kept == {
        "earlier": ("on the same page", ""),
        "in-the-wal": ("second", "customer ticket 4711"),
        "long": ("", LONG),
    }
    assert "was empty (0 bytes)" in notice and "3 requests still readable" in notice


def test_a_wal_that_is_torn_or_not_a_wal_gives_nothing_and_no_error(tmp_path):
    db = tmp_path / "d7tui.sqlite3"
    keep = Store.open(db)
    try:
        keep.add_watch("a", label="x")
        wal = db.with_name(db.name + "-wal")
        whole = wal.read_bytes()
    finally:
        keep.close()
    torn = tmp_path / "torn.sqlite3"
    torn.with_name(torn.name + "-wal").write_bytes(whole[: len(whole) - 100])
    assert watched_in_wal(torn) == ([], 0)  # its one commit is torn: never committed
    garbage = tmp_path / "garbage-wal"
    garbage.write_bytes(b"\x37\x7f\x06\x82" + os.urandom(5000))
    assert watch_rows(garbage, list(WATCH_COLUMNS)).rows == []
    assert watched_in_wal(tmp_path / "missing.sqlite3") == ([], 0)
