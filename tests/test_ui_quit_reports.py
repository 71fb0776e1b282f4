"""Quitting while a pull of Infobip's one-time reports is on the wire (finding K11).

Each report is handed out once, when the request is served: a page cut short by the quit is gone
for everyone. So `q` (and SIGTERM, SIGHUP, SIGINT, whose handlers call `request_quit`) waits for
the page, commits it, then quits; `q` again quits at once and says on the terminal what may be
lost. The server is a real loopback one that sends half the page, then the rest when told.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import threading
from pathlib import Path

import pytest
from hostile import HostileServer, aimed_at, cli_env, monitor_app
from shell import as_from_a_shell
from ui_kit import screen_text, until

from d7tui.channels.infobip import parse_page
from d7tui.models import IdKind, InfobipSource, Target
from d7tui.store import open_store

BULK = "BULKR"
REPORT = {
    "bulkId": BULK,
    "messageId": "rep-1",
    "to": "4915112345678",
    "status": {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET"},
}


class SlowReports:
    """Infobip whose reports page comes half at once, the rest once the test says so; every
    later page is empty (handed out once). Every other path is a 404."""

    def __init__(self) -> None:
        self.pages = 0  # reports pages asked for
        self.half_sent = threading.Event()
        self.release = threading.Event()

    async def behaviour(self, head: bytes, reader, writer) -> None:
        if b" /sms/3/reports" not in head.split(b"\r\n", 1)[0]:
            writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\n{}")
            await writer.drain()
            return
        self.pages += 1
        first = self.pages == 1
        body = json.dumps({"results": [REPORT] if first else []}).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(body)}\r\n\r\n".encode()
        )
        if first:
            writer.write(body[: len(body) // 2])
            await writer.drain()
            self.half_sent.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 30)
            body = body[len(body) // 2 :]
        writer.write(body)
        await writer.drain()


def kept_messages(db: Path) -> list[str]:
    with open_store(db, parse_report=parse_page) as store:
        return [r.recipient.msg_id or "" for r in store.reports_for(BULK)]


@pytest.mark.parametrize("quit_by", ["q", "SIGTERM"])
async def test_quitting_mid_report_page_waits_for_it_and_keeps_it(tmp_path, quit_by) -> None:
    slow = SlowReports()
    db = tmp_path / "d7tui.sqlite3"
    with HostileServer(slow.behaviour) as server:
        settings = aimed_at(server.base_url, infobip_source=InfobipSource.REPORTS)
        app = monitor_app(settings, [Target(BULK, "infobip", IdKind.BULK)], db, bell=False)
        async with app.run_test(size=(120, 30)) as pilot:
            await until(pilot, slow.half_sent.is_set)
            if quit_by == "q":
                await pilot.press("q")
            else:
                app.request_quit(143)  # what the SIGTERM handler calls
            await pilot.pause()
            assert app.is_running  # not gone with the page half received
            assert (
                "Infobip reports (handed out once) are in flight: waiting up to 11 s before "
                "quitting; q again quits now."
            ) in screen_text(app)
            slow.release.set()
            await until(pilot, lambda: not app.is_running)
    assert app.return_code == (0 if quit_by == "q" else 143)
    assert app.farewell == []
    assert slow.pages == 1  # no further page pulled on the way out: it waits for the next start
    assert kept_messages(db) == ["rep-1"]


async def test_q_twice_mid_report_page_quits_and_says_the_page_may_be_lost(tmp_path) -> None:
    slow = SlowReports()
    db = tmp_path / "d7tui.sqlite3"
    with HostileServer(slow.behaviour) as server:
        settings = aimed_at(server.base_url, infobip_source=InfobipSource.REPORTS)
        app = monitor_app(settings, [Target(BULK, "infobip", IdKind.BULK)], db, bell=False)
        try:
            async with app.run_test(size=(120, 30)) as pilot:
                await until(pilot, slow.half_sent.is_set)
                await pilot.press("q", "q")
                await until(pilot, lambda: not app.is_running)
        finally:
            slow.release.set()
    assert app.farewell == [
        "an Infobip report pull was in flight when the monitor quit: the reports of its page "
        "may be lost (Infobip hands each out once; its logs still show the last 48 hours: "
        "--infobip-source logs)"
    ]


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
async def test_d7tui_status_stopped_mid_report_page_keeps_it_first(tmp_path, sig, code) -> None:
    slow = SlowReports()
    with HostileServer(slow.behaviour) as server:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "d7tui", "status", "--channel", "infobip", BULK),
            env={**cli_env(server.base_url, tmp_path), "D7TUI_INFOBIP_SOURCE": "reports"},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=as_from_a_shell,
        )
        try:
            assert await asyncio.to_thread(slow.half_sent.wait, 30)
            proc.send_signal(sig)
            assert proc.stderr is not None
            lines = []
            while b"waiting up to" not in (line := await proc.stderr.readline()):
                assert line, lines  # ended without waiting: the page would be lost
                lines.append(line)
        finally:
            slow.release.set()
        await proc.communicate()
    assert proc.returncode == code
    assert slow.pages == 1
    assert kept_messages(tmp_path / "data" / "d7tui" / "d7tui.sqlite3") == ["rep-1"]
