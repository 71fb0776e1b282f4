"""The command line when the store says no (issue 11, items 2 and 7): one line and exit 5, never a
traceback; `status` pulls no one-time report it could not keep; `export` only reads. Real
failures, see faultfs.py."""

# ruff: noqa: F811  (the fixtures of test_cli, imported, then named as parameters)

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from pathlib import Path

import pytest
from faultfs import read_only, small_disk
from test_cli import env, run, sim  # noqa: F401

import d7tui.store.db
from d7tui.channels.infobip import parse_page
from d7tui.simulator import Simulator
from d7tui.store import Store, add_ids, open_store
from d7tui.store.heldlog import legacy_place, private_dir
from d7tui.store.rescue import held_files, keep_elsewhere


def data_dir(env: dict[str, str]) -> Path:
    return Path(env["XDG_DATA_HOME"]) / "d7tui"


def delivered_bulk(sim: Simulator, *numbers: str) -> str:
    bulk, _ = sim.create_infobip_bulk(list(numbers))
    sim.advance(600)  # every message finished: its report waits to be pulled, once
    return bulk


def test_status_refuses_to_pull_reports_it_cannot_keep_and_says_to_use_logs(sim, env, capsys):
    Store.open(data_dir(env) / "d7tui.sqlite3").close()
    bulk = delivered_bulk(sim, "41793026001")
    handed_out = len(sim.reports_handed_out)
    with read_only(data_dir(env)):
        code, out, err = run(
            capsys, "status", bulk, "--channel", "infobip", "--infobip-source", "reports"
        )
        assert code == 5 and out == ""
        assert "reports not pulled" in err and "--infobip-source logs" in err
        assert "Traceback" not in err
        assert len(sim.reports_handed_out) == handed_out  # nothing taken that is not kept
        code, out, err = run(
            capsys, "status", bulk, "--channel", "infobip", "--infobip-source", "logs"
        )
        assert code == 0, err
        assert "41793026001" in out


def test_status_stops_pulling_at_the_first_commit_that_fails_and_keeps_what_it_got(
    sim, env, capsys, monkeypatch, tmp_path
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where a full disk's bodies go
    first = delivered_bulk(sim, "41793026011", "41793026012")
    second = delivered_bulk(sim, "41793026013")
    handed_out = len(sim.reports_handed_out)
    db = data_dir(env) / "d7tui.sqlite3"
    # Another d7tui has the store open (its WAL and shared memory exist), the disk fills up.
    with small_disk(data_dir(env), monkeypatch) as disk, Store.open(db) as other:
        assert other.try_acquire_report_lock()
        other.report_lock.release()
        disk.fill()
        code, out, err = run(
            capsys,
            *("status", first, second, "--channel", "infobip", "--infobip-source", "reports"),
            *("--json", "--max-in-flight", "1"),
        )
        # The pull that could not be kept is shown whole, the next one not pulled at all ...
        shown = [json.loads(line) for line in out.splitlines()]
        taken = {msg_id for msg_id, _ in sim.reports_handed_out[handed_out:]}
        assert taken == {r["msg_id"] for r in shown[0]["recipients"]} and len(taken) == 2
        assert shown[1]["recipients"] == []
        assert "reports not pulled" in shown[1]["error"]["message"]
        assert "no longer pulled" in err and "disk is full" in err
        assert code == 5 and "Traceback" not in err
        # ... and kept in a file, which the next d7tui on this store takes in.
        [held] = held_files(db)
        assert held.parent == private_dir() and f"kept in {held}" in err
        disk.free()
        with open_store(db, parse_report=parse_page) as store:
            assert {r.recipient.msg_id for r in store.reports_for(first)} == taken
        assert held_files(db) == []


def test_add_on_a_full_disk_is_one_line_and_exit_5(sim, env, capsys, monkeypatch):
    with small_disk(data_dir(env), monkeypatch) as disk:
        Store.open(data_dir(env) / "d7tui.sqlite3").close()
        disk.fill()
        code, out, err = run(capsys, "add", sim.create_request("sms", ["+971500000001"]))
    assert code == 5 and out == ""
    assert err.count("\n") == 1 and "disk is full" in err


def test_add_while_another_program_holds_the_database_is_one_line_and_exit_5(
    sim, env, capsys, monkeypatch
):
    path = data_dir(env) / "d7tui.sqlite3"
    Store.open(path).close()
    monkeypatch.setattr(d7tui.store.db, "DEFAULT_BUSY_TIMEOUT", 0.2)  # not the 10 s a user gets
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # e.g. a `sqlite3` shell in the middle of a change
    try:
        code, out, err = run(capsys, "add", sim.create_request("sms", ["+971500000002"]))
    finally:
        holder.close()
    assert code == 5 and out == ""
    assert err.count("\n") == 1 and "locked" in err


def test_export_reads_a_read_only_data_directory_and_writes_nothing_there(sim, env, capsys):
    rid = sim.create_request("sms", ["+971500000003"])
    assert run(capsys, "add", rid, "--label", "kept")[0] == 0
    before = sorted(p.name for p in data_dir(env).iterdir())
    with read_only(data_dir(env)):
        code, out, err = run(capsys, "export", "--format", "json")
    assert code == 0, err
    assert [w["label"] for w in json.loads(out)["watchlist"]] == ["kept"]
    assert sorted(p.name for p in data_dir(env).iterdir()) == before


def test_export_with_nothing_stored_yet_is_an_empty_export_and_creates_nothing(env, capsys):
    code, out, err = run(capsys, "export", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["watchlist"] == []
    assert not data_dir(env).exists()


def test_a_truncated_store_is_said_kept_aside_and_add_goes_on(sim, env, capsys):
    first = sim.create_request("sms", ["+971500000004"])
    assert run(capsys, "add", first)[0] == 0
    path = data_dir(env) / "d7tui.sqlite3"
    path.write_bytes(b"")  # truncated to nothing (the WAL was checkpointed at the last close)
    second = sim.create_request("sms", ["+971500000005"])
    code, out, err = run(capsys, "add", second)
    assert code == 0 and "added 1" in out
    [line] = err.splitlines()
    assert "0 bytes" in line and "kept as" in line and "new, empty store" in line
    aside = Path(line.split("kept as ")[1].split(",")[0])
    assert aside.exists() and aside.read_bytes() == b""
    code, out, _ = run(capsys, "export", "--format", "json")
    assert [w["request_id"] for w in json.loads(out)["watchlist"]] == [second]


@pytest.mark.parametrize("page", ["the watchlist's first", "one in the middle"])
def test_a_store_with_a_few_damaged_pages_is_kept_aside_and_add_goes_on(sim, env, capsys, page):
    """Its header is whole and it opens; a read meets the damage (`database disk image is
    malformed`). Found at the open, kept aside, and what can still be read is kept."""
    ids = [sim.create_request("sms", [f"+9715000{n:05d}"]) for n in range(300)]
    assert run(capsys, "add", *ids, "--label", "keep", "--note", "n")[0] == 0
    path = data_dir(env) / "d7tui.sqlite3"
    size = path.stat().st_size
    at = 4096 if page == "the watchlist's first" else size // 2 // 4096 * 4096
    with path.open("r+b") as fh:
        fh.seek(at)
        fh.write(b"\xde\xad" * 2000)
    damaged = path.read_bytes()
    # An export reads only: it says the store is damaged rather than export less (J7).
    code, out, err = run(capsys, "export", "--format", "json")
    assert (code, out) == (5, "")
    [line] = err.splitlines()
    assert "is damaged" in line and "the monitor or d7tui add sets it aside" in line
    assert path.read_bytes() == damaged  # left as it was
    second = sim.create_request("sms", ["+971500000005"])
    code, out, err = run(capsys, "add", second)
    assert code == 0 and "added 1" in out, err
    [line] = err.splitlines()
    assert "is damaged" in line and "kept as" in line and "new" in line and "store" in line
    aside = Path(line.split("kept as ")[1].split(",")[0])
    assert aside.read_bytes() == damaged  # the old file, exactly as it was
    code, out, _ = run(capsys, "export", "--format", "json")
    watchlist = json.loads(out)["watchlist"]
    kept = [w["request_id"] for w in watchlist if w["request_id"] != second]
    assert [w["request_id"] for w in watchlist][-1] == second
    if page == "one in the middle":  # the watchlist's own pages were whole: all of it
        assert kept == ids and "300 requests still readable" in line
        assert {(w["label"], w["note"]) for w in watchlist if w["request_id"] in ids} == {
            ("keep", "n")
        }
    assert run(capsys, "add", second)[2] == ""  # said once: the next open is quiet


def test_export_says_held_writes_wait_and_the_next_add_says_it_took_them_in(sim, env, capsys):
    first, second = (sim.create_request("sms", [f"+97150000000{n}"]) for n in (1, 2))
    assert run(capsys, "add", first)[0] == 0
    path = data_dir(env) / "d7tui.sqlite3"
    # What a monitor that quit on a full disk kept (store/rescue.py), as it writes it.
    held = keep_elsewhere(
        path,
        [
            ("add", {"request_id": second, "channel": "sms", "id_kind": "request_id"}),
            ("label", {"request_id": first, "label": "typed on a full disk"}),
        ],
    )
    code, out, err = run(capsys, "export", "--format", "json")
    assert code == 0 and [w["request_id"] for w in json.loads(out)["watchlist"]] == [first]
    [line] = err.splitlines()
    assert f"2 held writes (what a d7tui could not save before it ended) in {held}" in line
    assert "not in the store yet, nor in this export" in line and line.endswith("takes them in")
    code, out, err = run(capsys, "add", first)
    assert code == 0
    [line] = err.splitlines()
    assert "took in 2 held writes" in line and line.endswith(f"from {held}")
    code, out, err = run(capsys, "export", "--format", "json")
    assert err == ""
    assert [(w["request_id"], w["label"]) for w in json.loads(out)["watchlist"]] == [
        (first, "typed on a full disk"),
        (second, ""),
    ]


def test_a_held_file_that_cannot_be_taken_in_is_named_and_kept(sim, env, capsys):
    rid = sim.create_request("sms", ["+971500000001"])
    assert run(capsys, "add", rid)[0] == 0
    path = data_dir(env) / "d7tui.sqlite3"
    junk = path.parent / f"{path.name}.held-20261130T120000-1.jsonl"
    junk.write_bytes(b'{"kind": "add"\nnot json at all\n')
    for _ in range(2):  # said at every open while it waits, in one line; never taken, never lost
        code, _, err = run(capsys, "add", rid)
        assert code == 0
        [line] = err.splitlines()
        assert "cannot be taken in from" in line and f"{junk} (a line is not JSON)" in line
        assert junk.read_bytes() == b'{"kind": "add"\nnot json at all\n'


def test_export_names_a_held_file_it_cannot_take_in_and_does_not_count_it_as_waiting(
    sim, env, capsys
):
    rid = sim.create_request("sms", ["+971500000001"])
    assert run(capsys, "add", rid)[0] == 0
    path = data_dir(env) / "d7tui.sqlite3"
    junk = path.parent / f"{path.name}.held-20261130T120000-1.jsonl"
    junk.write_bytes(b"not json at all\n")
    code, _, err = run(capsys, "export", "--format", "json")
    assert code == 0
    [line] = err.splitlines()
    assert "cannot be taken in from" in line and f"{junk} (a line is not JSON)" in line
    assert "not in the store yet" not in err  # never counted as writes to be taken in


def test_a_held_file_another_user_could_have_planted_is_never_taken_in(sim, env, capsys):
    """K2: the temporary directory is everyone's and a held file's name can be worked out: a
    file there that is not this user's own, or that others may write, writes nothing into the
    store; it is named, with why, and left alone."""
    rid, planted = (sim.create_request("sms", [f"+97150000000{n}"]) for n in (1, 2))
    assert run(capsys, "add", rid)[0] == 0
    path = data_dir(env) / "d7tui.sqlite3"
    forged = [("add", {"request_id": planted, "channel": "sms", "id_kind": "request_id"})]
    writable = keep_elsewhere(path, forged)
    assert writable is not None
    writable.chmod(0o666)
    planted = 1
    if os.geteuid() == 0:  # only root can give a file away
        owned = keep_elsewhere(path, forged)
        assert owned is not None and owned != writable
        os.chown(owned, 65534, 65534)
        planted += 1
    code, _, err = run(capsys, "add", rid)
    assert code == 0
    [line] = err.splitlines()
    assert f"{planted} file" in line and f"in {path.parent} " in line and "not yours" in line
    code, out, _ = run(capsys, "export", "--format", "json")
    assert [w["request_id"] for w in json.loads(out)["watchlist"]] == [rid]


def test_files_planted_in_the_shared_temporary_directory_are_one_line_once_a_process(
    sim, env, capsys, tmp_path, monkeypatch
):
    """K2's refusal of 300 files planted under this store's held-file name in a shared
    temporary directory was a 5 KB warning naming each, at every start, `add` and `export`,
    never saying what to do (the user cannot delete another user's files there)."""
    shared = tmp_path / "tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    rid, forged = (sim.create_request("sms", [f"+97150000000{n}"]) for n in (1, 2))
    assert run(capsys, "add", rid)[0] == 0
    directory, prefix = legacy_place(data_dir(env) / "d7tui.sqlite3")
    assert directory == shared
    line = json.dumps({"kind": "add", "request_id": forged, "channel": "sms"}) + "\n"
    for n in range(300):
        plant = directory / f"{prefix}20261130T120000-{n}.jsonl"
        plant.write_text(line)
        if os.geteuid() == 0:
            os.chown(plant, 65534, 65534)  # another user's
        else:
            plant.chmod(0o666)  # or one anyone may write
    code, out, err = run(capsys, "add", rid)
    assert code == 0
    assert err.splitlines() == [
        f"d7tui add: warning: 300 files named as this store's held writes in {shared} are "
        "not yours (another user's, or writable by others): ignored; an admin can remove them"
    ], err
    code, out, err = run(capsys, "export", "--format", "json")
    assert code == 0 and err == ""  # said once a process
    assert [w["request_id"] for w in json.loads(out)["watchlist"]] == [rid]


def test_export_of_a_truncated_store_is_one_line_and_changes_nothing(sim, env, capsys):
    assert run(capsys, "add", sim.create_request("sms", ["+971500000007"]))[0] == 0
    path = data_dir(env) / "d7tui.sqlite3"
    path.write_bytes(b"")
    code, out, err = run(capsys, "export", "--format", "json")
    assert code == 5 and out == ""
    assert err.count("\n") == 1 and "is empty" in err and "not a d7tui database" in err
    assert sorted(p.name for p in data_dir(env).iterdir()) == ["d7tui.sqlite3"]


def test_a_store_in_a_place_that_cannot_hold_one_is_one_line_and_exit_5(sim, env, capsys):
    data_dir(env).parent.mkdir(parents=True)
    data_dir(env).write_text("a file where the data directory should be")
    code, out, err = run(capsys, "add", sim.create_request("sms", ["+971500000006"]))
    assert code == 5 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err


def test_add_on_a_watched_id_says_which_label_and_note_it_replaced(sim, env, capsys):
    rid = sim.create_request("sms", ["+971500000008"])
    first = ["add", rid, "--label", "test", "--note", "test message to +971500000008"]
    assert run(capsys, *first)[0] == 0
    code, out, err = run(capsys, "add", rid, "--label", "from cli", "--note", "n1")
    assert code == 0 and err == ""
    # Nothing replaced without a word: the old text is on the terminal, whole.
    assert out.splitlines() == [
        "added 0, already watched 1",
        f"{rid}: label replaced: was 'test', now 'from cli'",
        f"{rid}: note replaced: was 'test message to +971500000008', now 'n1'",
    ]
    code, out, _ = run(capsys, "add", rid, "--label", "from cli")  # the same again: no word
    assert out.splitlines() == ["added 0, already watched 1"]


def test_add_never_switches_a_watched_ids_channel_or_kind_without_a_word(sim, env, capsys):
    # L6: a mistyped --channel turned a found request into "not found" while the output said
    # only "already watched 1", and a running monitor went on polling it the old way.
    rid = sim.create_request("sms", ["+971500000018"])
    assert run(capsys, "add", rid, "--channel", "sms")[0] == 0
    code, out, err = run(capsys, "add", rid, "--channel", "whatsapp", "--label", "kept")
    assert code == 0
    assert out.splitlines() == ["added 0, already watched 1"]
    assert err.splitlines() == [
        f"d7tui add: {rid}: already watched as a D7 sms request; left so (to watch it as a D7 "
        "whatsapp request, remove it with d in the monitor, then add it again)"
    ]
    assert run(capsys, "add", "QQQ1", "--channel", "infobip")[0] == 0
    code, _, err = run(capsys, "add", "QQQ1", "--channel", "infobip", "--id-kind", "messageId")
    assert "already watched as an Infobip bulkId; left so" in err
    code, out, _ = run(capsys, "export", "--format", "json")
    kinds = {
        w["request_id"]: (w["channel"], w["id_kind"], w["label"])
        for w in json.loads(out)["watchlist"]
    }
    assert kinds[rid] == ("sms", "request_id", "kept")  # the label given still applies
    assert kinds["QQQ1"] == ("infobip", "bulkId", "")
    # "auto" never replaces a channel, and a channel fills in an "auto" one without a word.
    other = sim.create_request("viber", ["+971500000019"])
    assert run(capsys, "add", other)[0] == 0
    code, _, err = run(capsys, "add", other, "--channel", "viber")
    assert code == 0 and err == ""


def test_send_to_an_id_already_watched_keeps_its_label_and_says_which(sim, env):
    rid = sim.create_request("sms", ["+971500000009"])
    with open_store() as store:
        add_ids(store, [rid], "sms", label="from cli", note="n1")
        result = add_ids(store, [rid], "sms", label="test", note="test message", keep=True)
        assert [w.label for w in result.kept] == ["from cli"] and result.replaced == ()
        assert (store.watch(rid).label, store.watch(rid).note) == ("from cli", "n1")
