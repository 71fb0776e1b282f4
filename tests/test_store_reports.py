"""Infobip's one-time reports: the raw body is on disk before anyone parses it, a report repeated
is kept once, a body a crash or a parser bug left unparsed is parsed at the next open, and one
process at a time may pull them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from d7tui.channels.infobip import parse_page
from d7tui.errors import ProtocolError
from d7tui.models import Channel, Phase, Target
from d7tui.store import Store, lock, open_store, remembered_status
from d7tui.store.pg import PgStore


def report(mid: str, status: str, group: str, done: str, bulk: str = "BULK-1") -> dict:
    return {
        "bulkId": bulk,
        "messageId": mid,
        "to": "41793026727",
        "sentAt": "2019-11-09T16:00:00.000+0000",
        "doneAt": done,
        "smsCount": 1,
        "price": {"pricePerMessage": 0.01, "currency": "EUR"},
        "status": {"groupId": 3, "groupName": group, "id": 5, "name": status},
        "error": {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR"},
        "callbackData": '=HYPERLINK("http://x")',
    }


def page(*items: dict) -> bytes:
    return json.dumps({"results": list(items)}).encode()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "d7tui.sqlite3"


@pytest.fixture
def store(store_location: Path | str):
    """On SQLite and on PostgreSQL: each test that takes it runs on both."""
    s = open_store(store_location)
    yield s
    s.close()


PENDING = report("m1", "PENDING_ENROUTE", "PENDING", "2019-11-09T16:00:01.000+0000")
DELIVERED = report("m1", "DELIVERED_TO_HANDSET", "DELIVERED", "2019-11-09T16:00:05.000+0000")
OTHER = report("m2", "DELIVERED_TO_HANDSET", "DELIVERED", "2019-11-09T16:00:06.000+0000")


def committed_bodies(location: Path | str) -> list[bytes]:
    """What another connection (another process, after a crash) finds stored."""
    opener = Store.open if isinstance(location, Path) else PgStore.open
    with opener(location) as other:
        return [b.body for b in other.report_bodies()]


def test_a_body_is_committed_before_it_is_parsed_and_a_repeat_is_kept_once(store, store_location):
    body = page(PENDING, DELIVERED)
    body_id = store.save_report_body("BULK-1", body, received_at=10)
    assert committed_bodies(store_location) == [body]  # on disk, not yet parsed
    assert [b.id for b in store.unparsed_bodies()] == [body_id]
    assert store.index_reports(body_id, parse_page(body)) == 2
    assert store.unparsed_bodies() == []
    # The same report handed out again (in another body) is not stored twice.
    again = store.save_report_body("BULK-1", page(DELIVERED, OTHER), received_at=20)
    assert store.index_reports(again, parse_page(page(DELIVERED, OTHER))) == 1
    reports = store.reports_for("BULK-1")
    assert [(r.recipient.msg_id, r.recipient.status) for r in reports] == [
        ("m1", "PENDING_ENROUTE"),
        ("m1", "DELIVERED_TO_HANDSET"),
        ("m2", "DELIVERED_TO_HANDSET"),
    ]
    assert reports[0].received_at == 10 and reports[2].received_at == 20
    assert reports[1].recipient == parse_page(body)[1]  # exactly as parsed
    # Found by messageId too, whichever id it was pulled for.
    assert [r.recipient.status for r in store.reports_for("m1")] == [
        "PENDING_ENROUTE",
        "DELIVERED_TO_HANDSET",
    ]
    # The empty page that ends every pull is kept once, not once per poll.
    empty = [store.save_report_body("BULK-1", page(), received_at=t) for t in (30, 40, 50)]
    assert len(set(empty)) == 1
    assert len(store.report_bodies("BULK-1")) == 3


def test_a_body_left_unparsed_by_a_kill_is_parsed_at_the_next_open(db_path):
    with Store.open(db_path) as s:
        s.save_report_body("BULK-1", page(PENDING, DELIVERED), received_at=10)
        # ... killed here, before parsing
    with open_store(db_path, parse_report=parse_page) as s:
        assert s.unparsed_bodies() == []
        assert len(s.reports_for("BULK-1")) == 2


def test_a_parser_bug_loses_nothing_and_the_body_is_tried_again(db_path):
    def buggy(body: bytes):
        raise KeyError("status")

    with Store.open(db_path) as s:
        body_id = s.ingest_report("BULK-1", page(PENDING), buggy, received_at=1)
        [left] = s.unparsed_bodies()
        assert left.id == body_id and "KeyError" in (left.parse_error or "")
        assert left.body == page(PENDING)
    with open_store(db_path, parse_report=parse_page) as s:  # the fixed parser
        assert [r.recipient.phase for r in s.reports_for("BULK-1")] == [Phase.PENDING]


def test_a_body_that_is_not_a_reports_page_is_kept_raw_and_settled(store):
    html = b"<html>502 Bad Gateway</html>"
    body_id = store.ingest_report("BULK-1", html, parse_page)
    assert store.unparsed_bodies() == []  # settled: not tried again at every open
    [kept] = store.report_bodies("BULK-1")
    assert (kept.id, kept.body) == (body_id, html) and kept.parse_error
    with pytest.raises(ProtocolError):
        parse_page(html)


def test_a_report_seen_once_is_remembered_for_the_next_look(store):
    target = Target("BULK-1", "infobip")
    assert remembered_status(store, target) is None
    store.ingest_report("BULK-1", page(PENDING, OTHER), parse_page, received_at=5)
    store.ingest_report("BULK-1", page(DELIVERED), parse_page, received_at=6)
    state = remembered_status(store, target)
    assert state is not None and state.channel is Channel.INFOBIP
    assert [(r.msg_id, r.status) for r in state.recipients] == [
        ("m1", "DELIVERED_TO_HANDSET"),
        ("m2", "DELIVERED_TO_HANDSET"),
    ]
    assert state.final
    # A message id pulled under its bulk id is found by itself too.
    assert remembered_status(store, Target("m2", "infobip")).recipients[0].msg_id == "m2"


def test_reports_received_after_the_last_saved_poll_are_shown_on_top_of_it(store):
    from d7tui.models import RequestStatus, observe

    first = RequestStatus(
        "BULK-1", Channel.INFOBIP, tuple(parse_page(page(PENDING))), incremental=True
    )
    store.ingest_report("BULK-1", page(PENDING), parse_page, received_at=5)
    state, transitions = observe(None, first, 6)
    store.save_observation(state, transitions, at=6)
    # `d7tui status` pulled the delivery later, without saving a state.
    store.ingest_report("BULK-1", page(DELIVERED), parse_page, received_at=9)
    shown = remembered_status(store, Target("BULK-1", "infobip"))
    assert [r.status for r in shown.recipients] == ["DELIVERED_TO_HANDSET"]


# ---------------------------------------------------------------------------------------------
# The lock


def test_one_store_holds_the_report_lock_the_other_is_told_who(db_path):
    first = Store.open(db_path)
    second = Store.open(db_path)
    try:
        assert second.report_lock.leader() is None  # nobody leads yet
        first.report_lock.user = "ana"
        assert first.try_acquire_report_lock() and first.has_report_lock
        assert first.try_acquire_report_lock()  # idempotent
        assert not second.try_acquire_report_lock() and not second.has_report_lock
        message = second.report_lock_refusal()
        assert f"another d7tui (pid {os.getpid()})" in message
        assert "read-only" in message and "\n" not in message
        # Who leads, as a follower's status line names it; looking does not take the lock.
        leader = second.report_lock.leader()
        assert leader is not None and leader.startswith("ana@")
        assert leader.endswith(f" pid {os.getpid()}")
        assert first.has_report_lock and first.report_lock.renew()
        first.close()  # closing releases it
        assert second.report_lock.leader() is None
        assert second.try_acquire_report_lock()
        lock_file = Path(f"{db_path}.lock")
        assert lock_file.read_text().splitlines()[0] == str(os.getpid())
        assert oct(lock_file.stat().st_mode & 0o777) == oct(0o600)
    finally:
        first.close()
        second.close()


def test_a_silent_holder_is_ended_a_running_one_and_an_older_d7tui_are_not(db_path, monkeypatch):
    """L13: a holder whose heartbeat stands still (stopped) has its lock file deleted by a
    follower; run again, it takes the lock again if nobody did, else holds none. One that
    renews, and one that writes no heartbeat (a d7tui from before heartbeats), are not ended."""
    monkeypatch.setattr(lock, "BEAT_EVERY", 0.0)  # every renew beats (as a second later)
    holder, follower, third = Store.open(db_path), Store.open(db_path), Store.open(db_path)
    lock_file = Path(f"{db_path}.lock")
    looks = follower.report_lock
    try:
        holder.report_lock.user = "ana"
        assert holder.try_acquire_report_lock()
        assert looks.leader() == lock.whoami("ana")
        first = looks.quiet_since()
        assert first is not None
        # Alive: its heartbeat moved since the last look, so its silence starts again.
        before = lock_file.read_text()
        assert holder.report_lock.renew() and lock_file.read_text() != before
        assert looks.leader() == lock.whoami("ana")
        assert looks.quiet_since() > first  # type: ignore[operator]
        assert looks.end_if_silent(3600) is None and lock_file.exists()
        # An older d7tui writes no heartbeat: never ended, however long it is seen.
        lock_file.write_text(f"{os.getpid()}\nold@host pid {os.getpid()}\n")
        assert looks.end_if_silent(0) is None and looks.quiet_since() is None
        assert lock_file.exists()
        # Silent for as long as asked: ended, and the lock at the path is free.
        assert holder.report_lock.renew()
        assert looks.end_if_silent(0) == lock.whoami("ana")
        assert not lock_file.exists() and looks.leader() is None
        # Run again with nobody in its place: it takes the lock again at the path.
        assert holder.report_lock.renew() and lock_file.exists()
        assert looks.end_if_silent(0) == lock.whoami("ana")
        # Run again with another in its place: it holds the lock no more.
        assert third.try_acquire_report_lock()
        assert not holder.report_lock.renew() and not holder.has_report_lock
        assert looks.leader() == lock.whoami(None) and third.report_lock.renew()
    finally:
        for store in (holder, follower, third):
            store.close()
