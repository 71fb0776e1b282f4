"""A server that repeats msg_ids (fresh-eyes finding H16): every message it lists is kept.

Two numbers under one msg_id, a msg_id of null, none at all, a number twice under two ids, the
same msg_id and number twice, two items with neither: `d7tui status`, the monitor, its store and
its export all keep the nine messages, under the same nine keys, and the same answer again is no
news (also after the store was read back, and in another order).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from hostile import HostileServer, aimed_at, answering, cli_env, monitor_app
from pollkit import until
from ui_kit import idle, screen_text

from d7tui.channels.d7 import parse_report
from d7tui.clock import ManualClock
from d7tui.models import Channel, Target, observe, swapped
from d7tui.store import SCHEMA_VERSION, Store, open_store
from d7tui.store.pg import VERSION_TABLE, to_postgres
from d7tui.store.schema import MIGRATIONS
from d7tui.ui.widgets.watchlist_table import WatchlistTable

RID = "dddddddd-2222-4333-8444-555555555555"
MESSAGES: list[dict[str, object]] = [
    {"msg_id": "same", "recipient": "+971500000002", "status": "failed", "sms_cost": 0.0004},
    {"msg_id": "same", "recipient": "+971500000001", "status": "delivered", "sms_cost": 0.0004},
    {"msg_id": None, "recipient": "+971500000003", "status": "sent", "sms_cost": 0.0004},
    {"recipient": "+971500000004", "status": "sent", "sms_cost": 0.0004},
    {"msg_id": "m5", "recipient": "+971500000001", "status": "undelivered", "sms_cost": 0.0004},
    {"msg_id": "twin", "recipient": "+971500000006", "status": "sent"},
    {"msg_id": "twin", "recipient": "+971500000006", "status": "delivered"},
    {"status": "sent"},
    {"status": "sent"},
]
KEYS = [
    "same/+971500000002",
    "same/+971500000001",
    "+971500000003",  # no msg_id: its number, as before
    "+971500000004",
    "m5",  # a msg_id of its own: itself, as before
    "twin/+971500000006",
    "twin/+971500000006#2",
    "#1",
    "#2",
]


def body(messages: list[dict[str, object]] = MESSAGES) -> bytes:
    return json.dumps({"request_id": RID, "total_recipients": 9, "messages": messages}).encode()


class Server:
    """The hostile server, counting the status calls it answered."""

    def __init__(self) -> None:
        self.polls = 0

    def answer(self, method: str, target: str, credential: str) -> bytes | None:
        path = urlsplit(target).path
        if path == f"/report/v1/message-log/{RID}":
            self.polls += 1
            return body()
        if path in ("/messages/v1/balance", "/account/1/balance"):
            return b'{"balance": 10, "currency": "EUR"}'
        return None


@pytest.fixture
def server():
    counting = Server()
    with HostileServer(answering(counting.answer)) as started:
        started.counting = counting  # type: ignore[attr-defined]
        yield started


def status_json(base_url: str, home: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "d7tui", "status", "--json", "--channel", "sms", RID],
        capture_output=True,
        env=cli_env(base_url, home),
        timeout=60,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def test_status_the_monitor_its_store_and_export_keep_every_message_alike(
    server, tmp_path
) -> None:
    said = status_json(server.base_url, tmp_path)
    assert [r["recipient_key"] for r in said["recipients"]] == KEYS  # type: ignore[index]

    db = tmp_path / "data" / "d7tui.sqlite3"
    clock = ManualClock()
    app = monitor_app(aimed_at(server.base_url), [Target(RID, "sms")], db, clock=clock)
    rings: list[None] = []
    app.bell = lambda: rings.append(None)  # type: ignore[method-assign]
    async with app.run_test(size=(160, 45), notifications=True) as pilot:
        await idle(pilot, app)
        app.screen.query_one(WatchlistTable).select(RID)
        await pilot.pause()
        shown = screen_text(app)
        # All nine counted, the delivered +971500000001 too (`status` says the same), and
        # the five costs add up.
        assert "2 ✓ 5 … 2 ✗" in shown and "cost 0.002 D7 credits" in shown
        entry = app.watchlist.get(RID)
        assert entry is not None and entry.state is not None
        assert [r.key for r in entry.state.recipients] == KEYS
        assert [r.status for r in entry.state.recipients] == [m["status"] for m in MESSAGES]
        first_seen = len(entry.timeline)
        assert sorted(t.recipient_key for t in entry.timeline) == sorted(KEYS)
        # Poll after poll, the same answer is no news (finding J4): nobody is "first seen"
        # again, no failure is told again, the bell stays quiet.
        told, rung = len(app.events), len(rings)
        for _ in range(2):
            polls = server.counting.polls
            clock.advance(3600)
            await until(pilot, lambda polls=polls: server.counting.polls > polls)
            await idle(pilot, app)
        entry = app.watchlist.get(RID)
        assert entry is not None and len(entry.timeline) == first_seen
        assert (len(app.events), len(rings)) == (told, rung)
        await pilot.press("e")
        await until(pilot, lambda: any(db.parent.glob("*.json")))

    (exported,) = db.parent.glob("*.json")
    data = json.loads(exported.read_text())
    assert [r["recipient_key"] for r in data["recipients"]] == KEYS
    assert sorted(t["recipient_key"] for t in data["transitions"]) == sorted(KEYS)
    with open_store(db) as store:
        stored = store.load_state(RID)
        assert stored is not None and [r.key for r in stored.state.recipients] == KEYS


def test_the_same_answer_again_keeps_every_key_read_back_and_reordered(store_location) -> None:
    with open_store(store_location) as store:
        same_again(store)


def same_again(store: Store) -> None:
    first = parse_report(Channel.SMS, RID, body())
    state, transitions = observe(None, first, 10.0)
    assert len(transitions) == 9
    store.save_observation(state, transitions, at=10.0)
    stored = store.load_state(RID)
    assert stored is not None
    assert [r.key for r in stored.state.recipients] == KEYS
    # Read back from the store (SQLite and PostgreSQL), then the same messages in another order:
    # each keeps its key, so nothing changed.
    moved = MESSAGES[1:5] + MESSAGES[:1] + MESSAGES[5:]
    assert moved != MESSAGES
    again = parse_report(Channel.SMS, RID, body(moved))
    state, transitions = observe(stored.state, again, 20.0)
    assert transitions == []
    assert sorted(r.key for r in state.recipients) == sorted(KEYS)


def build_v3(location: Path | str) -> None:
    """A store as d7tui wrote it before recipients had keys of their own (schema version 3):
    one request whose two messages were keyed by their msg_ids, with their history."""
    rows = [
        "INSERT INTO watch (request_id, channel, label, added_at) VALUES "
        f"('{RID}', 'sms', 'old', 5.0)",
        "INSERT INTO request_state (request_id, channel, observed_at, changed_at) VALUES "
        f"('{RID}', 'sms', 10.0, 10.0)",
        "INSERT INTO recipient (request_id, position, msg_id, recipient, status, phase, final) "
        f"VALUES ('{RID}', 0, 'same', '+971500000002', 'failed', 'failed', 1), "
        f"('{RID}', 1, 'm5', '+971500000001', 'undelivered', 'failed', 1)",
        "INSERT INTO transition (at, request_id, recipient_key, recipient, new_status, new_phase) "
        f"VALUES (10.0, '{RID}', 'same', '+971500000002', 'failed', 'failed'), "
        f"(10.0, '{RID}', 'm5', '+971500000001', 'undelivered', 'failed')",
    ]
    if isinstance(location, Path):
        location.parent.mkdir(parents=True)
        conn = sqlite3.connect(location)
        for statement in (s for step in MIGRATIONS[:3] for s in step):
            conn.execute(statement)
        for statement in rows:
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 3")
        conn.commit()
        conn.close()
        return
    with psycopg.connect(location, autocommit=True) as pg:
        pg.execute(f"CREATE TABLE {VERSION_TABLE} (version BIGINT NOT NULL)")
        pg.execute(f"INSERT INTO {VERSION_TABLE} VALUES (3)")
        for statement in (s for step in MIGRATIONS[:3] for s in step):
            pg.execute(to_postgres(statement))
        for statement in rows:
            pg.execute(statement)


def test_a_store_written_before_keeps_its_keys_and_history(store_location) -> None:
    build_v3(store_location)
    with open_store(store_location) as store:
        assert store.schema_version() == SCHEMA_VERSION
        stored = store.load_state(RID)
        assert stored is not None
        assert [(r.key, r.status) for r in stored.state.recipients] == [
            ("same", "failed"),
            ("m5", "undelivered"),
        ]
        assert [t.recipient_key for t in store.transitions(RID)] == ["same", "m5"]
        # The whole answer: m5, keyed as before, is no news; the repeats come in under keys of
        # their own, and the one message the old store kept of "same" stays, no longer listed.
        update = parse_report(Channel.SMS, RID, body())
        assert swapped(stored.state, update) is None  # the same messages told apart: believed
        state, transitions = observe(stored.state, update, 30.0)
        changed = sorted(t.recipient_key for t in transitions)
        assert changed == sorted(k for k in [*KEYS, "same"] if k != "m5")
        store.save_observation(state, transitions, at=30.0)
    with open_store(store_location) as store:
        stored = store.load_state(RID)
        assert stored is not None
        assert [r.key for r in stored.state.recipients] == [*KEYS, "same"]  # "same": unlisted
        assert [t.recipient_key for t in store.transitions(RID)][:2] == ["same", "m5"]
        assert store.watch(RID).label == "old"
