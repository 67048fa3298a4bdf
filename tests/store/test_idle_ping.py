"""A pooled PostgreSQL connection is pinged before use only when it sat idle: one the server
closed meanwhile is replaced unseen; one used a moment ago is not pinged, and if the server
dropped it in that moment, the one request that meets it fails as unavailable and the next
ones get new connections."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bastion.errors import Code
from bastion.store.database import Database, PoolSettings
from bastion.store.failures import meaning
from bastion.store.idle_ping import IDLE_SECONDS
from tests import databases

pytestmark = pytest.mark.postgresql_only(reason="the pool of a database server")


class Clock:
    """Monotonic seconds that move only when the test says."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[Database, Database, Clock]]:
    url = databases.url_for_test(tmp_path)
    clock = Clock()
    db = Database(url, pool=PoolSettings(size=1, max_overflow=0), monotonic=clock)
    killer = Database(url)
    yield db, killer, clock
    await db.close()
    await killer.close()


async def _backend(db: Database) -> int:
    async with db.read() as conn:
        pid: int = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    return pid


async def _kill(killer: Database, pid: int) -> None:
    async with killer.read() as conn:
        await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


async def test_a_connection_closed_while_idle_is_replaced_before_use(
    setup: tuple[Database, Database, Clock],
) -> None:
    db, killer, clock = setup
    first = await _backend(db)
    await _kill(killer, first)
    clock.now += IDLE_SECONDS  # it sat idle: pinged, found closed, replaced
    assert await _backend(db) != first


async def test_a_connection_used_a_moment_ago_is_not_pinged(
    setup: tuple[Database, Database, Clock],
) -> None:
    db, killer, clock = setup
    first = await _backend(db)
    await _kill(killer, first)
    clock.now += IDLE_SECONDS / 2
    with pytest.raises(DBAPIError) as lost:
        await _backend(db)
    known = meaning(lost.value)
    assert known is not None and known.code is Code.SERVICE_UNAVAILABLE
    assert await _backend(db) != first  # the pool was refreshed: the next use works
