"""Every test gets its own data directory: nothing a test runs may touch the user's store. The
screen tests share a manual clock and a simulator whose time is that clock (a module that needs
another simulator defines its own `sim`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ui_kit import start_simulator

from d7tui.clock import ManualClock
from d7tui.simulator import Simulator


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sim(clock: ManualClock) -> Iterator[Simulator]:
    simulator = start_simulator(clock)
    yield simulator
    simulator.stop()


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


# A parametrised case's id is its value as pytest writes it, and one case is a megabyte long: an
# id that long fills a terminal, a report or a `--durations` list. A long value is named by its
# start and its length instead.
LONGEST_ID = 40


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    if isinstance(val, str | bytes) and len(val) > LONGEST_ID:
        start = val[:16].decode("ascii", "backslashreplace") if isinstance(val, bytes) else val[:16]
        return f"{start.encode('unicode_escape').decode('ascii')}...({len(val)} long)"
    return None
