"""The support desk's memory: what the user added and what the APIs said survives a restart,
comes back without any network, and an old or foreign database is handled in one line.

The builders at the top are shared by the other test_store*/test_export files.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import sqlite3
import stat
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from d7tui.models import (
    UNLISTED,
    Channel,
    IdKind,
    Phase,
    Recipient,
    RequestStatus,
    Target,
    Transition,
    observe,
)
from d7tui.store import (
    SCHEMA_VERSION,
    Snapshot,
    Store,
    StoreCorruptError,
    StoredState,
    StoreError,
    StoreUnavailable,
    StoreVersionError,
    WatchRecord,
    Which,
    add_ids,
    default_path,
    open_store,
    remembered_status,
)
from d7tui.store.pg import NUL_STANDIN, PgStore
from d7tui.store.schema import FIRST_VERSION, MIGRATIONS

# ---------------------------------------------------------------------------------------------
# Builders


def rid(n: int) -> str:
    """A D7 request id (a UUID), stable per n."""
    return str(uuid.UUID(int=n + 1, version=4))


def recipient(
    n: int,
    status: str = "sent",
    phase: Phase = Phase.PENDING,
    *,
    final: bool = False,
    reason: str | None = None,
) -> Recipient:
    return Recipient(
        msg_id=f"msg-{n}",
        recipient=f"+4477009{n:05d}",
        status=status,
        phase=phase,
        final=final,
        reason=reason,
        cost=0.0045 * (n + 1),
        currency="EUR",
        parts=1 + n % 3,
        country="GB",
        schedule_time=None,
        fields={
            "originator": "SignOTP",
            "nested": {"list": [1, 2.5, None, True, "=cmd|' /C calc'!A0"], "deep": {"x": "ü"}},
            "empty": {},
        },
        problem="'smsCount' is not a number" if n % 4 == 3 else None,
    )


def d7_status(
    request_id: str, statuses: list[str], channel: Channel = Channel.SMS
) -> RequestStatus:
    from d7tui.models import classify_d7

    recipients = []
    for i, status in enumerate(statuses):
        phase, final = classify_d7(channel, status)
        base = recipient(i, status, phase, final=final, reason="Delivered" if final else None)
        recipients.append(base)
    return RequestStatus(
        request_id=request_id,
        channel=channel,
        recipients=tuple(recipients),
        fields={"total_recipients": len(statuses), "channel": channel.value, "stage": None},
        raw=(f'{{"request_id": "{request_id}", "bytes": "\\u00ff"}}'.encode() + b"\xff\x00",),
    )


def poll(store: Store, update: RequestStatus, at: float) -> tuple[RequestStatus, list[Transition]]:
    """What the poller does after a poll: merge with the stored state, save both at once."""
    stored = store.load_state(update.request_id)
    state, transitions = observe(stored.state if stored else None, update, at)
    store.save_observation(state, transitions, at=at)
    return state, transitions


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "d7tui.sqlite3"


@pytest.fixture
def store(store_location: Path | str):
    """On SQLite and on PostgreSQL: each test that takes it runs on both."""
    s = open_store(store_location)
    yield s
    s.close()


# ---------------------------------------------------------------------------------------------
# Where it lives


def test_default_path_honours_xdg_and_is_private(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_path() == tmp_path / "xdg" / "d7tui" / "d7tui.sqlite3"
    with Store.open() as s:
        assert s.path == default_path()
        assert s.schema_version() == SCHEMA_VERSION
        assert s._conn().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert s._conn().execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert s._conn().execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert stat.S_IMODE((tmp_path / "xdg" / "d7tui").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "xdg").stat().st_mode) == 0o700
    assert stat.S_IMODE(default_path().stat().st_mode) == 0o600


def test_a_database_others_can_read_is_opened_with_a_warning(db_path):
    Store.open(db_path).close()
    os.chmod(db_path, 0o644)
    with Store.open(db_path) as s:
        assert any("chmod 600" in w for w in s.warnings)


# ---------------------------------------------------------------------------------------------
# Restart: everything is there again, exactly


def test_restart_brings_back_the_watchlist_states_and_timelines(store_location):
    a, b = rid(1), rid(2)
    with open_store(store_location) as s:
        assert s.add_watch(
            a, "auto", label="ticket 4411", note="customer called twice", added_at=10
        )
        assert s.add_watch("BULK-1", "infobip", IdKind.BULK, label="promo", added_at=11)
        assert s.add_watch(b, "whatsapp", added_at=12)
        _, t1 = poll(s, d7_status(a, ["sent", "sent"]), at=20)
        second, t2 = poll(s, d7_status(a, ["delivered", "sent"]), at=30)
        poll(s, d7_status(b, ["read"], Channel.WHATSAPP), at=31)
    with open_store(store_location) as s:
        snap = s.load(with_raw=True)
        assert [w.request_id for w in snap.watches] == [a, "BULK-1", b]
        watch = snap.watches[0]
        assert (watch.label, watch.note, watch.added_at) == (
            "ticket 4411",
            "customer called twice",
            10,
        )
        assert watch.resolved_channel == "sms" and watch.poll_channel == "sms"
        assert watch.target == Target(a, "auto", IdKind.REQUEST)
        assert snap.watches[1].target == Target("BULK-1", "infobip", IdKind.BULK)
        # The state round-trips exactly: nested fields, raw bytes, problems, floats.
        assert snap.states[a] == StoredState(
            second, observed_at=30, changed_at=30, final_since=None
        )
        assert snap.states[a].state.raw == second.raw and b"\xff\x00" in second.raw[0]
        assert snap.timelines[a] == [*t1, *t2]
        assert [t.new_status for t in snap.timelines[a]] == ["sent", "sent", "delivered"]
        assert snap.states[b].final_since == 31
        assert "BULK-1" not in snap.states  # never answered: shown as waiting


def test_a_poll_that_changed_nothing_rewrites_no_recipient(db_path):
    store = Store.open(db_path)  # SQLite's own count of rows written
    a = rid(1)
    update = d7_status(a, ["sent"] * 50)
    poll(store, update, at=1)
    conn = store._conn()
    before = conn.total_changes
    poll(store, update, at=2)
    # one request_state row, and nothing else: a 50-recipient request costs one row per poll
    assert conn.total_changes - before == 1
    # An answer listing fewer is a change, stored: those it no longer lists are kept, marked (F21).
    poll(store, d7_status(a, ["sent"] * 20), at=3)
    kept = store.load_state(a).state.recipients
    assert len(kept) == 50
    assert [r.problem for r in kept].count(UNLISTED) == 30


def test_a_batch_of_polls_is_one_statement_per_table_and_the_same_as_saving_them_one_by_one(
    tmp_path,
):
    """What the writer thread does with 300 queued polls (bulk.py says why it matters)."""
    observations = []
    known: dict[str, RequestStatus] = {}
    for n in range(300):
        request_id = rid(n % 200)  # a hundred ids polled twice in the batch
        statuses = ["sent"] * (3 if n < 200 else 1 + n % 3)  # some shrink the second time
        if n >= 200 and n % 2:
            statuses[0] = "delivered"
        channel = (Channel.SMS, Channel.VIBER)[n % 2]
        state, transitions = observe(
            known.get(request_id), d7_status(request_id, statuses, channel), n
        )
        known[request_id] = state
        observations.append((state, transitions, float(n)))
    stores = []
    for name in ("one", "batch"):
        s = Store.open(tmp_path / name / "d7tui.sqlite3")
        with s.batch():
            for n in range(200):
                s.add_watch(rid(n), "auto", added_at=0)
        stores.append(s)
    one, batch = stores
    for state, transitions, at in observations:
        one.save_observation(state, transitions, at=at)
    statements: list[str] = []
    batch._conn().set_trace_callback(statements.append)
    batch.save_observations(observations)
    batch._conn().set_trace_callback(None)
    # BEGIN, COMMIT and one statement per table (states, recipients, their trim, raw bodies,
    # their trim, transitions, the channel an `auto` id answered on), however many polls, and
    # one read of the newest transitions of their recipients (a change stored already by
    # another poller is not stored twice). (The triggers that number the changes for a
    # following monitor run inside them: SQLite traces each run as its statement again.)
    statements = [text for text, _ in itertools.groupby(statements)]
    assert len(statements) == 10, statements
    assert batch.load_states(None) == one.load_states(None)
    assert batch.transitions() == one.transitions()
    assert batch.watches() == one.watches()
    for s in stores:
        s.close()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.builds(
            Recipient,
            msg_id=st.one_of(st.none(), st.text(min_size=1)),
            recipient=st.one_of(st.none(), st.text()),
            status=st.one_of(st.none(), st.text()),
            phase=st.sampled_from(Phase),
            final=st.booleans(),
            reason=st.one_of(st.none(), st.text()),
            cost=st.one_of(st.none(), st.floats(allow_nan=False)),
            parts=st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
            fields=st.dictionaries(
                st.text(),
                st.recursive(
                    st.none()
                    | st.booleans()
                    | st.integers()
                    | st.floats(allow_nan=False)
                    | st.text(),
                    lambda inner: (
                        st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3)
                    ),
                    max_leaves=8,
                ),
                max_size=4,
            ),
            problem=st.one_of(st.none(), st.text()),
        ),
        max_size=5,
    ),
    st.lists(st.binary(max_size=64), max_size=3),
)
def test_any_state_round_trips_exactly(store, recipients, raw):
    state = RequestStatus(
        "r", Channel.VIBER, tuple(recipients), {"k": [1, {"a": None}]}, tuple(raw)
    )
    store.save_observation(state, at=5.0)
    if isinstance(store, PgStore):  # PostgreSQL's text holds no NUL: it is kept as U+FFFD
        state = pg_text(state)
    assert store.load_state("r").state == state


def pg_text(state: RequestStatus) -> RequestStatus:
    def text(value: str | None) -> str | None:
        return None if value is None else value.replace("\x00", NUL_STANDIN)

    return dataclasses.replace(
        state,
        recipients=tuple(
            dataclasses.replace(
                r,
                **{
                    f: text(getattr(r, f))
                    for f in (
                        "msg_id",
                        "recipient",
                        "status",
                        "reason",
                        "problem",
                        "currency",
                        "country",
                        "schedule_time",
                        "recipient_key",
                    )
                },
            )
            for r in state.recipients
        ),
    )


def test_the_row_codec_follows_the_models_field_order():
    """The store builds Recipient and Transition positionally for speed: the orders must agree."""
    from dataclasses import fields

    from d7tui.store.codec import RECIPIENT_COLUMNS, TRANSITION_COLUMNS

    assert tuple(f.name for f in fields(Recipient)) == RECIPIENT_COLUMNS
    assert tuple(f.name for f in fields(Transition)) == TRANSITION_COLUMNS


# ---------------------------------------------------------------------------------------------
# Offline start: nothing but the file


def test_offline_start_shows_what_was_known_without_any_network(db_path, monkeypatch):
    a = rid(7)
    with Store.open(db_path) as s:
        s.add_watch(a, "sms", label="vip")
        poll(s, d7_status(a, ["delivered"]), at=100)
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("the store must not touch the network")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    with Store.open(db_path) as s:
        snap = s.load()
        assert snap.watches[0].label == "vip"
        assert snap.states[a].state.recipients[0].status == "delivered"
        assert remembered_status(s, Target(a, "sms")) == s.load_state(a).state
        assert remembered_status(s, Target(rid(8), "sms")) is None


# ---------------------------------------------------------------------------------------------
# The watchlist


def test_add_merges_and_remove_keeps_history_for_undo(store):
    a = rid(1)
    assert store.add_watch(a, "sms", label="first", added_at=1)
    assert not store.add_watch(a, "auto", note="a note")  # "auto" does not override sms
    w = store.watch(a)
    assert (w.channel, w.label, w.note, w.added_at) == ("sms", "first", "a note", 1)
    assert not store.add_watch(a, "viber", label="second")
    assert (store.watch(a).channel, store.watch(a).label) == ("viber", "second")
    poll(store, d7_status(a, ["sent"], Channel.VIBER), at=5)
    assert store.remove_watch(a, at=6)
    assert store.watches() == [] and store.watches(Which.REMOVED)[0].removed_at == 6
    assert not store.remove_watch(a)
    assert store.restore_watch(a)
    assert store.watches()[0].seq == w.seq  # back in its place
    assert len(store.transitions(a)) == 1 and store.load_state(a) is not None
    store.remove_watch(a)
    assert store.add_watch(a)  # added again after a removal: new to the list, history kept
    assert len(store.transitions(a)) == 1


def test_who_added_noted_and_archived_is_kept(store):
    store.actor = "ana"
    store.add_watch(rid(1), "sms", label="vip")
    store.actor = "bo"
    store.set_note(rid(1), "called back")
    store.add_watch(rid(2), "sms")
    store.actor = "cy"
    store.archive(rid(1), at=50)
    one, two = store.watch(rid(1)), store.watch(rid(2))
    assert (one.added_by, one.noted_by, one.archived_by) == ("ana", "bo", "cy")
    assert one.noted_at is not None
    assert (two.added_by, two.noted_by, two.archived_by) == ("bo", None, None)
    store.add_watch(rid(2), "auto", label="again")  # a merge with a label: noted, not added
    assert (store.watch(rid(2)).added_by, store.watch(rid(2)).noted_by) == ("bo", "cy")


def test_labels_and_notes_are_cleaned_of_control_characters(store):
    store.add_watch(rid(1), label="\x1b]52;c;aGk=\x07 evil\u202e", note="  line1\nline2  ")
    w = store.watch(rid(1))
    assert "\x1b" not in w.label and "\u202e" not in w.label and "\x07" not in w.label
    assert w.note == "line1 line2"  # a pasted line break is a space, not a control picture
    assert store.set_label(rid(1), "ok") and store.watch(rid(1)).label == "ok"
    assert not store.set_label(rid(99), "nobody")


def test_auto_ids_remember_the_channel_that_answered(store):
    a = rid(1)
    store.add_watch(a)
    assert store.watch(a).resolved_channel is None
    poll(store, d7_status(a, ["sent"], Channel.WHATSAPP), at=1)
    assert store.watch(a).poll_channel == "whatsapp"
    assert store.set_channel(a, Channel.SMS) and store.watch(a).resolved_channel == "sms"
    assert store.set_channel(a, None) and store.watch(a).poll_channel == "auto"


def test_add_ids_validates_merges_and_reads_standard_input(store):
    import io

    good, other = rid(1), rid(2)
    result = add_ids(
        store,
        [good, "not-a-uuid", "-", f"{good},{other.upper()}"],
        "auto",
        label="batch",
        stdin=io.StringIO(f"{rid(3)}\n\n{rid(4)} \x1b[31mx\n"),
    )
    assert result.added == [good, rid(3), rid(4), other]
    assert result.merged == [good]
    assert len(result.errors) == 2 and all("\n" not in e for e in result.errors)
    assert "\x1b" not in result.errors[1]
    assert [w.label for w in store.watches()] == ["batch"] * 4
    infobip = add_ids(store, ["BULK-7", "bad/id"], "infobip", IdKind.BULK)
    assert infobip.added == ["BULK-7"] and len(infobip.errors) == 1
    assert store.watch("BULK-7").id_kind is IdKind.BULK
    assert add_ids(store, [rid(5)], "fax").errors[0].startswith("unknown channel")


def test_archive_after_a_while_final_and_bring_back(store):
    done, pending = rid(1), rid(2)
    store.add_watch(done)
    store.add_watch(pending)
    poll(store, d7_status(done, ["delivered"]), at=100)
    poll(store, d7_status(pending, ["sent"]), at=100)
    poll(store, d7_status(done, ["delivered"]), at=150)  # still final: the clock is not reset
    assert store.load_state(done).final_since == 100
    assert store.archive_finished(3600, now=3000) == []
    assert store.archive_finished(3600, now=3700) == [done]
    assert [w.request_id for w in store.watches()] == [pending]
    assert [w.request_id for w in store.watches(Which.ARCHIVED)] == [done]
    assert len(store.transitions(done)) == 1  # history kept
    assert store.unarchive(done, at=4000)
    assert store.archive_finished(3600, now=4100) == []  # not archived again at once
    assert store.archive_finished(3600, now=7700) == [done]
    assert not store.add_watch(done)  # adding it again brings it back too
    assert store.watch(done).archived_at is None


def test_timelines_load_the_newest_transitions_only(store):
    a = rid(1)
    store.add_watch(a)
    for i in range(12):
        poll(store, d7_status(a, [f"s{i}"]), at=i)
    assert [t.new_status for t in store.timelines(limit=3)[a]] == ["s9", "s10", "s11"]
    assert len(store.timelines(limit=None)[a]) == 12
    assert len(store.transitions()) == 12


def test_an_unmerged_infobip_pull_is_refused_rather_than_forgetting_recipients(store):
    pull = replace(d7_status(rid(1), ["sent"]), incremental=True)
    with pytest.raises(ValueError, match="observe"):
        store.save_observation(pull)


def test_an_observation_and_its_transitions_are_stored_together_or_not_at_all(store):
    a = rid(1)
    state, transitions = observe(None, d7_status(a, ["sent"]), 1)
    broken = [*transitions, replace(transitions[0], new_phase=None)]  # fails mid-transaction
    with pytest.raises(AttributeError):
        store.save_observation(state, broken, at=1)
    assert store.load_state(a) is None and store.transitions(a) == []


# ---------------------------------------------------------------------------------------------
# Migrations, newer versions, foreign and broken files


def build_v1(path: Path) -> None:
    """A database exactly as the first d7tui wrote it: the v1 DDL and v1 rows."""
    conn = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {FIRST_VERSION}")
    conn.execute(
        "INSERT INTO watch VALUES (?, 'auto', 'request_id', 'old label', 50.0, 'sms')", (rid(1),)
    )
    conn.execute("INSERT INTO watch VALUES ('B-1', 'infobip', 'bulkId', '', 51.0, NULL)")
    conn.execute(
        "INSERT INTO request_state VALUES (?, 'sms', '{\"total_recipients\":1}', 60.0, 55.0)",
        (rid(1),),
    )
    conn.execute(
        "INSERT INTO recipient VALUES (?, 0, 'm1', '+971509752655', 'delivered', 'delivered', 1, "
        "'ok', 0.01, 'EUR', 1, 'AE', NULL, '{\"a\":[1]}', NULL)",
        (rid(1),),
    )
    conn.execute("INSERT INTO state_raw VALUES (?, 0, x'00ff')", (rid(1),))
    conn.execute(
        "INSERT INTO transition (at, request_id, recipient_key, recipient, old_status, "
        "new_status, old_phase, new_phase, reason) "
        "VALUES (55.0, ?, 'm1', '+971509752655', 'sent', 'delivered', 'pending', 'delivered', 'ok')",
        (rid(1),),
    )
    conn.commit()
    conn.close()


def test_a_first_schema_database_is_migrated_with_its_data(db_path):
    db_path.parent.mkdir()
    build_v1(db_path)
    with Store.open(db_path) as s:
        assert s.schema_version() == SCHEMA_VERSION
        watches = s.watches()
        assert [(w.request_id, w.label, w.resolved_channel) for w in watches] == [
            (rid(1), "old label", "sms"),
            ("B-1", "", None),
        ]
        assert watches[0].note == "" and watches[0].archived_at is None
        stored = s.load_state(rid(1))
        assert stored.state.recipients[0].fields == {"a": [1]}
        assert stored.state.raw == (b"\x00\xff",)
        assert stored.final_since == 60.0  # all final before the migration: since its last poll
        assert s.transitions(rid(1))[0].new_phase is Phase.DELIVERED
        # The new columns work.
        assert s.set_note(rid(1), "migrated") and s.archive(rid(1), at=70)
        assert s.watch(rid(1)).note == "migrated" and s.watch(rid(1)).archived
    with Store.open(db_path) as s:  # and the migration is not run twice
        assert s.watch(rid(1)).note == "migrated"


def test_a_database_from_a_newer_d7tui_is_refused_and_left_untouched(db_path):
    db_path.parent.mkdir()
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE future (x)")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    before = db_path.read_bytes()
    with pytest.raises(StoreVersionError) as caught:
        Store.open(db_path)
    message = str(caught.value)
    assert "\n" not in message and str(db_path) in message and "newer d7tui" in message
    assert db_path.read_bytes() == before
    assert not Path(f"{db_path}-wal").exists()


@pytest.mark.parametrize(
    "content",
    [
        b"",  # truncated to nothing
        b"this is a spreadsheet, not a database" * 100,
        b"SQLite format 3\x00" + b"\xff" * 4000,
    ],
    ids=["0 bytes", "not SQLite", "damaged header"],
)
def test_a_damaged_store_is_kept_aside_and_a_new_one_started_with_one_line(db_path, content):
    with Store.open(db_path) as s, s.batch():  # one commit: the file's content is what counts
        for n in range(1000):
            s.add_watch(rid(n))
    Path(f"{db_path}-wal").unlink(missing_ok=True)
    db_path.write_bytes(content)
    with Store.open(db_path) as s:
        [said] = s.notices
        assert s.warnings == [] and s.watches() == []  # a new, empty store, and it works
        s.add_watch(rid(1))
    assert "\n" not in said and str(db_path) in said and "new, empty store" in said
    aside = Path(said.split("kept as ")[1].split(",")[0])
    assert aside.parent == db_path.parent and aside.name.startswith("d7tui.sqlite3.damaged-")
    assert aside.read_bytes() == content  # the old file, exactly as it was
    with Store.open(db_path) as s:  # said once: the next open is quiet
        assert s.notices == [] and [w.request_id for w in s.watches()] == [rid(1)]


def test_a_locked_database_is_said_to_be_locked_not_damaged(db_path):
    Store.open(db_path).close()
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailable, match="locked") as caught:
            Store.open(db_path, busy_timeout=0.1)
        assert "\n" not in str(caught.value)
    finally:
        holder.close()
    assert [p.name for p in db_path.parent.iterdir() if "damaged" in p.name] == []


def test_someone_elses_sqlite_database_is_not_taken_over(db_path):
    db_path.parent.mkdir()
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE invoices (id)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreCorruptError, match="not d7tui's"):
        Store.open(db_path)


def test_an_unusable_location_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError) as caught:
        Store.open(blocker / "sub" / "d7tui.sqlite3")
    assert "\n" not in str(caught.value) and "cannot create" in str(caught.value)
    (tmp_path / "dir.sqlite3").mkdir()
    with pytest.raises(StoreError, match="directory"):
        Store.open(tmp_path / "dir.sqlite3")


def test_a_closed_store_says_so(store_location):
    s = open_store(store_location)
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.watches()


def test_data_version_moves_only_when_another_connection_commits(db_path: Path):
    with Store.open(db_path) as mine, Store.open(db_path) as other:
        before = mine.data_version()
        assert mine.data_version() == before  # nothing committed: the same number
        mine.watches()  # reading changes nothing
        assert mine.data_version() == before
        other.add_watch(rid(1))
        assert mine.data_version() != before


def test_what_a_monitor_held_is_absorbed_new_ids_whole_and_known_ids_left_as_they_are(store):
    """A monitor whose store was lost writes what it held into the store there now (on SQLite
    a file emptied under it; on PostgreSQL it is never lost, but the same method serves both)."""
    known, new, archived = rid(1), rid(2), rid(3)
    store.add_watch(known, "sms", label="theirs")
    state, transitions = observe(None, d7_status(new, ["delivered"]), 50.0)
    held = Snapshot(
        watches=[
            WatchRecord(known, "sms", IdKind.REQUEST, "mine", "", 1.0, None, None, None, 1),
            WatchRecord(new, "auto", IdKind.REQUEST, "vip", "call", 2.0, "sms", None, None, 2),
            WatchRecord(archived, "sms", IdKind.REQUEST, "", "", 3.0, None, 9.0, None, 3),
        ],
        states={new: StoredState(state, 50.0, 50.0, 50.0)},
        timelines={new: transitions},
    )
    absorbed = store.absorb(held)
    assert (absorbed.requests, absorbed.states, absorbed.transitions) == (2, 1, 1)
    assert store.watch(known).label == "theirs"  # another d7tui wrote it meanwhile: kept
    taken = store.watch(new)
    assert (taken.label, taken.note, taken.resolved_channel) == ("vip", "call", "sms")
    assert store.load_state(new).state == state
    assert [t.new_status for t in store.transitions(new)] == ["delivered"]
    assert [w.request_id for w in store.watches(Which.ARCHIVED)] == [archived]
    assert store.lost() is False  # nothing was lost under this store
