"""The inline SQLite driver: a write takes the lock at once when it is free, waits for it
(off the event loop) while another process holds it, and keeps the connection's busy timeout."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bastion.store import sqlite_inline
from bastion.store.database import SQLITE_BUSY_TIMEOUT_MS, Database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(make_url(f"sqlite+aiosqlite:///{tmp_path / 'data.db'}"))
    async with database.write() as conn:
        await conn.execute(text("CREATE TABLE item (name TEXT)"))
    yield database
    await database.close()


async def _insert(db: Database, name: str) -> None:
    async with db.write() as conn:
        await conn.execute(text("INSERT INTO item VALUES (:n)"), {"n": name})


def _names(db: Database) -> list[str]:
    assert db.url.database is not None
    with sqlite3.connect(db.url.database) as other:
        return sorted(row[0] for row in other.execute("SELECT name FROM item"))


async def test_a_write_waits_while_another_process_holds_the_lock(db: Database) -> None:
    assert db.url.database is not None
    other = sqlite3.connect(db.url.database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        write = asyncio.create_task(_insert(db, "late"))
        for _ in range(50):  # let it try at once, find the lock held and go to wait
            await asyncio.sleep(0)
        assert not write.done()
        assert _names(db) == []
    finally:
        other.rollback()
        other.close()
    await write
    assert _names(db) == ["late"]


async def test_a_write_keeps_the_connections_busy_timeout(db: Database) -> None:
    await _insert(db, "a")
    async with db.write() as conn:
        waits = (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar_one()
    assert waits == SQLITE_BUSY_TIMEOUT_MS
    assert _names(db) == ["a"]


async def test_a_free_lock_is_taken_without_a_thread(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops: list[str] = []
    to_thread = asyncio.to_thread

    async def counted(function: Any, *args: Any) -> Any:
        hops.append(args[0] if args else function.__name__)
        return await to_thread(function, *args)

    monkeypatch.setattr(sqlite_inline.asyncio, "to_thread", counted)
    await _insert(db, "a")
    assert hops == ["commit"]  # only the fsync left the loop
    assert _names(db) == ["a"]
