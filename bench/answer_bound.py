"""Peak memory of `d7tui status` fed hostile answers, measured by the kernel.

    .venv/bin/python bench/answer_bound.py [--out FILE]

For each answer (an ordinary one, a 1 MB gzip bomb of 1 GB, an endless chunked body, a 2 GB plain
body), the hostile loopback server of tests/hostile.py serves it and one `d7tui status` process
asks for one id; its peak resident size comes from wait4() of a small launcher's child
(tests/hostile.run_for_peak: from this process, it would be charged this one's size), its wall
time from outside.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
from fanout import publish  # noqa: E402
from hostile import (  # noqa: E402
    HostileServer,
    endless_chunked,
    gzip_bomb,
    head,
    huge_plain,
    run_for_peak,
)

SMS_OK = (ROOT / "tests" / "fixtures" / "d7_sms_status_000.json").read_bytes()


async def ordinary(_head: bytes, _r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(head(content_type="application/json", content_length=str(len(SMS_OK))) + SMS_OK)
    await writer.drain()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    lines = [
        "| answer | exit | peak RSS MB | wall s | stderr |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    with tempfile.TemporaryDirectory() as home:
        for behaviour in (ordinary, gzip_bomb, endless_chunked, huge_plain):
            with HostileServer(behaviour) as server:
                env = {
                    **os.environ,
                    "D7_API_TOKEN": "tok",
                    "D7_BASE_URL": server.base_url,
                    "XDG_CONFIG_HOME": f"{home}/config",
                    "XDG_DATA_HOME": f"{home}/data",
                }
                start = time.perf_counter()
                argv = [sys.executable, "-m", "d7tui", "status", "--channel", "sms"]
                code, err, peak = run_for_peak([*argv, str(uuid.uuid4())], env, cwd=ROOT)
                wall = time.perf_counter() - start
                err = err.strip().split(": ", 1)[-1]
            lines.append(
                f"| {behaviour.__name__} | {code} | {peak / 2**20:.0f} | {wall:.2f} | {err[:70]} |"
            )
    publish("\n".join(lines), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
