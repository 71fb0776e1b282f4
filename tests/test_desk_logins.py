"""Monitors of one desk under different PostgreSQL logins (fresh-eyes L13's edge): a follower
cannot see another user's session state nor end it without the roles for it, so a stopped
leader of another login kept its lead for ever while every screen looked normal. Now the
follower says so in one line (whose lead, which user, what to grant); with those roles granted,
it ends the silent lead as it does its own user's."""

from __future__ import annotations

import itertools
import os
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from ui_kit import said, sim_settings, until

from d7tui.clock import ManualClock
from d7tui.safety import Secret
from d7tui.simulator import Simulator
from d7tui.store import open_store
from d7tui.store.pg import PgStore
from d7tui.store.pglock import AdvisoryLock
from d7tui.ui.app import make_app

_ROLES = itertools.count(1)


def as_user(url: str, user: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{user}@{parts.hostname}:{parts.port}"))


@pytest.fixture
def two_logins(pg_server, pg_url: str) -> tuple[str, str, str]:
    """Two new login roles of the server; the URL of the test's database as each, and the
    follower's role name."""
    n = next(_ROLES)
    leader, follower = f"lead{os.getpid()}_{n}", f"follow{os.getpid()}_{n}"
    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        for role in (leader, follower):
            conn.execute(f'CREATE ROLE "{role}" LOGIN')
    return as_user(pg_url, leader), as_user(pg_url, follower), follower


def lock_of(url: str, actor: str) -> AdvisoryLock:
    store = PgStore(url)  # only its connections: the lead needs no table
    store.actor = actor
    return AdvisoryLock(store)


def test_a_follower_of_another_login_says_it_cannot_end_a_silent_lead_and_what_to_grant(
    pg_server, two_logins
):
    leader_url, follower_url, follower_role = two_logins
    leading = lock_of(leader_url, "alice")
    assert leading.try_acquire()
    following = lock_of(follower_url, "bob")
    try:
        # Silent for any time at all (after=0): still not ended, and said why.
        assert following.end_if_silent(0) is None
        assert following.unended is not None
        assert (
            "alice@" in following.unended and "leads the desk as database user" in following.unended
        )
        assert f"GRANT pg_read_all_stats, pg_signal_backend TO {follower_role}" in following.unended
        assert leading.renew()  # its lead stands

        with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
            conn.execute(f'GRANT pg_read_all_stats, pg_signal_backend TO "{follower_role}"')
        ended = following.end_if_silent(0)
        assert ended is not None and "alice@" in ended
        assert following.unended is None
        assert following.try_acquire()
        assert not leading.renew()  # run again, it finds another leads
    finally:
        leading.release()
        following.release()


async def test_a_monitor_following_a_leader_of_another_login_says_it_in_one_line(
    sim: Simulator, clock: ManualClock, pg_url: str, two_logins
):
    leader_url, follower_url, follower_role = two_logins
    leader_role = urlsplit(leader_url).username
    # A desk's tables made by one user and shared with another, as its administrator would.
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'GRANT CREATE, USAGE ON SCHEMA public TO "{leader_role}"')
    with open_store(leader_url, user="alice") as lead:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'GRANT USAGE ON SCHEMA public TO "{follower_role}"')
            conn.execute(f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{follower_role}"')
            conn.execute(f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{follower_role}"')
        assert lead.report_lock.try_acquire()
        app = make_app(sim_settings(sim, database_url=Secret(follower_url)), clock=clock)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.desk is not None)
            await until(
                pilot, lambda: any("leads the desk as database user" in t for t in said(app))
            )
            [line] = [t for t in said(app) if "leads the desk as database user" in t]
            assert f"user {follower_role} may not watch or end" in line
            assert app.desk is not None and not app.desk.leading
