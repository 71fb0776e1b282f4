"""A small HTTP/1.1 server on raw asyncio for the simulator: loopback only, keep-alive,
pipelining, Content-Length and chunked request bodies, `Expect: 100-continue`.

Two traps measured here shape it (STYLE.md, "HTTP on loopback"): a response written in two writes
without TCP_NODELAY costs ~40 ms per keep-alive request (Nagle meets delayed ACK), so every
response is ONE write on a no-delay socket; and a listen backlog of 5 drops SYNs when 16 clients
connect at once, so the backlog is 1024.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qs, unquote, urlsplit

MAX_HEADER = 64 * 1024
MAX_BODY = 8 * 1024 * 1024
BACKLOG = 1024
MAX_QUEUED = 64  # pipelined requests held per connection before we stop reading from it


@dataclass(slots=True)
class Request:
    method: str
    path: str  # percent-decoded
    raw_path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names; a repeated header keeps its first value
    body: bytes
    version: str = "HTTP/1.1"


@dataclass(slots=True)
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


# A handler returns None to never answer (a simulated hang: the connection stays open).
Handler = Callable[[Request], Awaitable[Reply | None]]


class _DateCache:
    """The Date header, formatted once a second rather than once a response."""

    second = -1
    value = ""

    @classmethod
    def get(cls) -> str:
        now = int(time.time())
        if now != cls.second:
            cls.second, cls.value = now, email.utils.formatdate(now, usegmt=True)
        return cls.value


def encode(reply: Reply, keep_alive: bool) -> bytes:
    """Status line, headers and body as one bytes object: one write, one TCP segment."""
    try:
        reason = HTTPStatus(reply.status).phrase
    except ValueError:
        reason = "Unknown"
    head = (
        f"HTTP/1.1 {reply.status} {reason}\r\n"
        f"date: {_DateCache.get()}\r\n"
        "server: d7tui-simulator\r\n"
        f"content-type: {reply.content_type}\r\n"
        f"content-length: {len(reply.body)}\r\n"
        f"connection: {'keep-alive' if keep_alive else 'close'}\r\n"
    )
    extra = "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items())
    return (head + extra + "\r\n").encode("latin-1") + reply.body


def _wants_keep_alive(version: str, connection: str) -> bool:
    tokens = {t.strip().lower() for t in connection.split(",")}
    if version == "HTTP/1.0":
        return "keep-alive" in tokens
    return "close" not in tokens


def _chunked(buffer: bytearray, start: int) -> tuple[bytes, int] | None:
    """Decode a chunked body starting at `start`: (body, end) once complete, else None.
    Raises ValueError on a malformed chunk size."""
    body = bytearray()
    at = start
    while True:
        line_end = buffer.find(b"\r\n", at)
        if line_end < 0:
            return None
        size = int(bytes(buffer[at:line_end]).split(b";", 1)[0].strip() or b"x", 16)
        if size < 0 or len(body) + size > MAX_BODY:
            raise ValueError("chunk too large")
        if size == 0:
            # Skip trailers up to the empty line.
            end = buffer.find(b"\r\n\r\n", line_end)
            if buffer[line_end : line_end + 4] == b"\r\n\r\n":
                end = line_end
            return (bytes(body), end + 4) if end >= 0 else None
        chunk_start = line_end + 2
        if len(buffer) < chunk_start + size + 2:
            return None
        body += buffer[chunk_start : chunk_start + size]
        at = chunk_start + size + 2


class _Connection(asyncio.Protocol):
    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.buffer = bytearray()
        # Requests to answer in order; a Reply is a parse failure, written last and then closed.
        self.queue: asyncio.Queue[Request | Reply] = asyncio.Queue()
        self.transport: asyncio.Transport | None = None
        self.worker: asyncio.Task[None] | None = None
        self.continued = False  # 100 Continue already sent for the request being read
        self.paused = False
        self.failed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.connections += 1
        self.server.open.add(self)
        self.worker = asyncio.ensure_future(self._serve())

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.open.discard(self)
        if self.worker is not None:
            self.worker.cancel()

    def data_received(self, data: bytes) -> None:
        if self.failed:
            return
        self.buffer += data
        try:
            while self._take_one():
                pass
        except ValueError:
            self._fail(400, "Bad Request")
        if self.queue.qsize() >= MAX_QUEUED and self.transport is not None and not self.paused:
            self.paused = True  # a client pipelining faster than we answer: let TCP push back
            self.transport.pause_reading()

    def _take_one(self) -> bool:
        """Parse one complete request off the buffer; False when more bytes are needed."""
        end = self.buffer.find(b"\r\n\r\n")
        if end > MAX_HEADER or (end < 0 and len(self.buffer) > MAX_HEADER):
            self._fail(431, "Request Header Fields Too Large")
            return False
        if end < 0:
            return False
        if self.buffer.startswith(b"\r\n"):  # stray CRLF between requests (RFC 9112 2.2)
            del self.buffer[:2]
            return True
        lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")  # ValueError: not a request line
        if not version.startswith("HTTP/1."):
            raise ValueError(version)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon:
                raise ValueError(line)
            headers.setdefault(name.strip().lower(), value.strip())
        body_start = end + 4
        if "chunked" in headers.get("transfer-encoding", "").lower():
            decoded = _chunked(self.buffer, body_start)
            if decoded is None:
                self._maybe_continue(headers)
                return False
            body, consumed = decoded
        else:
            length = int(headers.get("content-length", "0") or 0)
            if length < 0:
                raise ValueError(length)
            if length > MAX_BODY:
                self._fail(413, "Payload Too Large")
                return False
            if len(self.buffer) < body_start + length:
                self._maybe_continue(headers)
                return False  # the body has not all arrived yet
            body = bytes(self.buffer[body_start : body_start + length])
            consumed = body_start + length
        del self.buffer[:consumed]
        self.continued = False
        parts = urlsplit(target)
        self.queue.put_nowait(
            Request(
                method=method.upper(),
                path=unquote(parts.path),
                raw_path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers=headers,
                body=body,
                version=version,
            )
        )
        return True

    def _maybe_continue(self, headers: dict[str, str]) -> None:
        # curl sends `Expect: 100-continue` for bodies over 1 KB and waits a second without it.
        if not self.continued and headers.get("expect", "").lower() == "100-continue":
            self.continued = True
            if self.transport is not None:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _fail(self, status: int, text: str) -> None:
        # Queued, not written now: requests pipelined before the bad one are answered first.
        self.failed = True
        self.buffer.clear()
        self.queue.put_nowait(Reply(status, f'{{"detail":"{text}"}}'.encode()))

    async def _serve(self) -> None:
        # One request at a time per connection, so pipelined answers keep their order.
        while True:
            request = await self.queue.get()
            if self.paused and self.queue.qsize() < MAX_QUEUED // 2 and self.transport:
                self.paused = False
                self.transport.resume_reading()
            if self.transport is None or self.transport.is_closing():
                return
            if isinstance(request, Reply):
                self.transport.write(encode(request, False))
                self.transport.close()
                return
            self.server.requests += 1
            try:
                reply = await self.server.handler(request)
            except Exception as exc:  # a simulator bug must look like a 500, not kill the loop
                reply = Reply(500, f'{{"detail":"simulator error: {type(exc).__name__}"}}'.encode())
            if reply is None:
                await asyncio.Event().wait()  # hang until the client gives up (or stop())
                return
            keep_alive = _wants_keep_alive(request.version, request.headers.get("connection", ""))
            if self.transport.is_closing():
                return
            self.transport.write(encode(reply, keep_alive))
            if not keep_alive:
                self.transport.close()
                return


def loopback_address(host: str) -> str:
    """The loopback address `host` names; ValueError for anything that is not loopback."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM) if host else []
    except socket.gaierror:
        infos = []
    addresses = [str(info[4][0]).split("%", 1)[0] for info in infos]
    if not addresses or not all(ipaddress.ip_address(a).is_loopback for a in addresses):
        raise ValueError(f"the simulator serves on loopback only, not {host!r}")
    return addresses[0]


class HttpServer:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0  # accepted in all
        self.requests = 0
        self.open: set[_Connection] = set()
        self._server: asyncio.Server | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Listen on one loopback address (a name like `localhost` is resolved first, so port 0
        gives one port, not one per address family). Returns (address, port)."""
        address = loopback_address(host)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), address, port, backlog=BACKLOG, reuse_address=True
        )
        return address, self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for conn in list(self.open):
                if conn.transport is not None:
                    conn.transport.abort()
            await self._server.wait_closed()
            self._server = None
            await asyncio.sleep(0)  # let connection_lost run, which cancels the workers
