"""The event table's statements, on SQLite and on PostgreSQL: appended in the caller's
transaction, read after an id, pruned by age."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import URL, make_url

from bastion.model import parse_model
from bastion.store import Store, open_store
from bastion.store.auth.events import EventRows
from bastion.store.auth.tables import EVENT_TABLE
from bastion.tools.clock import FrozenClock
from tests.postgres_db import throwaway_database

NOW = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        url = URL.create("sqlite+aiosqlite", database=str(tmp_path / "data.db"))
        opened = open_store(parse_model(""), url, FrozenClock(NOW))
        await opened.sync()
        yield opened
        await opened.close()
        return
    async with throwaway_database() as database_url:
        url = make_url(database_url).set(drivername="postgresql+asyncpg")
        opened = open_store(parse_model(""), url, FrozenClock(NOW))
        await opened.sync()
        yield opened
        await opened.close()


def _rows(store: Store) -> EventRows:
    table = store.tables.metadata.tables[EVENT_TABLE]
    return EventRows(table, notify=not store.db.is_sqlite)


async def test_events_are_read_in_order_after_an_id(store: Store) -> None:
    rows = _rows(store)
    async with store.db.read() as conn:
        assert await rows.newest_id(conn) == 0
    async with store.db.write() as conn:
        await rows.append(conn, NOW, "node-a", "sessions_ended", '["s1"]')
        await rows.append(conn, NOW, "node-b", "user_changed", '"u1"')
    async with store.db.read() as conn:
        newest = await rows.newest_id(conn)
        every = await rows.after(conn, 0, 10)
        later = await rows.after(conn, every[0].id, 10)
    assert [(e.origin, e.kind, e.body) for e in every] == [
        ("node-a", "sessions_ended", '["s1"]'),
        ("node-b", "user_changed", '"u1"'),
    ]
    assert newest == every[-1].id
    assert later == every[1:]


async def test_an_event_of_a_rolled_back_change_never_exists(store: Store) -> None:
    rows = _rows(store)
    with pytest.raises(RuntimeError):
        async with store.db.write() as conn:
            await rows.append(conn, NOW, "node-a", "sessions_ended", '["s1"]')
            raise RuntimeError("the change failed")
    async with store.db.read() as conn:
        assert await rows.after(conn, 0, 10) == []


async def test_prune_drops_the_events_older_than_a_time(store: Store) -> None:
    rows = _rows(store)
    async with store.db.write() as conn:
        await rows.append(conn, NOW - timedelta(hours=1), "a", "sessions_ended", "[]")
        await rows.append(conn, NOW, "a", "sessions_ended", '["kept"]')
    async with store.db.write() as conn:
        assert await rows.prune(conn, NOW - timedelta(minutes=10)) == 1
    async with store.db.read() as conn:
        assert [e.body for e in await rows.after(conn, 0, 10)] == ['["kept"]']
