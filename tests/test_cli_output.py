"""Where the command line writes: `export -o` into what the path names (a FIFO, a symlink) without
ever replacing it, and every output that cannot take what is written (not UTF-8, full, closed) one
line and a documented exit code, never a traceback."""

# ruff: noqa: F811  (the fixtures of test_cli, imported, then named as parameters)

from __future__ import annotations

import json
import os
import stat
import threading
import uuid

from test_cli import env, run, sim  # noqa: F401


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
