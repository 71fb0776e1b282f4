"""`d7tui export` and `e`: the watchlist, every recipient's latest state and every transition come
out as JSON (exactly what the store holds) or as one CSV table a spreadsheet opens safely."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from export_reader import Exported, read_csv, read_json

from d7tui.export import CSV_COLUMNS, export, export_to_file, safe_cell
from d7tui.models import Channel, IdKind, Phase, Recipient, RequestStatus, observe
from d7tui.store import Store, Which

T0 = 1718100000.125  # times on whole milliseconds: the CSV keeps milliseconds


def hostile_recipient(n: int, status: str, phase: Phase, final: bool) -> Recipient:
    return Recipient(
        msg_id=f"msg-{n}",
        recipient=f"+4477009{n:05d}",
        status=status,
        phase=phase,
        final=final,
        reason='=HYPERLINK("http://evil","click")' if n == 0 else "-2+3+cmd|' /C calc'!A0",
        cost=0.0045 * (n + 1),
        currency="EUR",
        parts=n + 1,
        country="GB",
        schedule_time="2024-06-11 10:00:00" if n else None,
        fields={"originator": "@SignOTP", "nested": {"a": [1, None, 'ü\n"quoted"']}, "n": n},
        problem="+problem" if n == 1 else None,
    )


def build(store: Store) -> dict[str, str]:
    ids = {
        "sms": "5b3c8fc4-1c0b-4e6a-9d6a-4f0a8e6b1a01",
        "wa": "5b3c8fc4-1c0b-4e6a-9d6a-4f0a8e6b1a02",
        "waiting": "5b3c8fc4-1c0b-4e6a-9d6a-4f0a8e6b1a03",
        "removed": "5b3c8fc4-1c0b-4e6a-9d6a-4f0a8e6b1a04",
        "bulk": "BULK-=1+2",
    }
    store.add_watch(
        ids["sms"], "auto", label="=SUM(A1:A9)", note='@note, with "quotes"', added_at=T0
    )
    store.add_watch(ids["wa"], "whatsapp", label="ticket 12", added_at=T0 + 1)
    store.add_watch(ids["waiting"], "viber", added_at=T0 + 2)
    store.add_watch(ids["removed"], "sms", label="gone", added_at=T0 + 3)
    store.add_watch(ids["bulk"], "infobip", IdKind.BULK, label="-promo", added_at=T0 + 4)
    before = None
    for step, statuses in enumerate((["sent", "sent"], ["delivered", "un_delivered"])):
        recipients = tuple(hostile_recipient(n, s, *_phase(s)) for n, s in enumerate(statuses))
        update = RequestStatus(
            ids["sms"], Channel.SMS, recipients, {"total_recipients": 2, "x": [{}]}
        )
        before, transitions = observe(before, update, T0 + 10 + step)
        store.save_observation(before, transitions, at=T0 + 10 + step)
    wa = RequestStatus(
        ids["wa"], Channel.WHATSAPP, (hostile_recipient(5, "read", Phase.READ, True),)
    )
    state, transitions = observe(None, wa, T0 + 20)
    store.save_observation(state, transitions, at=T0 + 20)
    store.archive(ids["wa"], at=T0 + 30)
    gone = RequestStatus(
        ids["removed"], Channel.SMS, (hostile_recipient(9, "sent", Phase.PENDING, False),)
    )
    store.save_observation(*observe(None, gone, T0 + 21), at=T0 + 21)
    store.remove_watch(ids["removed"], at=T0 + 40)
    return ids


def _phase(status: str) -> tuple[Phase, bool]:
    from d7tui.models import classify_d7

    return classify_d7(Channel.SMS, status)


def held(store: Store) -> Exported:
    """What the store holds, as an export should give it back."""
    watches = store.watches(Which.KEPT)
    timelines = store.timelines(Which.KEPT, limit=None)
    return Exported(
        watches=[replace(w, seq=i) for i, w in enumerate(watches, 1)],
        states=store.load_states(Which.KEPT, with_raw=False),
        transitions=[t for w in watches for t in timelines.get(w.request_id, [])],
    )


def build_many(store: Store) -> None:
    """`build`, then a dozen more ids written as the monitor writes them (one removed among
    them, some archived, some never answered, one whose recipients changed): more than a few
    parts of a small `part`, with holes in the added order."""
    build(store)
    for n in range(12):
        rid = f"5b3c8fc4-1c0b-4e6a-9d6a-4f0a8e6b2{n:03d}"
        store.add_watch(rid, "sms", label=f"more {n}" if n % 3 else "", added_at=T0 + 50 + n)
        if n % 4 == 3:
            continue  # never answered
        before = None
        for step in range(1 + n % 3):
            statuses = ["sent"] * (1 + n % 2) if step < n % 3 else ["delivered"] * (1 + n % 2)
            recipients = tuple(
                hostile_recipient(n + i, s, *_phase(s)) for i, s in enumerate(statuses)
            )
            before, transitions = observe(
                before, RequestStatus(rid, Channel.SMS, recipients, {"n": n}), T0 + 60 + n + step
            )
            store.save_observation(before, transitions, at=T0 + 60 + n + step)
        if n % 5 == 1:
            store.archive(rid, at=T0 + 90 + n)
        if n == 6:
            store.remove_watch(rid, at=T0 + 95)


GOLDEN = Path(__file__).parent / "fixtures" / "export"


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path / "d7tui.sqlite3")
    build(s)
    yield s
    s.close()


def test_json_export_gives_back_exactly_what_the_store_holds(store):
    out = io.StringIO()
    counts = export(store, "json", out, now=T0 + 100)
    document = json.loads(out.getvalue())
    assert list(document) == [
        "d7tui_export",
        "exported_at",
        "watchlist",
        "recipients",
        "transitions",
    ]
    assert document["exported_at"] == T0 + 100
    back = read_json(out.getvalue())
    expected = held(store)
    assert back.watches == expected.watches
    assert back.states == expected.states
    assert back.transitions == expected.transitions
    assert (counts.watches, counts.recipients, counts.transitions) == (4, 3, 5)
    # Removed ids are not exported; archived ones are, and say so.
    exported_ids = [w["request_id"] for w in document["watchlist"]]
    assert "5b3c8fc4-1c0b-4e6a-9d6a-4f0a8e6b1a04" not in exported_ids
    assert document["watchlist"][1]["archived_at"] == T0 + 30
    assert document["watchlist"][2]["state"] is None  # waiting: never answered


def test_csv_export_round_trips_and_is_one_table(store):
    out = io.StringIO()
    export(store, "csv", out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert all(len(row) == len(CSV_COLUMNS) for row in rows)
    assert [row[0] for row in rows[1:]] == ["watch"] * 4 + ["recipient"] * 3 + ["transition"] * 5
    back = read_csv(out.getvalue())
    expected = held(store)
    assert back.watches == expected.watches
    assert back.states == expected.states
    assert back.transitions == expected.transitions
    # People read the times: UTC, to the millisecond.
    added = rows[1][CSV_COLUMNS.index("added_at")]
    assert added == "2024-06-11T10:00:00.125Z"  # UTC, and saying so


def test_no_csv_cell_can_run_as_a_formula_but_phone_numbers_stay_as_they_are(store):
    out = io.StringIO()
    export(store, "csv", out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    column = {name: i for i, name in enumerate(CSV_COLUMNS)}
    for row in rows[1:]:
        for cell in row:
            if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                assert all(ch in "0123456789+-(). " for ch in cell), cell
    watch = rows[1]
    assert watch[column["label"]] == "'=SUM(A1:A9)"
    assert watch[column["note"]] == '\'@note, with "quotes"'
    recipient = rows[5]
    assert recipient[column["recipient"]] == "+447700900000"  # no apostrophe on numbers
    assert recipient[column["reason"]].startswith("'=HYPERLINK")
    assert rows[6][column["reason"]] == "'-2+3+cmd|' /C calc'!A0"
    assert rows[6][column["problem"]] == "'+problem"


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("+971509752655", "+971509752655"),
        ("+44 (20) 7946-0958", "+44 (20) 7946-0958"),
        ("-0.5", "-0.5"),
        ("=1+1", "'=1+1"),
        ("+1+cmd", "'+1+cmd"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\t=x", "'\t=x"),
        ("'already", "''already"),
        ("plain", "plain"),
        ("", ""),
    ],
)
def test_safe_cell(text, cell):
    assert safe_cell(text) == cell


def test_export_to_a_file_is_private_whole_and_says_where(store, tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    path, counts = export_to_file(store, "csv", directory=target, now=T0)
    assert path.parent == target and path.name.startswith("d7tui-export-") and path.suffix == ".csv"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with the mark
    assert read_csv(data.decode("utf-8")).watches == held(store).watches
    assert counts.recipients == 3
    again, _ = export_to_file(store, "csv", directory=target, now=T0)
    assert again != path and again.exists() and path.exists()  # never overwrites the last one
    named, _ = export_to_file(store, "json", tmp_path / "mine.json")
    assert read_json(named.read_text()).states == held(store).states
    assert sorted(os.listdir(target)) == sorted([path.name, again.name])  # no temp left


def test_an_export_killed_leaves_nothing_behind_the_next_one_does_not_take_away(store, tmp_path):
    """Fresh-eyes finding (t8 #7): exports killed with -9 left their hidden half-written files
    (as large as the export) beside the target for good. The next export on this machine
    removes those of processes that no longer run, and no other."""
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = int(gone.stdout)
    host = socket.gethostname()
    left = tmp_path / f".d7tui-export-{host}-{dead}-abcd1234"
    running = tmp_path / f".d7tui-export-{host}-{os.getpid()}-efgh5678"  # an export under way
    elsewhere = tmp_path / f".d7tui-export-other-host-{dead}-ijkl9012"  # another machine's
    for name in (left, running, elsewhere):
        name.write_bytes(b"[half")
    export_to_file(store, "json", tmp_path / "mine.json")
    assert not left.exists()
    assert running.exists() and elsewhere.exists()


def test_an_empty_store_exports_empty_documents(tmp_path):
    with Store.open(tmp_path / "d7tui.sqlite3") as empty:
        out = io.StringIO()
        assert export(empty, "json", out).watches == 0
        assert json.loads(out.getvalue())["watchlist"] == []
        out = io.StringIO()
        export(empty, "csv", out)
        assert out.getvalue().strip() == ",".join(CSV_COLUMNS)
        with pytest.raises(ValueError, match="csv or json"):
            export(empty, "xml", io.StringIO())  # type: ignore[arg-type]


def test_every_exported_recipient_carries_what_its_status_means(store):
    out = io.StringIO()
    export(store, "json", out)
    by_status = {r["status"]: r["explanation"] for r in json.loads(out.getvalue())["recipients"]}
    assert by_status["un_delivered"]["outcome"] == "temporary failure"
    assert "could not deliver" in by_status["un_delivered"]["meaning"]
    assert by_status["read"]["outcome"] == "success"  # WhatsApp's read
    out = io.StringIO()
    export(store, "csv", out)
    rows = [r for r in csv.DictReader(io.StringIO(out.getvalue())) if r["record"] == "recipient"]
    failed = next(r for r in rows if r["status"] == "un_delivered")
    assert failed["outcome"] == "temporary failure"
    assert failed["explanation"].startswith("The operator could not deliver it")
    assert failed["next_step"].startswith("Check the number")


def test_message_text_stored_while_shown_is_hidden_in_exports_once_the_setting_is_off(tmp_path):
    # Kept while `message_text = true`, as v1 logs and other versions shape it.
    code = {"text": "Your code is 123456", "content": {"body": {"text": "555111"}}}
    recipient = hostile_recipient(0, "DELIVERED_TO_HANDSET", Phase.DELIVERED, True)
    recipient = replace(recipient, fields={**code, "message": {"text": "555333"}, "to": "41"})
    with Store.open(tmp_path / "d7tui.sqlite3") as store:
        store.add_watch("B1", "infobip", IdKind.BULK, added_at=T0)
        state, transitions = observe(
            None, RequestStatus("B1", Channel.INFOBIP, (recipient,)), T0 + 1
        )
        store.save_observation(state, transitions, at=T0 + 1)
        for fmt in ("json", "csv"):
            out = io.StringIO()
            export(store, fmt, out)  # the setting's default: off
            assert "123456" not in out.getvalue() and "5551" not in out.getvalue()
            assert "5553" not in out.getvalue() and "(hidden)" in out.getvalue()
            shown = io.StringIO()
            export(store, fmt, shown, keep_text=True)
            assert "Your code is 123456" in shown.getvalue() and "555333" in shown.getvalue()


class _Writes(io.StringIO):
    """A text sink that keeps the length of its largest write."""

    largest = 0

    def write(self, text: str) -> int:
        self.largest = max(self.largest, len(text))
        return super().write(text)


def test_a_json_export_is_written_a_record_at_a_time_and_reads_the_same(store):
    # K12: the whole document was built, then written in one piece: 813 MB of memory for a
    # 78 MB export of one 50,000-recipient bulk (520 → 120 MB measured for 56 MB after this).
    sink = _Writes()
    export(store, "json", sink)
    whole = sink.getvalue()
    assert sink.largest < len(whole) / 4  # never the document, nor one of its lists, at once
    back, expected = read_json(whole), held(store)
    assert (back.watches, back.states, back.transitions) == (
        expected.watches,
        expected.states,
        expected.transitions,
    )


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_an_export_is_byte_for_byte_what_the_whole_store_read_at_once_wrote(tmp_path, fmt):
    # K12: the store is now read a part at a time; the file must not change by a byte. The
    # golden files were written by the export before it (a whole read), from this very store.
    with Store.open(tmp_path / "d7tui.sqlite3") as store:
        build_many(store)
        golden = (GOLDEN / f"before-k12.{fmt}").read_bytes().decode("utf-8")
        for part in (1, 2, 3, 7, 1000):
            out = io.StringIO()
            export(store, fmt, out, now=T0 + 100, part=part)
            assert out.getvalue() == golden, part
        out = io.StringIO()
        counts = export(store, fmt, out, now=T0 + 100, keep_text=True, part=2)
        assert (counts.watches, counts.recipients, counts.transitions) == (15, 14, 24)


def test_an_export_reads_the_store_a_part_at_a_time_as_it_writes(tmp_path, monkeypatch):
    # K12: every state and transition was read into memory before the first line was written
    # (100,000 ids held whole). Now no read asks for more than a part, and the reads go on
    # while the file is being written (the store's own reads, watched as they are made).
    with Store.open(tmp_path / "d7tui.sqlite3") as store:
        build_many(store)
        sink = io.StringIO()
        asked: list[tuple[int, int]] = []  # (ids asked for, characters written by then)
        real = store.load_part

        def watched(after: int, count: int, *args: object, **kwargs: object):
            asked.append((count, len(sink.getvalue())))
            return real(after, count, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(store, "load_part", watched)
        export(store, "json", sink, part=3)
        assert {count for count, _ in asked} == {3}
        assert len(asked) == 3 * (5 + 1)  # three passes over 15 ids, 3 at a time (and the end)
        written = [at for _, at in asked]
        # Each read comes after what the one before it read was written: never two in a row.
        assert len(set(written)) == len(written) and written[0] > 0
        back = read_json(sink.getvalue())
        assert back.transitions == held(store).transitions
