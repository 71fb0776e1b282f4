"""The store on PostgreSQL (issue 15): what differs from the SQLite file. The store's own
behaviour runs on both backends in test_store.py and test_store_reports.py; here: choosing it
from the settings, its migrations, a database that is not ours, the password never shown, the
report lock between two stores, and the server going away and coming back."""

# ruff: noqa: F811  (the fixtures of test_cli, imported, then named as parameters)

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from test_cli import env, run, sim  # noqa: F401

from d7tui.channels.infobip import parse_page
from d7tui.config import ConfigError, load_settings
from d7tui.models import Channel, IdKind, Recipient, RequestStatus, classify_d7
from d7tui.store import (
    SCHEMA_VERSION,
    StoreCorruptError,
    StoreError,
    StoreUnavailable,
    StoreVersionError,
    default_path,
    open_store,
    pg,
)
from d7tui.store.pg import (
    STATE_CHANNEL,
    VERSION_TABLE,
    WATCH_CHANNEL,
    PgStore,
    shown_url,
    to_postgres,
)
from d7tui.store.rescue import held_files, keep_elsewhere
from d7tui.store.schema import FIRST_VERSION, MIGRATIONS

PASSWORD = "s3cr3t-Pa55word"


def with_password(url: str, password: str = PASSWORD) -> str:
    return url.replace("postgres@", f"postgres:{password}@", 1)


def test_the_settings_choose_postgresql_and_never_say_the_password(tmp_path, pg_url):
    url = with_password(pg_url)
    settings = load_settings({"D7TUI_DATABASE_URL": url}, tmp_path / "none.toml")
    assert settings.store_location() == url
    assert PASSWORD not in repr(settings)
    config = tmp_path / "config.toml"
    config.write_text(f'database_url = "{url}"\nuser = "ana"\n')
    config.chmod(0o600)
    from_file = load_settings({}, config)
    assert from_file.store_location() == url and from_file.user == "ana"
    assert load_settings({}, tmp_path / "none.toml").store_location() is None  # SQLite
    with pytest.raises(ConfigError) as bad:
        load_settings({"D7TUI_DATABASE_URL": f"mysql://u:{PASSWORD}@h/d"}, config)
    assert "postgresql://" in str(bad.value) and PASSWORD not in str(bad.value)


def test_an_unreachable_or_wrong_database_is_one_line_without_the_password(pg_server):
    gone = with_password(f"postgresql://postgres@127.0.0.1:{pg_server.port + 1}/x")
    with pytest.raises(StoreUnavailable) as unreachable:
        open_store(gone)
    wrong = with_password(pg_server.url("no_such_database"))
    with pytest.raises(StoreError) as missing:
        open_store(wrong)
    for exc in (unreachable.value, missing.value):
        said = str(exc)
        assert PASSWORD not in said and "\n" not in said
        assert "␊" not in said and "␉" not in said  # libpq's lines, read as words (K10)
        assert said.startswith("postgresql://postgres@127.0.0.1:")
    assert "no_such_database" in str(missing.value)
    assert shown_url(gone) == f"postgresql://postgres@127.0.0.1:{pg_server.port + 1}/x"


def test_add_and_export_from_the_command_line_go_to_the_shared_database(
    sim, env, capsys, monkeypatch, pg_url
):
    monkeypatch.setenv("D7TUI_DATABASE_URL", with_password(pg_url))
    code, out, err = run(capsys, "add", "1d2a3f4e-0000-4000-8000-000000000001", "--label", "vip")
    assert (code, out) == (0, "added 1, already watched 0\n"), err
    code, out, err = run(capsys, "export")
    assert code == 0, err
    [watch] = json.loads(out)["watchlist"]
    assert watch["request_id"] == "1d2a3f4e-0000-4000-8000-000000000001"
    assert watch["label"] == "vip"
    assert PASSWORD not in out + err
    # No SQLite file was made in the data directory.
    assert not list(Path(env["XDG_DATA_HOME"]).rglob("*.sqlite3"))


def test_a_first_schema_database_is_migrated_with_its_data(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {VERSION_TABLE} (version BIGINT NOT NULL)")
        conn.execute(f"INSERT INTO {VERSION_TABLE} VALUES ({FIRST_VERSION})")
        for step in range(FIRST_VERSION):
            for statement in MIGRATIONS[step]:
                conn.execute(to_postgres(statement))
        conn.execute(
            "INSERT INTO watch (request_id, channel, label, added_at) "
            "VALUES ('old-1', 'sms', 'kept', 12.5)"
        )
    with open_store(pg_url) as store:
        assert store.schema_version() == SCHEMA_VERSION
        [watch] = store.watches()
        assert (watch.request_id, watch.label, watch.added_at, watch.note) == (
            "old-1",
            "kept",
            12.5,
            "",
        )
    with open_store(pg_url) as store:  # and the migration is not run twice
        assert [w.request_id for w in store.watches()] == ["old-1"]


def test_a_database_that_is_not_ours_or_from_a_newer_d7tui_is_left_untouched(pg_server):
    theirs = pg_server.create_database()
    with psycopg.connect(theirs, autocommit=True) as conn:
        conn.execute("CREATE TABLE invoices (id int)")
    with pytest.raises(StoreCorruptError) as not_ours:
        open_store(theirs)
    assert not not_ours.value.damaged and "not d7tui's" in str(not_ours.value)
    newer = pg_server.create_database()
    open_store(newer).close()
    with psycopg.connect(newer, autocommit=True) as conn:
        conn.execute(f"UPDATE {VERSION_TABLE} SET version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreVersionError):
        open_store(newer)
    with psycopg.connect(theirs) as conn:
        assert conn.execute("SELECT to_regclass('watch')").fetchone() == (None,)


def test_one_store_of_a_database_holds_the_report_lock_and_the_other_names_it(pg_url):
    first, second = open_store(pg_url), open_store(pg_url)
    try:
        assert first.try_acquire_report_lock() and first.try_acquire_report_lock()
        assert not second.try_acquire_report_lock() and not second.has_report_lock
        refusal = second.report_lock_refusal()
        assert f"pid {os.getpid()}" in refusal and "leads" in refusal
        first.close()  # its session ends: the lock with it, once the server has seen it end
        deadline = time.monotonic() + 30
        while not second.try_acquire_report_lock():
            assert time.monotonic() < deadline, "the lock of a closed session was never freed"
            time.sleep(0.01)
    finally:
        first.close()
        second.close()


def test_the_server_stopped_is_unavailable_and_started_again_is_used_again(own_server):
    url = own_server.create_database()
    store = open_store(url)
    try:
        store.add_watch("before", "sms")
        own_server.stop()
        with pytest.raises(StoreUnavailable) as down:
            store.add_watch("during", "sms")
        assert "cannot be reached" in str(down.value)
        own_server.start_again()
        store.add_watch("after", "sms", id_kind=IdKind.REQUEST)
        assert [w.request_id for w in store.watches()] == ["before", "after"]
    finally:
        store.close()
    assert isinstance(store, PgStore)


def test_writes_held_at_the_end_go_back_to_their_own_database_and_nowhere_else(pg_server):
    """What a monitor could not write before it ended (its database away) is kept in the data
    directory and taken in at the next start on the same database; the SQLite store of that
    directory, and another desk's database, never take it (nor it theirs)."""
    desk, other = pg_server.create_database(), pg_server.create_database()
    places = {"desk": desk, "other": other, "local": default_path()}
    for name, location in places.items():
        with open_store(location) as store:
            path = store.path
        add = {"request_id": f"held-{name}", "channel": "sms", "id_kind": "request_id"}
        assert keep_elsewhere(path, [("add", {**add, "label": name, "added_at": 1.0})])
    for name, location in places.items():
        with open_store(location, parse_report=parse_page) as store:  # as every start does
            assert [(w.request_id, w.label) for w in store.watches()] == [(f"held-{name}", name)]
            assert not held_files(store.path)  # taken in: not again


def test_what_the_store_writes_is_told_to_listeners_when_a_screen_would_show_it_only(pg_url):
    """Every change a screen shows is news (LISTEN/NOTIFY, store/pg.py), a cost alone too; a
    poll that changed nothing is not, or every follower would read every id polled."""
    with open_store(pg_url) as store, psycopg.connect(pg_url, autocommit=True) as listener:
        for channel in (STATE_CHANNEL, WATCH_CHANNEL, "mark"):
            listener.execute(f"LISTEN {channel}")

        def told() -> list[tuple[str, str]]:
            """What was told since the last look: up to a mark sent now (notifications come
            in the order their transactions committed), so nothing is waited for in vain."""
            with psycopg.connect(pg_url, autocommit=True) as marker:
                marker.execute("NOTIFY mark")
            heard = []
            for note in listener.notifies(timeout=30):
                if note.channel == "mark":
                    return heard
                heard.append((note.channel, note.payload))
            raise AssertionError(f"the mark never came: {heard}")

        store.add_watch("r1", "sms")
        assert told() == [(WATCH_CHANNEL, "r1")]
        delivered = sms_state("r1", "delivered")
        store.save_observation(delivered, at=1.0)
        assert told() == [(STATE_CHANNEL, "r1")]
        store.save_observation(delivered, at=2.0)  # polled again, nothing new
        assert told() == []
        for changed in (
            replace(delivered.recipients[0], cost=0.0125),
            replace(delivered.recipients[0], cost=0.0125, reason="late report"),
        ):
            store.save_observation(replace(delivered, recipients=(changed,)), at=3.0)
            assert told() == [(STATE_CHANNEL, "r1")]
        store.set_note("r1", "call back")
        store.archive("r1")
        assert told() == [(WATCH_CHANNEL, "r1"), (WATCH_CHANNEL, "r1")]


def sms_state(request_id: str, status: str) -> RequestStatus:
    phase, final = classify_d7(Channel.SMS, status)
    recipient = Recipient("m1", "+971500000001", status, phase, final, cost=0.01, currency="AED")
    return RequestStatus(request_id, Channel.SMS, (recipient,))


def test_a_writer_stopped_inside_its_transaction_holds_the_others_up_only_for_a_while(
    pg_url, monkeypatch
):
    """Fresh-eyes finding F0b (t7): a leader stopped (`kill -STOP`, a suspended laptop) in the
    middle of a write kept that transaction's locks for as long as it was stopped, and the
    monitor that took over its lead waited behind them, polling nothing. The server ends a
    session idle inside its transaction after `STUCK_TRANSACTION`: the others go on, and the
    stopped one, run again, finds its write undone (an error: held and written again), never
    half done."""
    monkeypatch.setattr(pg, "STUCK_TRANSACTION", 1)
    rid = "5f0e6c9a-0000-4000-8000-00000000f0b0"
    with PgStore.open(pg_url) as stopped, PgStore.open(pg_url) as other:
        with pytest.raises(StoreError), stopped.batch():
            stopped.add_watch(rid, "sms", label="stopped")
            # Stopped here: its row written, not committed, its session idle in the transaction.
            other.add_watch(rid, "sms", label="other")  # waits for the server to end that session
        assert other.watch(rid).label == "other"
