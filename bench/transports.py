"""CPU a request of the candidate HTTP clients, 16 in flight against the simulator.

    .venv/bin/python bench/transports.py [--requests 3000]

Starts `d7tui simulate` in its own process and times, in this process, the same GETs through
httpx, httpx on an aiohttp-backed transport, and aiohttp itself. The engine's choice of client
(d7tui/client.py) rests on this.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fanout import TOKEN, create_ids, start_simulator

HEADERS = {"Authorization": f"Bearer {TOKEN}"}


class AiohttpTransport(httpx.AsyncBaseTransport):
    def __init__(self, limit: int) -> None:
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        headers = [(k.decode(), v.decode()) for k, v in request.headers.raw if k.lower() != b"host"]
        async with self.session.request(
            request.method, str(request.url), headers=headers, allow_redirects=False
        ) as r:
            body = await r.read()
        return httpx.Response(r.status, headers=list(r.raw_headers), content=body)

    async def aclose(self) -> None:
        await self.session.close()


async def run(n: int, url: str, get: Callable[[str], Awaitable[int]]) -> tuple[float, float]:
    sem = asyncio.Semaphore(16)

    async def one() -> int:
        async with sem:
            return await get(url)

    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    codes = await asyncio.gather(*(one() for _ in range(n)))
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    assert set(codes) == {200}, set(codes)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return n / wall, cpu * 1000 / n


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    sim, base = start_simulator(0)
    try:
        rid = (await create_ids(base, 1))[0]
        url = f"{base}/report/v1/message-log/{rid}"
        rows = []
        async with httpx.AsyncClient(headers=HEADERS, limits=httpx.Limits(max_connections=16)) as c:
            rows.append(("httpx", await run(args.requests, url, lambda u: _httpx(c, u))))
        async with httpx.AsyncClient(headers=HEADERS, transport=AiohttpTransport(16)) as c:
            rows.append(("httpx on aiohttp", await run(args.requests, url, lambda u: _httpx(c, u))))
        connector = aiohttp.TCPConnector(limit=16)
        async with aiohttp.ClientSession(headers=HEADERS, connector=connector) as s:
            rows.append(("aiohttp", await run(args.requests, url, lambda u: _aiohttp(s, u))))
    finally:
        sim.terminate()
        sim.wait(10)
    print("| client | requests/s | CPU ms a request |")
    print("| --- | ---: | ---: |")
    for name, (rate, cpu) in rows:
        print(f"| {name} | {rate:,.0f} | {cpu:.2f} |")
    return 0


async def _httpx(client: httpx.AsyncClient, url: str) -> int:
    return (await client.get(url)).status_code


async def _aiohttp(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(url) as r:
        await r.read()
        return r.status


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
