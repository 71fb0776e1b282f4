"""Another monitor of the desk, in a process of its own (tests/test_desk.py kills it with -9):
the real app, headless, its settings from the environment (D7TUI_DATABASE_URL, the simulator's
base URLs and credentials)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from d7tui.config import load_settings
from d7tui.ui.app import D7App, make_app

if TYPE_CHECKING:
    from d7tui.simulator import Simulator

ROOT = Path(__file__).resolve().parent.parent


def peer_env(sim: Simulator, url: str | None, home: Path) -> dict[str, str]:
    """The environment of a d7tui process of the desk: the database (None: the SQLite file in
    `home`'s data directory), the simulator's vendors, and a home of its own (the tests' and the
    benchmark's peers, `d7tui add`, `d7tui serve`)."""
    env = {k: v for k, v in os.environ.items() if k != "D7TUI_DATABASE_URL"}
    return {
        **env,
        **({"D7TUI_DATABASE_URL": url} if url is not None else {}),
        "D7_API_TOKEN": "sim-token",
        "D7_BASE_URL": sim.base_url,
        "INFOBIP_API_KEY": "sim-infobip-key",
        "INFOBIP_BASE_URL": sim.base_url,
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_STATE_HOME": str(home / "state"),
        "HOME": str(home),
        "PYTHONPATH": str(ROOT),
    }


def run_d7tui(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    """`d7tui ARGV` in a process of its own with `env` (a desk peer's, as a rule), its output
    captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "d7tui", *argv], env=env, capture_output=True, text=True, timeout=60
    )


def telling(app: D7App, path: str) -> None:
    """Every line the app says is also appended to the file at `path` as it is said: what a
    peer in its own process tells its user, for a test to wait for."""
    say = app.say

    def told(text: str, *args: Any, **kwargs: Any) -> None:
        with open(path, "a", encoding="utf-8") as file:
            file.write(text + "\n")
        say(text, *args, **kwargs)

    app.say = told  # type: ignore[method-assign]


if __name__ == "__main__":
    peer = make_app(load_settings())
    if said := os.environ.get("D7TUI_PEER_SAID"):
        telling(peer, said)
    peer.run(headless=True, size=(120, 40))
