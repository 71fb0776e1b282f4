"""The HTTP layer fuzzed: a hostile loopback server answers with random valid and invalid HTTP
(status lines, headers, content and transfer encodings, truncations, slow bytes, silence), and
the client, the engine with the channel parsers on top, must

- never raise past its edge: a RequestStatus, or one of our typed ChannelErrors;
- never hang past its deadline (`timeout`, all tries included);
- stay within its memory bound (`max_answer`, counted after decompression).

Derandomised and bounded for CI; `D7TUI_FUZZ_EXAMPLES=2000` runs a longer, random search.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import time
import tracemalloc
import zlib
from pathlib import Path

import pytest
from hostile import HostileServer, aimed_at
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from d7tui.channels.status import StatusClient
from d7tui.client import Engine, RetryPolicy
from d7tui.config import Settings
from d7tui.errors import ChannelError
from d7tui.models import IdKind, InfobipSource, RequestStatus, Target

FIXTURES = Path(__file__).parent / "fixtures"
SMS_OK = (FIXTURES / "d7_sms_status_000.json").read_bytes()
IB_PAGE = (FIXTURES / "infobip_reports_003.json").read_bytes()
RID = "9d056a09-0fc4-4f68-9058-3846d58aa244"
TIMEOUT = 0.6  # the deadline of one fetch, every try included
MAX_ANSWER = 256 * 1024
LONG_RUN = int(os.environ.get("D7TUI_FUZZ_EXAMPLES", "0"))
WRITE_STEP = 64 * 1024


# -- what the server says -----------------------------------------------------------------------


class Answer:
    """One scripted answer, replayed on every connection while the example runs."""

    __slots__ = ("pause", "pieces", "then")

    def __init__(self, pieces: tuple[bytes, ...], pause: float, then: str) -> None:
        self.pieces = pieces  # written in order ...
        self.pause = pause  # ... with this pause between them (slow bytes)
        self.then = then  # "close", "hang" (keep the connection, say no more), or "keep"

    def __repr__(self) -> str:  # what hypothesis prints for a failing example: not 20 MB
        head = b"".join(self.pieces)
        return (
            f"Answer({head[:300]!r}... {len(head):,} bytes in {len(self.pieces)} pieces, "
            f"pause={self.pause}, then={self.then!r})"
        )


STATUS_LINES = st.sampled_from(
    [
        b"HTTP/1.1 200 OK",
        b"HTTP/1.1 200",
        b"HTTP/1.0 200 OK",
        b"HTTP/1.1 404 Not Found",
        b"HTTP/1.1 429 Too Many Requests",
        b"HTTP/1.1 500 Internal Server Error",
        b"HTTP/1.1 503 Service Unavailable",
        b"HTTP/1.1 301 Moved",
        b"HTTP/1.1 204 No Content",
        b"HTTP/1.1 304 Not Modified",
        b"HTTP/1.1 100 Continue",
        b"HTTP/1.1 101 Switching Protocols",
        b"HTTP/1.1 999 Odd",
        b"HTTP/1.1 0 Zero",
        b"HTTP/1.1 -1 Minus",
        b"HTTP/2.0 200 OK",
        b"HTTP/1.1 2OO OK",
        b"HTTP/9.9 200 OK",
        b"ICY 200 OK",
        b"",
        b"\x00\xff\xfe garbage",
        b"HTTP/1.1 200 " + b"x" * 10_000,
        b"HTTP/1.1 200 \xc3\x28 bad utf-8",
    ]
)

HEADER = st.sampled_from(
    [
        b"Content-Type: application/json",
        b"Content-Type: text/html; charset=klingon",
        b"Content-Encoding: gzip",
        b"Content-Encoding: deflate",
        b"Content-Encoding: br",
        b"Content-Encoding: zstd",
        b"Content-Encoding: gzip, gzip",
        b"Content-Encoding: x-unknown",
        b"Transfer-Encoding: chunked",
        b"Transfer-Encoding: gzip, chunked",
        b"Transfer-Encoding: identity",
        b"Transfer-Encoding: bogus",
        b"Content-Length: 0",
        b"Content-Length: 5",
        b"Content-Length: 100000000",
        b"Content-Length: -1",
        b"Content-Length: abc",
        b"Content-Length: 5, 6",
        b"Connection: close",
        b"Connection: keep-alive",
        b"Connection: Upgrade",
        b"Upgrade: websocket",
        b"Retry-After: 0",
        b"Retry-After: 99999999999999999999",
        b"Retry-After: Wed, 21 Oct 2015 07:28:00 GMT",
        b"Retry-After: soon",
        b"Location: http://169.254.169.254/latest",
        b"Set-Cookie: a=b; Domain=.example.com",
        b"X-Long: " + b"v" * 9000,
        b"X-Bytes: \xff\xfe\x00",
        b" folded: continuation",
        b"no colon at all",
        b": empty name",
        b"X-\x01: control",
    ]
)


def gzip_of(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=1)


BOMB = gzip.compress(bytes(4 * 1024 * 1024), compresslevel=9)  # 4 MB of zeros, ~4 KB sent

BODIES = st.one_of(
    st.sampled_from(
        [
            b"",
            SMS_OK,
            IB_PAGE,
            gzip_of(SMS_OK),
            zlib.compress(SMS_OK),
            zlib.compress(SMS_OK)[2:-4],  # raw deflate
            gzip_of(SMS_OK)[:40],  # truncated gzip
            BOMB,
            b"\x1f\x8b\x08\x00garbage after a gzip magic",
            b"5\r\nhello\r\n0\r\n\r\n",  # a chunked body, valid
            b"ffffffffffffffff\r\nx\r\n",  # a chunk size past any memory
            b"5\r\nhel",  # a chunk cut short
            b"zz\r\nnot hex\r\n",
            b"{" * 10_000,
            b'{"messages": [' + b'{"msg_id": "a"},' * 20_000 + b"{}]}",  # past MAX_ANSWER
            b"\x00" * 1000,
            '{"a": "\u202e\u200b"}'.encode(),
        ]
    ),
    st.binary(max_size=2000),
)


HEADER_REPEAT = b"X-Many: 1"

PAYLOADS = st.sampled_from(
    [
        b"",
        SMS_OK,
        IB_PAGE,
        b'{"messages": [' + b'{"msg_id": "a"},' * 20_000 + b"{}]}",  # 320 KB: past MAX_ANSWER
        bytes(4 * 1024 * 1024),  # 4 MB of zeros: a bomb once compressed
        '{"a": "\u202e\u200b"}'.encode(),
        b"not json at all",
    ]
)
ENCODINGS = st.sampled_from(["identity", "gzip", "deflate", "raw-deflate", "gzip-twice", "lying"])


def encode(payload: bytes, encoding: str) -> tuple[bytes, bytes | None]:
    """The body on the wire and its Content-Encoding header (None: no header)."""
    if encoding == "gzip":
        return gzip.compress(payload, compresslevel=6), b"gzip"
    if encoding == "deflate":
        return zlib.compress(payload), b"deflate"
    if encoding == "raw-deflate":
        return zlib.compress(payload)[2:-4], b"deflate"
    if encoding == "gzip-twice":
        return gzip.compress(gzip.compress(payload)), b"gzip, gzip"
    if encoding == "lying":  # says gzip, is not
        return payload, b"gzip"
    return payload, None


def chunked(body: bytes, size: int) -> bytes:
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"


@st.composite
def well_formed(draw: st.DrawFn) -> bytes:
    """An answer any HTTP/1.1 parser takes, carrying what a hostile API could carry in it."""
    status = draw(st.sampled_from([200, 200, 200, 400, 401, 404, 429, 500, 503, 204, 302]))
    body, encoding = encode(draw(PAYLOADS), draw(ENCODINGS))
    headers = [b"HTTP/1.1 %d X" % status, b"Content-Type: application/json"]
    if encoding is not None:
        headers.append(b"Content-Encoding: " + encoding)
    headers += draw(st.lists(HEADER.filter(_harmless), max_size=3))
    framing = draw(st.sampled_from(["length", "chunked", "close", "short", "long"]))
    if framing == "chunked":
        headers.append(b"Transfer-Encoding: chunked")
        body = chunked(body, draw(st.sampled_from([1, 7, 4096, 1 << 20])))
    elif framing == "length":
        headers.append(b"Content-Length: %d" % len(body))
    elif framing == "short":  # says less than it sends
        headers.append(b"Content-Length: %d" % (len(body) // 2))
    elif framing == "long":  # says more than it sends
        headers.append(b"Content-Length: %d" % (len(body) + 100))
    return b"\r\n".join(headers) + b"\r\n\r\n" + body


def _harmless(header: bytes) -> bool:
    return not header.lower().startswith((b"content-", b"transfer-"))


@st.composite
def malformed(draw: st.DrawFn) -> bytes:
    """Anything: broken status lines, headers no parser should take, any body after them."""
    status = draw(STATUS_LINES)
    headers = draw(st.lists(HEADER, max_size=6))
    if draw(st.booleans()):
        headers += [HEADER_REPEAT] * draw(st.integers(min_value=100, max_value=300))
    terminator = draw(st.sampled_from([b"\r\n\r\n", b"\n\n", b"\r\n", b""]))
    message = status + b"\r\n" + b"\r\n".join(headers) + terminator + draw(BODIES)
    if draw(st.booleans()):
        message += b"\r\n" * draw(st.integers(0, 3)) + draw(st.binary(max_size=50))
    return message


@st.composite
def answers(draw: st.DrawFn) -> Answer:
    message = draw(st.one_of(well_formed(), malformed()))
    if draw(st.integers(0, 3)) == 0:  # now and then cut anywhere, the head included
        message = message[: draw(st.integers(min_value=0, max_value=len(message)))]
    parts = draw(st.integers(min_value=1, max_value=4))
    step = max(1, len(message) // parts)
    pieces = tuple(message[i : i + step] for i in range(0, len(message), step)) or (b"",)
    pause = draw(st.sampled_from([0.0, 0.0, 0.0, 0.02, 0.1]))  # slow bytes
    then = draw(st.sampled_from(["close", "close", "keep", "hang"]))
    return Answer(pieces, pause, then)


# -- the server and the client -----------------------------------------------------------------


class Scripted:
    """The behaviour of the hostile server: whatever answer the current example set."""

    def __init__(self) -> None:
        self.answer = Answer((b"",), 0.0, "close")

    async def __call__(
        self, _head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        answer = self.answer
        for piece in answer.pieces:
            view = memoryview(piece)
            for start in range(0, len(piece), WRITE_STEP):
                # In steps, each drained: a 20 MB write would be copied whole into the
                # transport's buffer, and counted as the client's memory (one process).
                writer.write(view[start : start + WRITE_STEP])
                await writer.drain()
            if answer.pause:
                await asyncio.sleep(answer.pause)
        if answer.then == "hang":
            await reader.read()  # until the client gives up
            writer.close()
        elif answer.then == "close":
            writer.close()


def fuzz_settings() -> settings:
    if LONG_RUN:
        return settings(
            max_examples=LONG_RUN, deadline=None, suppress_health_check=list(HealthCheck)
        )
    return settings(
        max_examples=60,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )


@pytest.mark.long
def test_the_client_survives_any_answer() -> None:
    behaviour = Scripted()
    with HostileServer(behaviour) as server:
        base = aimed_at(server.base_url, infobip_source=InfobipSource.LOGS, timeout=TIMEOUT)

        @fuzz_settings()
        @given(answer=answers(), infobip=st.booleans())
        def one(answer: Answer, infobip: bool) -> None:
            behaviour.answer = answer
            target = Target("BULK-1", "infobip", IdKind.BULK) if infobip else Target(RID, "sms")
            outcome, elapsed, peak = asyncio.run(fetch_once(base, target))
            assert isinstance(outcome, RequestStatus | ChannelError), repr(outcome)
            # Never past the deadline (a generous margin for a busy machine: the point is that
            # it ends, not how fast).
            assert elapsed < TIMEOUT + 5, elapsed
            assert peak < 8 * MAX_ANSWER + 2 * 1024 * 1024, peak

        one()


async def fetch_once(base: Settings, target: Target) -> tuple[object, float, int]:
    engine = Engine(
        timeout=TIMEOUT,
        max_answer=MAX_ANSWER,
        policy=RetryPolicy(attempts=3, base=0.01, cap=0.02),
    )
    client = StatusClient(base, engine)
    tracemalloc.start()
    start = time.monotonic()
    try:
        # The guard is far past the deadline: hitting it is the hang this test is about.
        outcome: object = await asyncio.wait_for(client.fetch(target), TIMEOUT * 20)
    except ChannelError as exc:
        outcome = exc
    except Exception as exc:  # anything else got past the edge: the failure to report
        outcome = exc
    finally:
        elapsed = time.monotonic() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        await client.aclose()
    return outcome, elapsed, peak
