"""Bounded tables: a soak of daily use on an injected clock, pruned as the server prunes.

Every simulated day users sign up, log in, refresh, log out and mistype passwords; the clock
moves a day (never slept); the pruner runs. Once the retention has passed, the four tables
that grow with use stay flat from one day to the next.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from bastion.project import Project
from bastion.store.auth.tables import (
    AUDIT_TABLE,
    LOGIN_FAILURE_TABLE,
    REFRESH_TABLE,
    SESSION_TABLE,
)
from bastion.tools.clock import FrozenClock
from tests.auth.conftest import LOGOUT, SIGNUP, Auth

DAY = 86_400
TABLES = (SESSION_TABLE, REFRESH_TABLE, AUDIT_TABLE, LOGIN_FAILURE_TABLE)
RETENTION = {"sessions_days": 2, "refresh_tokens_days": 1, "audit_days": 3}


async def counts(auth: Auth) -> dict[str, int]:
    store = auth.service.store
    found = {}
    async with store.db.read() as conn:
        for name in TABLES:
            table = store.tables.metadata.tables[name]
            found[name] = int(await conn.scalar(select(func.count()).select_from(table)) or 0)
    return found


async def one_day(auth: Auth, day: int) -> None:
    """A day of use: two new users, a second session each, a refresh, a logout, typos."""
    for n in range(2):
        await auth.register(f"user{day}-{n}@example.com")
        pair = await auth.login_pair(f"user{day}-{n}@example.com")
        refreshed = (await auth.refresh(pair["refreshToken"]))["data"]["refreshToken"]
        body = await auth.gql(LOGOUT, {"token": refreshed["refreshToken"]})
        assert "errors" not in body, body
    for _ in range(3):
        assert "errors" in await auth.login(f"user{day}-0@example.com", "wrong password")


async def test_the_tables_are_flat_after_their_retention(
    make_project: Callable[..., Project], client_for: Callable[..., Any], clock: FrozenClock
) -> None:
    project = make_project(
        auth={
            **SIGNUP,
            "refresh_token_lifetime": DAY,
            "session_max_lifetime": 2 * DAY,
        },
        retention=RETENTION,
    )
    auth = Auth(await client_for(project))
    seen = []
    for day in range(12):
        await one_day(auth, day)
        clock.advance(DAY)
        await auth.service.retention.prune()
        seen.append(await counts(auth))
    # Sessions end within two days and go two days later; audit events go after three:
    # from the sixth day on, each day adds what the pruning takes away.
    settled = seen[6:]
    assert all(day == settled[0] for day in settled), seen
    assert all(settled[0][name] > 0 for name in (SESSION_TABLE, AUDIT_TABLE)), settled[0]
    # And without pruning, they grow: the soak made rows enough to tell.
    assert seen[0][AUDIT_TABLE] < settled[0][AUDIT_TABLE]


async def test_a_dry_run_counts_and_deletes_nothing(
    make_project: Callable[..., Project], client_for: Callable[..., Any], clock: FrozenClock
) -> None:
    auth = Auth(await client_for(make_project(auth=SIGNUP, retention=RETENTION)))
    await one_day(auth, 0)
    clock.advance(100 * DAY)  # past every retention, and the sessions' own end (90 days)
    before = await counts(auth)
    would = await auth.service.retention.prune(dry_run=True)
    assert await counts(auth) == before
    assert would.sessions == before[SESSION_TABLE] == 4
    assert would.audit_events == before[AUDIT_TABLE]
    pruned = await auth.service.retention.prune()
    assert pruned == would
    after = await counts(auth)
    assert after == dict.fromkeys(TABLES, 0)
