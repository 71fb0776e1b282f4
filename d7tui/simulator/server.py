"""A small HTTP/1.1 server on raw asyncio for the simulator: loopback only, keep-alive, pipelining.

Two traps measured here shape it: a response written in two writes without TCP_NODELAY costs
~40 ms per keep-alive request (Nagle meets delayed ACK), so every response is ONE write on a
no-delay socket; and a listen backlog of 5 drops SYNs when 16 clients connect at once, so the
backlog is large.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qs, unquote, urlsplit

MAX_HEADER = 64 * 1024
MAX_BODY = 8 * 1024 * 1024


@dataclass(slots=True)
class Request:
    method: str
    path: str  # percent-decoded
    raw_path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass(slots=True)
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


# A handler returns None to never answer (a simulated hang: the connection stays open).
Handler = Callable[[Request], Awaitable[Reply | None]]


def encode(reply: Reply, keep_alive: bool) -> bytes:
    try:
        reason = HTTPStatus(reply.status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [
        f"HTTP/1.1 {reply.status} {reason}",
        f"content-type: {reply.content_type}",
        f"content-length: {len(reply.body)}",
        "server: d7tui-simulator",
        f"connection: {'keep-alive' if keep_alive else 'close'}",
    ]
    lines.extend(f"{k}: {v}" for k, v in reply.headers.items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + reply.body


class _Connection(asyncio.Protocol):
    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.buffer = bytearray()
        self.queue: asyncio.Queue[Request | None] = asyncio.Queue()
        self.transport: asyncio.Transport | None = None
        self.worker: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.connections += 1
        self.server.open.add(self)
        self.worker = asyncio.ensure_future(self._serve())

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.open.discard(self)
        if self.worker is not None:
            self.worker.cancel()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEADER:
                    self._fail(431)
                return
            head = bytes(self.buffer[:end]).decode("latin-1")
            lines = head.split("\r\n")
            try:
                method, target, _version = lines[0].split(" ", 2)
            except ValueError:
                self._fail(400)
                return
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            try:
                length = int(headers.get("content-length", "0") or 0)
            except ValueError:
                self._fail(400)
                return
            if length > MAX_BODY:
                self._fail(413)
                return
            if len(self.buffer) < end + 4 + length:
                return  # the body has not all arrived yet
            body = bytes(self.buffer[end + 4 : end + 4 + length])
            del self.buffer[: end + 4 + length]
            parts = urlsplit(target)
            self.queue.put_nowait(
                Request(
                    method=method.upper(),
                    path=unquote(parts.path),
                    raw_path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers=headers,
                    body=body,
                )
            )

    def _fail(self, status: int) -> None:
        if self.transport is not None:
            self.transport.write(encode(Reply(status, b'{"detail":"Bad Request"}'), False))
            self.transport.close()

    async def _serve(self) -> None:
        # One request at a time per connection, so pipelined answers keep their order.
        while True:
            request = await self.queue.get()
            if request is None or self.transport is None or self.transport.is_closing():
                return
            self.server.requests += 1
            try:
                reply = await self.server.handler(request)
            except Exception as exc:  # a simulator bug must look like a 500, not kill the loop
                reply = Reply(500, f'{{"detail":"simulator error: {type(exc).__name__}"}}'.encode())
            if reply is None:
                await asyncio.Event().wait()  # hang until the client gives up
                return
            keep_alive = request.headers.get("connection", "").lower() != "close"
            self.transport.write(encode(reply, keep_alive))
            if not keep_alive:
                self.transport.close()
                return


class HttpServer:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0  # accepted in all
        self.requests = 0
        self.open: set[_Connection] = set()
        self._server: asyncio.base_events.Server | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        if not ipaddress.ip_address(socket.gethostbyname(host)).is_loopback:
            raise ValueError(f"the simulator serves on loopback only, not {host}")
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), host, port, backlog=1024, reuse_address=True
        )
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for conn in list(self.open):
                if conn.transport is not None:
                    conn.transport.abort()
            await self._server.wait_closed()
            self._server = None
