"""Hostile HTTP servers of our own, on loopback, for what neither the simulator nor httpstub can do:
answers that never end, bombs that inflate to a gigabyte, bytes that are not HTTP at all.

A `HostileServer` runs in its own thread with its own event loop, so that the same server serves a
test's in-process client and a `d7tui status` subprocess alike. Each connection is handed to the
`Behaviour` given (an async function of reader and writer); the request's head is read first.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import socket
import ssl
import struct
import subprocess
import sys
import threading
import zlib
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from d7tui.config import Settings
from d7tui.models import Target
from d7tui.safety import Secret


def aimed_at(d7_url: str, infobip_url: str | None = None, **changes: Any) -> Settings:
    """d7tui's settings pointed at servers of our own, both credentials set."""
    values: dict[str, Any] = {
        "d7_token": Secret("tok"),
        "d7_base_url": d7_url,
        "infobip_key": Secret("key"),
        "infobip_base_url": infobip_url or d7_url,
    }
    return Settings(**{**values, **changes})


def cli_env(base_url: str, home: Path, token: str = "tok", key: str = "key") -> dict[str, str]:
    """The environment of a `d7tui` subprocess aimed at a server of our own, in its own home."""
    return {
        **os.environ,
        "D7_API_TOKEN": token,
        "INFOBIP_API_KEY": key,
        "D7_BASE_URL": base_url,
        "INFOBIP_BASE_URL": base_url,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_STATE_HOME": str(home / "state"),
    }


# Started between the caller and the command measured. The kernel charges a process the high
# water mark of the address space it had before its exec (vfork and posix_spawn share the
# parent's): a command started from a pytest worker or a benchmark with aiohttp loaded would be
# charged that process's size, and its own peak never show below it. Started from this small
# one (no site), it is charged only itself.
_PEAK_LAUNCHER = """\
import os, sys
out = int(sys.argv[1])
pid = os.fork()
if pid == 0:
    os.close(out)
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
os.write(out, b"%d %d" % (os.waitstatus_to_exitcode(status), usage.ru_maxrss))
"""


def run_for_peak(
    argv: list[str], env: dict[str, str], cwd: Path | None = None
) -> tuple[int, str, int]:
    """Run `argv` (argv[0] a path) with its output thrown away: its exit code, what it wrote
    on stderr, and its peak resident size in bytes, as the kernel counts it for that process."""
    read, write = os.pipe()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-S", "-c", _PEAK_LAUNCHER, str(write), *argv],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            pass_fds=(write,),
        )
    finally:
        os.close(write)
    _, err = proc.communicate()
    with os.fdopen(read, "rb") as said:
        code, kib = said.read().split()
    return int(code), err.decode(errors="replace"), int(kib) * 1024


def monitor_app(settings: Settings, ids: list[Target], db: Path, **kw: Any) -> Any:
    """The monitor on `ids` with its store at `db`, on a test clock, two workers a host."""
    from d7tui.clock import ManualClock
    from d7tui.pollstate import PollConfig
    from d7tui.ui.app import make_app

    kw.setdefault("clock", ManualClock())
    kw.setdefault("poll_config", PollConfig(workers=2))
    return make_app(settings, ids=ids, store_path=db, **kw)


async def monitor_views(settings: Settings, ids: list[Target], db: Path) -> list[str]:
    """The monitor on `ids`, as a user sees it once polled: the whole screen, then with each id
    selected in turn; then `e` exports next to `db` (the store). Returns the screens, and last
    the event strip's lines."""
    # Imported here: the tests of the engine alone need no Textual.
    from ui_kit import idle, said, screen_text, until

    from d7tui.ui.widgets.watchlist_table import WatchlistTable

    app = monitor_app(settings, ids, db, bell=False)
    async with app.run_test(size=(160, 45), notifications=True) as pilot:
        await idle(pilot, app)
        shown = [screen_text(app)]
        for target in ids:
            app.screen.query_one(WatchlistTable).select(target.request_id)
            await pilot.pause()
            shown.append(screen_text(app))
        await pilot.press("e")
        await until(pilot, lambda: any(t.startswith("Exported") for t in said(app)))
        shown.append(app.export_screenshot())
        shown.append("\n".join(said(app)))
    return shown


Behaviour = Callable[[bytes, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

MB = 1024 * 1024


class HostileServer:
    def __init__(self, behaviour: Behaviour, *, tls: ssl.SSLContext | None = None) -> None:
        self.behaviour = behaviour
        self.tls = tls  # an https server (with whatever certificate the context holds)
        self.requests = 0  # request heads read
        self.base_url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def __enter__(self) -> HostileServer:
        self._thread.start()
        started: Future[asyncio.Server] = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._accept, "127.0.0.1", 0, backlog=1024, ssl=self.tls),
            self._loop,
        )
        self._server = started.result(5)
        scheme = "https" if self.tls is not None else "http"
        self.base_url = f"{scheme}://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aenter__(self) -> HostileServer:
        return self.__enter__()

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.__exit__)

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:  # keep-alive, for as long as the behaviour answers completely
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                self.requests += 1
                await self.behaviour(head, reader, writer)
                if writer.is_closing():
                    return
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()


def head(status: int = 200, **headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status} X"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# -- behaviours --------------------------------------------------------------------------------


async def silent(_head: bytes, reader: asyncio.StreamReader, _w: asyncio.StreamWriter) -> None:
    """Read the request and never answer (the connection stays open)."""
    await reader.read()  # until the client gives up and closes


@functools.cache
def gzip_bomb_body(inflated_mb: int = 1024) -> bytes:
    """A valid gzip stream of `inflated_mb` MB of zeros, about a thousand times smaller.

    After a full flush deflate forgets its history, so every further megabyte of zeros
    compresses to the same bytes: the body is built by repetition, not by compressing 1 GB.
    """
    zeros = bytes(MB)
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: with a gzip header and trailer
    first = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    block = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    assert packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH) == block
    end = packer.flush()[:-8]  # the final empty block, without the trailer for 3 MB
    crc = 0
    for _ in range(inflated_mb):
        crc = zlib.crc32(zeros, crc)
    trailer = struct.pack("<II", crc, (inflated_mb * MB) & 0xFFFFFFFF)
    return first + block * (inflated_mb - 1) + end + trailer


async def unreadable_200(
    request_head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Takes the request (a send's POST), says 200, and answers with a body that is not JSON."""
    length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", request_head)
    await reader.readexactly(int(length.group(1)) if length else 0)
    garbage = b'{"request_id": "x", "messages": [ {"status": "sent",,,'
    writer.write(head(content_type="application/json", content_length=str(len(garbage))))
    writer.write(garbage)
    await writer.drain()


async def gzip_bomb(_head: bytes, _r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A 200 whose ~1 MB gzip body inflates to 1 GB of zeros."""
    body = gzip_bomb_body()
    writer.write(
        head(
            content_type="application/json", content_encoding="gzip", content_length=str(len(body))
        )
    )
    await _stream(writer, body)


async def endless_chunked(
    _head: bytes, _r: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """A chunked 200 that never ends."""
    writer.write(head(content_type="application/json", transfer_encoding="chunked"))
    chunk = b"%x\r\n%s\r\n" % (64 * 1024, b" " * 64 * 1024)
    while True:
        writer.write(chunk)
        await writer.drain()


async def huge_plain(_head: bytes, _r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A 200 that says 2 GB and sends it, as long as anyone reads."""
    writer.write(head(content_type="application/json", content_length=str(2048 * MB)))
    block = b" " * (256 * 1024)
    for _ in range(2048 * 4):
        writer.write(block)
        await writer.drain()


async def _stream(writer: asyncio.StreamWriter, body: bytes, step: int = 256 * 1024) -> None:
    view = memoryview(body)
    for start in range(0, len(body), step):
        writer.write(view[start : start + step])
        await writer.drain()


# A JSON body for a 200; None for a 404; or (status, body, headers).
Answered = bytes | None | tuple[int, bytes, dict[str, str]]
Answer = Callable[[str, str, str], Answered]


def answering(answer: Answer) -> Behaviour:
    """Each request answered with `answer(method, target, credential)`: a JSON body for a 200,
    None for a 404, or a (status, body, headers) of its own. `credential` is what the request's
    Authorization header carried after its scheme (`Bearer`, `App`): a server that echoes it
    back is one `answer` away."""

    async def behaviour(
        request_head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        first, *lines = request_head.decode("latin-1").split("\r\n")
        method, target, _ = first.split(" ", 2)
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines if line)
        }
        length = int(headers.get("content-length") or 0)
        if length:
            await reader.readexactly(length)
        answered = answer(method, target, headers.get("authorization", "").split(" ")[-1])
        if isinstance(answered, tuple):
            status, payload, extra = answered
        else:
            status = 404 if answered is None else 200
            payload = b'{"detail": "Not Found"}' if answered is None else answered
            extra = {}
        writer.write(
            head(
                status,
                content_type="application/json",
                content_length=str(len(payload)),
                **{name.replace("-", "_"): value for name, value in extra.items()},
            )
            + payload
        )
        await writer.drain()

    return behaviour


def self_signed() -> ssl.SSLContext:
    """A server's TLS context with a self-signed certificate (tests/fixtures), as a TLS-inspecting
    proxy or a test server shows one: no client trusts it."""
    fixtures = Path(__file__).parent / "fixtures"
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(fixtures / "self-signed-cert.pem", fixtures / "self-signed-key.pem")
    return context
