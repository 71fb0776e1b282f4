"""Another monitor of the desk, in a process of its own (tests/test_desk.py kills it with -9):
the real app, headless, its settings from the environment (D7TUI_DATABASE_URL, the simulator's
base URLs and credentials)."""

from __future__ import annotations

from d7tui.config import load_settings
from d7tui.ui.app import make_app

if __name__ == "__main__":
    make_app(load_settings()).run(headless=True, size=(120, 40))
