"""A tiny real HTTP/1.1 server on loopback for the error corners the simulator cannot produce on
demand: a scripted list of replies per path, a record of every request and every connection.

It runs on the test's own event loop (`async with HttpStub() as stub:`), speaks keep-alive, sets
TCP_NODELAY and writes each response in one write (see STYLE.md, "HTTP on loopback").
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass
class Reply:
    """One scripted answer. `body` may be bytes, str, or a JSON-able value."""

    status: int = 200
    body: object = b""
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # read the request, never answer (until the stub stops)
    close: bool = False  # read the request, close the connection without an answer
    gate: asyncio.Event | None = None  # answer only once this is set
    hold: float = 0.0  # server-side processing time before answering

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    method: str
    target: str  # the raw request target, exactly as sent (path and query)
    path: str  # percent-decoded path
    query: dict[str, list[str]]  # decoded query parameters
    headers: dict[str, str]  # lower-cased names
    at: float  # time.time() when the request was read
    connection: int  # which accepted connection carried it (1-based)
    body: bytes = b""


class HttpStub:
    def __init__(self) -> None:
        self._scripts: dict[str, list[Reply]] = {}
        self.default = Reply(404, {"detail": "Not Found"})
        self.requests: list[Seen] = []
        self.connections = 0  # TCP connections accepted
        self.in_flight = 0  # requests read and not yet answered
        self.max_in_flight = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []
        self.base_url = ""

    # -- scripting -----------------------------------------------------------------------------

    def script(self, path: str, *replies: Reply) -> None:
        """Answer requests for `path` with `replies` in order; the last one then repeats."""
        self._scripts[path] = list(replies)

    def _next_reply(self, path: str) -> Reply:
        queue = self._scripts.get(path)
        if not queue:
            return self.default
        return queue.pop(0) if len(queue) > 1 else queue[0]

    # -- what was seen -------------------------------------------------------------------------

    def count(self, path: str | None = None) -> int:
        return sum(1 for r in self.requests if path is None or r.path == path)

    async def wait_for(self, condition: Callable[[HttpStub], bool]) -> None:
        """Return once `condition(stub)` holds (checked after each request is read)."""
        if condition(self):
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((lambda: condition(self), future))
        await future

    async def wait_requests(self, n: int, path: str | None = None) -> None:
        await self.wait_for(lambda stub: stub.count(path) >= n)

    def _wake(self) -> None:
        for waiter in list(self._waiters):
            check, future = waiter
            if not future.done() and check():
                future.set_result(None)
                self._waiters.remove(waiter)

    # -- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> HttpStub:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, backlog=1024)
        port = self._server.sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stopping.set()
        assert self._server is not None
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    # -- serving -------------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections += 1
        number = self.connections
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while await self._serve_one(reader, writer, number):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _serve_one(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int
    ) -> bool:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False  # the client closed an idle keep-alive connection
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        body = b""
        if int(headers.get("content-length", "0")):
            body = await reader.readexactly(int(headers["content-length"]))
        parts = urlsplit(target)
        seen = Seen(
            method=method,
            target=target,
            path=unquote(parts.path),
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=headers,
            at=time.time(),
            connection=number,
            body=body,
        )
        self.requests.append(seen)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        reply = self._next_reply(seen.path)
        self._wake()
        try:
            if reply.hang:
                await self._stopping.wait()
                return False
            if reply.close:
                return False
            if reply.gate is not None:
                await reply.gate.wait()
            if reply.hold:
                await asyncio.sleep(reply.hold)
        finally:
            self.in_flight -= 1
        payload = reply.payload()
        out_headers = {"Content-Type": "application/json", **reply.headers}
        out_headers["Content-Length"] = str(len(payload))
        status_line = f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}\r\n"
        head_out = status_line + "".join(f"{k}: {v}\r\n" for k, v in out_headers.items())
        writer.write(head_out.encode("latin-1") + b"\r\n" + payload)  # one write: no Nagle stall
        await writer.drain()
        return True


def refused_url() -> str:
    """A loopback URL on which nothing listens (the port was bound, then freed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
