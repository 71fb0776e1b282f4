"""The simulator's HTTP/1.1 server: loopback only, keep-alive, pipelining, partial reads,
`Connection: close`, chunked bodies, `Expect: 100-continue`, latency that never blocks other
connections, and enough throughput that benchmarks measure the client, not the stand-in."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from d7tui.simulator import Faults, Simulator

AUTH = b"Authorization: Bearer sim-token\r\n"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    s = Simulator(seed=3, speed=0)
    s.start()
    yield s
    s.stop()


def address(sim: Simulator) -> tuple[str, int]:
    host, port = sim.base_url.removeprefix("http://").rsplit(":", 1)
    return host.strip("[]"), int(port)


def responses(data: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Split raw bytes into (status, headers, body) by Content-Length."""
    out = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", 0))
        out.append((int(lines[0].split()[1]), headers, rest[:length]))
        data = rest[length:]
    return out


def exchange(sim: Simulator, *pieces: bytes, pause: float = 0.0) -> bytes:
    """Send the pieces (pausing between them), then read until the server closes."""
    with socket.create_connection(address(sim), timeout=5) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for piece in pieces:
            s.sendall(piece)
            time.sleep(pause)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def get_line(path: str, extra: bytes = b"") -> bytes:
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: sim\r\n" + AUTH + extra + b"\r\n"


def test_keep_alive_reuses_one_connection_with_no_delay(sim):
    rid = sim.create_request("sms", ["+1"])
    with httpx.Client(base_url=sim.base_url, headers={"Authorization": "Bearer sim-token"}) as c:
        replies = [c.get(f"/report/v1/message-log/{rid}") for _ in range(50)]
        assert {r.status_code for r in replies} == {200}
        assert replies[0].headers["connection"] == "keep-alive" and "date" in replies[0].headers
        (conn,) = sim.server.open
        sock = conn.transport.get_extra_info("socket")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    assert sim.connections == 1 and sim.request_count == 50 and sim.counts["sms"] == 50


def test_pipelined_requests_are_answered_in_order(sim):
    ids = [sim.create_request(ch, ["+1"]) for ch in ("sms", "viber", "sms")]
    wire = (
        get_line(f"/report/v1/message-log/{ids[0]}")
        + get_line(f"/report/v1/message-log/{ids[1]}")  # a viber id: 404 on the SMS route
        + b"\r\n"  # a stray CRLF between requests is allowed
        + get_line(f"/report/v1/message-log/{ids[2]}", b"Connection: close\r\n")
    )
    got = responses(exchange(sim, wire))
    assert [status for status, _, _ in got] == [200, 404, 200]
    assert ids[0].encode() in got[0][2] and ids[2].encode() in got[2][2]
    assert got[2][1]["connection"] == "close"


def test_partial_reads_and_a_body_split_across_packets(sim):
    body = b'{"messages": [{"recipients": ["+971501234567"], "content": "hi"}]}'
    head = (
        b"POST /messages/v1/send HTTP/1.1\r\nHost: sim\r\n"
        + AUTH
        + b"Content-Type: application/json\r\nConnection: close\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
    )
    wire = head + body
    pieces = [wire[i : i + 7] for i in range(0, len(wire), 7)]
    ((status, _, reply),) = responses(exchange(sim, *pieces, pause=0.001))
    assert status == 200 and b'"status": "accepted"' in reply


def test_chunked_bodies_and_expect_100_continue(sim):
    body = b'{"messages": [{"recipients": ["+971501234567"], "content": "hi"}]}'
    chunked = b"".join(
        f"{len(body[i : i + 10]):x}\r\n".encode() + body[i : i + 10] + b"\r\n"
        for i in range(0, len(body), 10)
    )
    head = b"POST /messages/v1/send HTTP/1.1\r\nHost: sim\r\n" + AUTH + b"Connection: close\r\n"
    wire = head + b"Transfer-Encoding: chunked\r\n\r\n" + chunked + b"0\r\n\r\n"
    ((status, _, _),) = responses(exchange(sim, wire))
    assert status == 200
    with socket.create_connection(address(sim), timeout=5) as s:
        s.sendall(head + f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n".encode())
        assert s.recv(1024) == b"HTTP/1.1 100 Continue\r\n\r\n"  # curl waits for this
        s.sendall(body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert responses(data)[0][0] == 200


def test_connection_close_and_http_1_0_are_honoured(sim):
    rid = sim.create_request("sms", ["+1"])
    path = f"/report/v1/message-log/{rid}"
    # HTTP/1.0 without keep-alive: one answer, then the server closes (exchange returns).
    ((status, headers, _),) = responses(exchange(sim, get_line(path).replace(b"1.1", b"1.0", 1)))
    assert status == 200 and headers["connection"] == "close"
    # HTTP/1.0 asking for keep-alive: the connection stays for a second request.
    first = get_line(path, b"Connection: keep-alive\r\n").replace(b"1.1", b"1.0", 1)
    second = get_line(path, b"Connection: close\r\n")
    got = responses(exchange(sim, first, second, pause=0.05))
    assert [(s, h["connection"]) for s, h, _ in got] == [(200, "keep-alive"), (200, "close")]


def test_garbage_gets_400_and_the_connection_closes(sim):
    ((status, headers, _),) = responses(exchange(sim, b"NONSENSE\r\n\r\n"))
    assert status == 400 and headers["connection"] == "close"
    ((status, _, _),) = responses(exchange(sim, b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"))
    assert status == 400
    # A good request pipelined before the bad one is still answered, and first.
    rid = sim.create_request("sms", ["+1"])
    got = responses(exchange(sim, get_line(f"/report/v1/message-log/{rid}") + b"BAD\r\n\r\n"))
    assert [status for status, _, _ in got] == [200, 400]


@pytest.mark.parametrize("host", ["0.0.0.0", "8.8.8.8", "", "no-such-host.invalid"])
def test_refuses_to_serve_beyond_loopback(host):
    with pytest.raises(ValueError, match="loopback"):
        Simulator().start(host=host)


def test_serves_on_a_loopback_name():
    s = Simulator()
    url = s.start(host="localhost")
    try:
        assert url.startswith(("http://127.", "http://[::1]"))
        assert httpx.get(url + "/no/such/route").status_code == 404
        with pytest.raises(RuntimeError):
            s.start()
    finally:
        s.stop()
        s.stop()  # twice is fine


def test_latency_is_a_sleep_that_never_blocks_other_connections():
    s = Simulator(latency_ms=300, speed=0)
    s.start()
    try:
        rid = s.create_request("sms", ["+1"])

        async def ten_at_once() -> list[int]:
            async with httpx.AsyncClient(base_url=s.base_url) as client:
                path = f"/report/v1/message-log/{rid}"
                headers = {"Authorization": "Bearer sim-token"}
                replies = await asyncio.gather(
                    *(client.get(path, headers=headers) for _ in range(10))
                )
            return [r.status_code for r in replies]

        started = time.monotonic()
        assert asyncio.run(ten_at_once()) == [200] * 10
        assert time.monotonic() - started < 2.0  # 10 x 300 ms one after another would be 3 s
    finally:
        s.stop()


def test_two_thousand_requests_at_sixteen_keep_alive_connections_all_complete(sim):
    rid = sim.create_request("sms", ["+971501234567", "+971507654321"])
    request = get_line(f"/report/v1/message-log/{rid}")
    host, port = address(sim)

    async def one_connection(count: int) -> list[int]:
        reader, writer = await asyncio.open_connection(host, port)
        codes = []
        for _ in range(count):
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            codes.append(int(head.split()[1]))
        writer.close()
        await writer.wait_closed()
        return codes

    async def all_of_them() -> list[int]:
        results = await asyncio.gather(*(one_connection(125) for _ in range(16)))
        return [code for codes in results for code in codes]

    codes = asyncio.run(all_of_them())
    assert len(codes) == 2000 and set(codes) == {200}
    assert sim.connections == 16 and sim.request_count == 2000


def test_control_from_other_threads_while_serving(sim):
    rid = sim.create_request("sms", ["+1"])
    errors: list[BaseException] = []

    def meddle() -> None:
        try:
            for i in range(200):
                sim.create_request("whatsapp", [f"+{i}"])
                sim.create_infobip_bulk([f"4179{i}"])
                sim.advance(1)
                if i % 50 == 0:
                    sim.set_faults(Faults())
                assert sim.changes
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=meddle) for _ in range(2)]
    for t in threads:
        t.start()
    with httpx.Client(base_url=sim.base_url, headers={"Authorization": "Bearer sim-token"}) as c:
        codes = {c.get(f"/report/v1/message-log/{rid}").status_code for _ in range(100)}
        ib = c.get(
            "/sms/1/logs",
            headers={"Authorization": "App sim-infobip-key"},
            params={"limit": "1000"},
        )
    for t in threads:
        t.join()
    assert not errors and codes == {200} and ib.status_code == 200
    changes = sim.changes
    firsts = [c for c in changes if c.old is None]  # exactly one first status per message
    assert len(firsts) == len({c.msg_id for c in changes}) == len({c.msg_id for c in firsts})
