"""Where the command line writes: `export -o` into what the path names (a FIFO, a symlink) without
ever replacing it, and every output that cannot take what is written (not UTF-8, full, closed) one
line and a documented exit code, never a traceback."""

# ruff: noqa: F811  (the fixtures of test_cli, imported, then named as parameters)

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
import subprocess
import sys
import threading
import uuid

from test_cli import env, run, sim  # noqa: F401

from d7tui.cli import main


def test_export_writes_through_a_fifo_and_a_symlink_and_replaces_neither(env, capsys, tmp_path):
    rid = str(uuid.uuid4())
    assert run(capsys, "add", rid, "--label", "through")[0] == 0
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    code, _, err = run(capsys, "export", "-o", str(fifo))
    reader.join(10)
    assert code == 0, err
    assert stat.S_ISFIFO(fifo.lstat().st_mode)  # still a FIFO, not a file in its place
    assert json.loads(got[0])["watchlist"][0]["request_id"] == rid  # the reader got it all
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]  # no temp file left

    like_stdout = tmp_path / "stdout"  # as /dev/stdout is a symlink to a pipe
    like_stdout.symlink_to(fifo)
    got.clear()
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    code, _, err = run(capsys, "export", "-o", str(like_stdout))
    reader.join(10)
    assert code == 0, err
    assert like_stdout.is_symlink() and stat.S_ISFIFO(fifo.lstat().st_mode)
    assert json.loads(got[0])["watchlist"][0]["request_id"] == rid

    # A CSV read by another program starts with its header, not a byte order mark (H12.6).
    got.clear()
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    code, _, err = run(capsys, "export", "--format", "csv", "-o", str(like_stdout))
    reader.join(10)
    assert code == 0, err
    assert got[0].startswith(b"record,")

    target = tmp_path / "shared" / "export.json"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    code, _, err = run(capsys, "export", "-o", str(link))
    assert code == 0, err
    assert link.is_symlink() and link.resolve() == target  # the link still points there
    assert json.loads(target.read_text())["watchlist"][0]["label"] == "through"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "link.json" in err

    plain = tmp_path / "plain.json"
    plain.write_text("old")
    assert run(capsys, "export", "-o", str(plain))[0] == 0
    assert json.loads(plain.read_text())["watchlist"][0]["request_id"] == rid


def test_export_onto_the_store_or_any_database_is_refused_and_loses_nothing(env, capsys, tmp_path):
    # K6: `-o` onto the store itself replaced the database with its export: the next start set
    # it aside as damaged and began an empty store.
    from d7tui.store import default_path

    rid = str(uuid.uuid4())
    assert run(capsys, "add", rid, "--label", "kept")[0] == 0
    db = default_path()
    other_db = tmp_path / "backup.db"
    other_db.write_bytes(db.read_bytes())  # a copy under another name, elsewhere
    before = {p: p.read_bytes() for p in (db, other_db)}
    lock = db.with_name(db.name + ".lock")
    for target in (db, db.with_name(db.name + "-wal"), lock, other_db):
        code, out, err = run(capsys, "export", "-o", str(target))
        assert code == 2, (target, err)
        assert err.strip().startswith(f"d7tui export: {target} is ") and err.strip().endswith(
            "; nothing was written"
        ), err
    assert {p: p.read_bytes() for p in before} == before
    code, out, err = run(capsys, "export")
    assert code == 0, err
    assert json.loads(out)["watchlist"][0]["label"] == "kept"


def d7tui(env: dict[str, str], *argv: str, stdout: int | None = None, **extra: str):
    return subprocess.run(
        [sys.executable, "-m", "d7tui", *argv],
        stdout=subprocess.PIPE if stdout is None else stdout,
        stderr=subprocess.PIPE,
        env={**os.environ, **env, **extra},
        timeout=60,
    )


def test_an_output_that_is_not_utf8_gets_ascii_symbols_and_an_export_stays_whole(sim, env):
    rid = sim.create_request(
        "sms",
        recipients=["+971500000301", "+971500000302"],
        script=[[(0, "sent"), (5, "delivered")], [(0, "sent"), (5, "undelivered")]],
    )
    sim.advance(10)
    for encoding in ("ascii", "latin-1"):
        proc = d7tui(env, "status", rid, "--channel", "sms", PYTHONIOENCODING=encoding)
        assert proc.returncode == 0, proc.stderr
        table = proc.stdout.decode(encoding)
        assert "v delivered" in table and "x failed" in table  # ✓ and ✗, readably
        assert proc.stderr == b""
    assert d7tui(env, "add", rid, "--label", "東京 ✓").returncode == 0
    proc = d7tui(env, "export", "--format", "csv", PYTHONIOENCODING="ascii")
    assert proc.returncode == 0, proc.stderr
    assert "東京 ✓" in proc.stdout.decode("utf-8")  # a data file: UTF-8, nothing lost


def test_an_output_that_cannot_be_written_is_one_line_and_a_send_still_says_what_it_sent(
    sim, env, tmp_path
):
    rid = sim.create_request("sms", recipients=["+971500000303"])
    unwritable = tmp_path / "unwritable"
    unwritable.write_text("")
    with open(unwritable, "rb") as read_only:  # every write to it fails, as on a full disk
        proc = d7tui(env, "status", rid, "--channel", "sms", stdout=read_only.fileno())
        assert proc.returncode == 5
        assert proc.stderr.decode().splitlines() == [
            "d7tui status: cannot write to standard output: Bad file descriptor"
        ]
        proc = d7tui(env, "add", str(uuid.uuid4()), stdout=read_only.fileno())
        assert proc.returncode == 0  # added: said where it can be read
        assert proc.stderr.decode() == (
            "d7tui add: added 1, already watched 0, but cannot write to standard output: "
            "Bad file descriptor\n"
        )
        send = ["send", "--channel", "sms", "--to", "+971500000304", "--text", "hi"]
        proc = d7tui(env, *send, "--from", "X", "--yes", stdout=read_only.fileno())
    assert proc.returncode == 0  # it went out: a script must not send it again
    (line,) = proc.stderr.decode().splitlines()
    assert line.startswith("d7tui send: sent: ") and "cannot write to standard output" in line
    sent_id = line.removeprefix("d7tui send: sent: ").split(",")[0]
    assert uuid.UUID(sent_id)
    shell = f"'{sys.executable}' -m d7tui status {rid} --channel sms >&-"
    proc = subprocess.run(
        ["bash", "-c", shell], env={**os.environ, **env}, capture_output=True, timeout=60
    )
    assert proc.returncode == 5
    assert proc.stderr.decode() == "d7tui status: standard output is closed\n"


def test_the_monitor_without_a_terminal_says_so_in_one_line(env):
    proc = subprocess.run(
        [sys.executable, "-m", "d7tui", "--demo"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env={**os.environ, **env},
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stdout == b""
    assert proc.stderr.decode() == (
        "d7tui: the monitor needs a terminal; from a script use d7tui status ID... or d7tui export\n"
    )


def test_a_reader_that_went_away_ends_the_command_quietly(sim, env):
    # `d7tui status ID | head -1`: the reader is gone before the output is flushed at exit.
    rid = sim.create_request("sms", recipients=["+971500000305"])
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        for argv in (["status", rid, "--channel", "sms"], ["export"]):
            proc = d7tui(env, *argv, stdout=write_end)
            assert (proc.returncode, proc.stderr.decode()) == (0, ""), argv
    finally:
        os.close(write_end)


def test_a_reader_that_leaves_after_the_first_lines_leaves_nothing_for_the_exit(
    sim, env, monkeypatch
):
    # `head -3` took the table and left before the legend under it was written: had that been
    # left in the buffer, Python flushes it at exit and says "Exception ignored … BrokenPipeError",
    # status 120 (J8). What the interpreter flushes after main() must go through quietly.
    rid = sim.create_request("sms", recipients=["+971500000306"])
    read_end, write_end = os.pipe()

    class ReaderLeavesAfterTheFirstLines(io.TextIOWrapper):
        def write(self, text: str) -> int:
            written.append(text)
            return super().write(text)

        def flush(self) -> None:
            super().flush()
            if written and read_end in still_open:  # the first lines went through
                still_open.remove(read_end)
                os.close(read_end)

    written: list[str] = []
    still_open = [read_end]
    stdout = ReaderLeavesAfterTheFirstLines(open(write_end, "wb"), encoding="utf-8")  # noqa: SIM115
    monkeypatch.setattr(sys, "stdout", stdout)
    try:
        assert main(["status", rid, "--channel", "sms"]) == 0
        assert not still_open  # the reader left while the command ran
        stdout.flush()  # as the interpreter does at exit
    finally:
        with contextlib.suppress(OSError):
            stdout.close()
