"""Every test gets its own data directory: nothing a test runs may touch the user's store. The
screen tests share a manual clock and a simulator whose time is that clock (a module that needs
another simulator defines its own `sim`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pgserver import PgServer
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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest tests first (`@pytest.mark.long`: 8 s or more on a loaded machine). In
    several processes (`-n`), a test that takes half a minute and comes last in the order keeps
    one process busy alone at the end while the others are done; first, the others run the
    short ones beside it. Otherwise the order stays as collected."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL server for the whole run (about a second to start), only when a test asks."""
    server = PgServer.start()
    yield server
    server.close()


@pytest.fixture
def own_server() -> Iterator[PgServer]:
    """A PostgreSQL server of the test's own, to stop and start (the database away and back)."""
    server = PgServer.start()
    yield server
    server.close()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A new, empty database on the test server."""
    return pg_server.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a store lives: a SQLite file, or a PostgreSQL database (the same tests run on both)."""
    if request.param == "sqlite":
        return tmp_path / "data" / "d7tui.sqlite3"
    return request.getfixturevalue("pg_url")
