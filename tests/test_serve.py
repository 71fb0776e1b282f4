"""`d7tui serve` (issue 15): the monitor in a real headless Chromium, each tab a follower of the
desk. The page loads, the rows render, a key press changes the screen."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from browser import chromium
from desk_peer import peer_env, run_d7tui
from test_desk import add_from_a_shell, leading_peer

from d7tui.simulator import Simulator, Step


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.long
async def test_a_browser_tab_shows_the_desk_follows_its_leader_and_takes_keys(
    sim: Simulator, pg_url: str, tmp_path: Path
):
    rid = sim.create_request("sms", ["+971500000001"], [Step(0, "accepted")])
    add_from_a_shell(sim, pg_url, tmp_path / "shell", rid)
    port = free_port()
    with leading_peer(sim, pg_url, tmp_path / "leader"):
        server = subprocess.Popen(
            [sys.executable, "-m", "d7tui", "serve", "--port", str(port)],
            env=peer_env(sim, pg_url, tmp_path / "serve"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 30
            while not listening(port):
                assert server.poll() is None and time.monotonic() < deadline, "serve ended"
                time.sleep(0.05)
            async with chromium(f"http://127.0.0.1:{port}/") as page:
                # The page loads, the monitor starts in its tab and draws the rows ...
                await page.until(lambda: rid[:8] in page.received)
                await page.until(lambda: "follows" in page.received)  # ... following the desk
                assert await page.evaluate("document.body.classList.contains('-first-byte')")
                await page.screenshot(tmp_path / "tab.png")
                # A key typed into the page reaches the monitor: its help screen opens.
                assert "Privacy mode: mask recipients" not in page.received
                focus = "document.querySelector('.xterm-helper-textarea').focus()"
                await page.evaluate(focus)  # the terminal takes the keys, as after a click
                assert await page.evaluate("document.activeElement.className") == (
                    "xterm-helper-textarea"
                )
                await page.press("?")
                await page.until(lambda: "Privacy mode: mask recipients" in page.received)
        finally:
            server.terminate()
            _, err = server.communicate(timeout=30)
    assert b"warning" not in err  # loopback: no warning about a missing login


def test_serve_needs_a_desks_database_and_warns_when_bound_beyond_loopback(
    sim: Simulator, tmp_path: Path, pg_url: str
):
    env = peer_env(sim, "", tmp_path)
    del env["D7TUI_DATABASE_URL"]
    done = run_d7tui(env, "serve")
    assert done.returncode == 2 and "database_url" in done.stderr
    assert done.stderr.count("\n") == 1  # one line, no traceback
    bad = run_d7tui(peer_env(sim, pg_url, tmp_path), "serve", "--host", "0.0.0.0", "--port", "0")
    # Said before anything is bound (here the port is refused, so nothing is).
    warning, refusal = bad.stderr.splitlines()
    assert "0.0.0.0" in warning and "no login" in warning
    assert bad.returncode == 2 and "--port" in refusal


def test_serve_on_a_port_taken_or_an_address_not_here_is_one_line(
    sim: Simulator, tmp_path: Path, pg_url: str
):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for argv, why in (
            (["--port", str(port)], f"127.0.0.1:{port}: address already in use"),
            (
                ["--host", "203.0.113.9", "--port", "18805"],  # TEST-NET-3: not this machine
                "203.0.113.9:18805: cannot assign requested address",
            ),
        ):
            done = run_d7tui(peer_env(sim, pg_url, tmp_path), "serve", *argv)
            assert done.returncode == 5, done.stderr
            assert done.stderr.splitlines()[-1] == f"d7tui serve: cannot listen on {why}"
            assert "Traceback" not in done.stderr and "Serving" not in done.stdout + done.stderr


async def test_serve_opens_at_most_viewers_tabs_and_says_so_to_the_next(
    sim: Simulator, pg_url: str, tmp_path: Path
):
    # K14: every WebSocket started a monitor process (~70 MB), with no bound.
    import aiohttp

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "d7tui", "serve", "--port", str(port), "--viewers", "1"],
        env=peer_env(sim, pg_url, tmp_path / "serve"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"ws://127.0.0.1:{port}/ws?width=80&height=24"
    try:
        deadline = time.monotonic() + 30
        while not listening(port):
            assert server.poll() is None and time.monotonic() < deadline, "serve ended"
            time.sleep(0.05)
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(url) as first:
                drawn = await first.receive(timeout=60)  # the monitor of the first tab draws
                assert drawn.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT)
                async with session.ws_connect(url) as second:
                    refused = await second.receive(timeout=30)
                assert refused.type is aiohttp.WSMsgType.CLOSE
                assert refused.data == 1013
                assert refused.extra == "d7tui serve: 1 tab is open already (--viewers); close one"
            # The first tab closed: there is room again once its monitor has ended.
            deadline = time.monotonic() + 30
            while True:
                async with session.ws_connect(url) as again:
                    drawn = await again.receive(timeout=60)
                if drawn.type is not aiohttp.WSMsgType.CLOSE:
                    break
                assert time.monotonic() < deadline, "no room after the first tab closed"
                await asyncio.sleep(0.2)
    finally:
        server.terminate()
        server.communicate(timeout=30)
