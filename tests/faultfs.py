"""Real failures of the file system under the store, made for a test and undone after it.

As root (how CI runs here) permissions stop nothing, so a read-only directory is the directory
bind-mounted read-only onto itself, and a full disk is a small tmpfs mounted for the test: the
kernel refuses the writes exactly as it would for a user. Without the right to mount, a
read-only directory is chmod 0555 (which stops anyone but root), and a full disk is a fault
injected at the narrowest point: the store's transaction (`Database.batch`) raises what SQLite
raises for ENOSPC. `FullDisk.real` says which one a test got.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from d7tui.store.db import Database
from d7tui.store.errors import StoreUnavailable


def _run(*cmd: str) -> bool:
    return subprocess.run(cmd, capture_output=True, check=False).returncode == 0


@functools.cache
def can_mount() -> bool:
    if os.geteuid() != 0:
        return False
    with tempfile.TemporaryDirectory() as probe:
        if not _run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", probe):
            return False
        _run("umount", probe)
    return True


def _unmount(path: Path) -> None:
    if not _run("umount", str(path)):
        _run("umount", "-l", str(path))  # still busy: detach it, it goes when unused


@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """`directory` (and what is in it) cannot be written, even by root, until the end."""
    if can_mount():
        target = str(directory)
        assert _run("mount", "--bind", target, target)
        try:
            assert _run("mount", "-o", "remount,bind,ro", target)
            yield
        finally:
            _unmount(directory)
        return
    modes = {p: p.stat().st_mode for p in (directory, *directory.iterdir())}
    for path in modes:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        yield
    finally:
        for path, mode in modes.items():
            path.chmod(mode)


class FullDisk:
    """A directory on a small file system that `fill()` fills up and `free()` frees."""

    def __init__(self, directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.directory = directory
        self.real = can_mount()
        self._filler = directory / "filler"
        self._full = False
        if not self.real:
            original = Database.batch

            def batch(db: Database):  # type: ignore[no-untyped-def]
                if self._full and db.path.parent == directory:
                    raise StoreUnavailable(
                        f"{db.path}: the disk is full (database or disk is full)"
                    )
                return original(db)

            monkeypatch.setattr(Database, "batch", batch)

    def fill(self) -> None:
        if not self.real:
            self._full = True
            return
        chunk = b"\0" * 65536
        # Unbuffered: a buffered file keeps what the disk refused, and says so again at close.
        with self._filler.open("ab", buffering=0) as fh:
            while True:
                try:
                    fh.write(chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    break
        # The last few blocks, one byte at a time.
        with contextlib.suppress(OSError), self._filler.open("ab", buffering=0) as fh:
            while fh.write(b"\0"):
                pass

    def free(self) -> None:
        self._full = False
        self._filler.unlink(missing_ok=True)


@contextlib.contextmanager
def small_disk(
    directory: Path, monkeypatch: pytest.MonkeyPatch, size: str = "4m"
) -> Iterator[FullDisk]:
    directory.mkdir(parents=True, exist_ok=True)
    disk = FullDisk(directory, monkeypatch)
    if not disk.real:
        yield disk
        return
    assert _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(directory))
    try:
        yield disk
    finally:
        _unmount(directory)
