"""psycopg 3 against asyncpg on the store's kind of work, on a throwaway local PostgreSQL
(tests/pgserver.py): one-row round trips, a 10,000-row batch write, a 10,000-row read.

    .venv/bin/pip install asyncpg   # not a dependency: only this comparison needs it
    .venv/bin/python bench/pg_driver.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import asyncpg
import psycopg
from pgserver import PgServer

ROWS = 10_000
TRIPS = 2_000
DDL = "CREATE TABLE t (id bigint PRIMARY KEY, request_id text, status text, at double precision)"
ROW = [(i, f"req-{i:08d}", "DELIVERED", 1.7e9 + i) for i in range(ROWS)]


def with_psycopg(url: str) -> dict[str, float]:
    out: dict[str, float] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(DDL)
        t = time.perf_counter()
        for i in range(TRIPS):
            conn.execute("SELECT %s::bigint", (i,)).fetchone()
        out["round trip, µs"] = (time.perf_counter() - t) / TRIPS * 1e6
        t = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany("INSERT INTO t VALUES (%s, %s, %s, %s)", ROW)
        out["10,000-row write, ms"] = (time.perf_counter() - t) * 1e3
        t = time.perf_counter()
        rows = conn.execute("SELECT * FROM t ORDER BY id").fetchall()
        assert len(rows) == ROWS
        out["10,000-row read, ms"] = (time.perf_counter() - t) * 1e3
    return out


async def _asyncpg(url: str) -> dict[str, float]:
    out: dict[str, float] = {}
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(DDL)
        t = time.perf_counter()
        for i in range(TRIPS):
            await conn.fetchval("SELECT $1::bigint", i)
        out["round trip, µs"] = (time.perf_counter() - t) / TRIPS * 1e6
        t = time.perf_counter()
        async with conn.transaction():
            await conn.executemany("INSERT INTO t VALUES ($1, $2, $3, $4)", ROW)
        out["10,000-row write, ms"] = (time.perf_counter() - t) * 1e3
        t = time.perf_counter()
        rows = await conn.fetch("SELECT * FROM t ORDER BY id")
        assert len(rows) == ROWS
        out["10,000-row read, ms"] = (time.perf_counter() - t) * 1e3
    finally:
        await conn.close()
    return out


def main() -> None:
    server = PgServer.start()
    try:
        runs: dict[str, list[dict[str, float]]] = {"psycopg": [], "asyncpg": []}
        for _ in range(3):
            runs["psycopg"].append(with_psycopg(server.create_database()))
            runs["asyncpg"].append(asyncio.run(_asyncpg(server.create_database())))
        print(
            f"| measure (median of 3) | psycopg {psycopg.__version__} | asyncpg {asyncpg.__version__} |"
        )
        print("| --- | --- | --- |")
        for key in runs["psycopg"][0]:
            a = statistics.median(r[key] for r in runs["psycopg"])
            b = statistics.median(r[key] for r in runs["asyncpg"])
            print(f"| {key} | {a:.1f} | {b:.1f} |")
    finally:
        server.close()


if __name__ == "__main__":
    main()
