"""The attempt rows (PostgreSQL): a moving window per key, shared by every connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import make_url

from bastion.model import parse_model
from bastion.store import Store, open_store
from bastion.store.auth.attempts import AttemptRows, Counted
from bastion.store.auth.tables import ATTEMPT_TABLE
from bastion.tools.clock import FrozenClock
from tests.postgres_db import throwaway_database

NOW = datetime(2030, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    async with throwaway_database() as database_url:
        url = make_url(database_url).set(drivername="postgresql+asyncpg")
        opened = open_store(parse_model(""), url, FrozenClock(NOW))
        await opened.sync()
        yield opened
        await opened.close()


async def _hit(store: Store, key: str, at: datetime, limit: int = 3) -> Counted:
    rows = AttemptRows(store.tables.metadata.tables[ATTEMPT_TABLE])
    async with store.db.write() as conn:
        return await rows.hit(conn, key, at, MINUTE, limit)


async def test_the_window_lets_the_limit_through_then_says_when_it_has_room(store: Store) -> None:
    seconds = [0, 10, 20, 30]
    counted = [await _hit(store, "login:ip", NOW + timedelta(seconds=s)) for s in seconds]
    assert [c.allowed for c in counted] == [True, True, True, False]
    assert counted[-1].room_at == NOW + MINUTE  # when the first attempt leaves the window
    assert (await _hit(store, "login:other-ip", NOW)).allowed
    assert (await _hit(store, "login:ip", NOW + MINUTE + timedelta(seconds=1))).allowed


async def test_parallel_attempts_never_take_more_places_than_the_limit(store: Store) -> None:
    counted = await asyncio.gather(*(_hit(store, "login:ip", NOW, limit=5) for _ in range(20)))
    assert sum(c.allowed for c in counted) == 5


async def test_prune_forgets_the_attempts_past_every_window(store: Store) -> None:
    await _hit(store, "login:gone", NOW - timedelta(hours=2))
    rows = AttemptRows(store.tables.metadata.tables[ATTEMPT_TABLE])
    async with store.db.write() as conn:
        assert await rows.prune(conn, NOW - timedelta(hours=1)) == 1
