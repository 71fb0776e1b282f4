"""A throwaway PostgreSQL server of the tests' own: Debian's server programs (package
`postgresql`, which `.ci/run` installs when missing), a fresh cluster in a temporary directory on
a free loopback port, stopped and deleted at the end. PostgreSQL refuses to run as root, so under
root (CI) the server runs as the `postgres` user that the package creates.

    server = PgServer.start()
    url = server.create_database()     # a new, empty database per test
    server.stop(); server.start_again()  # the database going away and coming back
    server.close()

Durability is off (fsync, full_page_writes): these clusters are thrown away, and it makes the
server start in about a second.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import psycopg

_SEARCH = ("/usr/lib/postgresql/*/bin",)


def find_bindir() -> Path | None:
    """Where `initdb` and `postgres` are: D7TUI_PG_BINDIR, Debian's newest, or the PATH."""
    if env := os.environ.get("D7TUI_PG_BINDIR"):
        return Path(env)
    found = sorted(
        (p for pattern in _SEARCH for p in Path("/").glob(pattern.lstrip("/"))),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for candidate in reversed(found):
        if (candidate / "initdb").exists():
            return candidate
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgServer:
    def __init__(self, bindir: Path, root: Path, port: int) -> None:
        self.bindir = bindir
        self.root = root
        self.data = root / "data"
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)

    @classmethod
    def start(cls) -> PgServer:
        bindir = find_bindir()
        if bindir is None:
            raise RuntimeError(
                "PostgreSQL's server programs were not found (Debian: apt-get install postgresql; "
                "or set D7TUI_PG_BINDIR to the directory holding initdb)"
            )
        root = Path(tempfile.mkdtemp(prefix="d7tui-pg-"))
        server = cls(bindir, root, _free_port())
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        server._run(
            [
                str(bindir / "initdb"),
                "-D",
                str(server.data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )
        for tries_left in (2, 1, 0):
            try:
                server.start_again()
                return server
            except RuntimeError:
                # The port was taken between its choice and the server's bind (by a parallel
                # test worker starting a server of its own): another one.
                if not tries_left or "could not bind" not in server.log_text():
                    raise
                server.port = _free_port()
        raise AssertionError("unreachable")

    def _as_owner(self, argv: Sequence[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else list(argv)

    def _run(self, argv: Sequence[str]) -> None:
        done = subprocess.run(self._as_owner(argv), capture_output=True, text=True)
        if done.returncode != 0:  # said whole: a PostgreSQL missing fails loudly, never skips
            raise RuntimeError(f"{' '.join(argv)} failed: {(done.stderr or done.stdout)[-2000:]}")

    @property
    def admin_url(self) -> str:
        return self.url("postgres")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start_again(self) -> None:
        """Start the server (again, after `stop`), and wait until it takes connections."""
        argv = [
            str(self.bindir / "postgres"),
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            "-k",
            str(self.root),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
        ]
        log = (self.root / "server.log").open("ab")
        self.proc = subprocess.Popen(self._as_owner(argv), stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.admin_url, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"PostgreSQL did not start: {self.log_text()[-2000:]}"
                    ) from None
                time.sleep(0.05)

    def log_text(self) -> str:
        return (self.root / "server.log").read_text(errors="replace")

    def _postmaster(self) -> int | None:
        # The server's own pid: under root `proc` is runuser, which passes no signal on.
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        """Stop the server at once (fast shutdown: every connection is cut)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        pid = self._postmaster()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)  # PostgreSQL's "fast" shutdown
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.proc.kill()
            self.proc.wait()

    def create_database(self) -> str:
        """A new, empty database; its URL."""
        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        self.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.root)
