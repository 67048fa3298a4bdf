"""The single writer: turns queue, a group is made durable by one commit, a failing turn
rolls back alone, a failed commit fails its whole group, and a full queue refuses at once."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from bastion.errors import Unavailable
from bastion.store.database import Database
from bastion.store.writer import WriterLimits


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(
        make_url(f"sqlite+aiosqlite:///{tmp_path / 'data.db'}"),
        writer_limits=WriterLimits(max_queue=50, wait_timeout=5.0),
    )
    async with database.write() as conn:
        await conn.execute(text("CREATE TABLE item (name TEXT PRIMARY KEY)"))
        await conn.execute(
            text(
                "CREATE TABLE child (parent TEXT REFERENCES item(name) "
                "DEFERRABLE INITIALLY DEFERRED)"
            )
        )
    yield database
    await database.close()


def _names(db: Database) -> list[str]:
    """The committed rows, read by another connection, as another process would."""
    assert db.url.database is not None
    with sqlite3.connect(db.url.database) as other:
        return sorted(row[0] for row in other.execute("SELECT name FROM item"))


async def _insert(db: Database, name: str) -> None:
    async with db.write() as conn:
        await conn.execute(text("INSERT INTO item VALUES (:n)"), {"n": name})


async def test_concurrent_writes_are_grouped_under_fewer_commits_and_all_kept(
    db: Database,
) -> None:
    assert db.writer is not None
    before = db.writer.commits
    await asyncio.gather(*(_insert(db, f"n{i:02}") for i in range(40)))
    assert _names(db) == [f"n{i:02}" for i in range(40)]
    assert db.writer.commits - before < 40


async def test_a_write_is_visible_to_another_connection_when_it_returns(db: Database) -> None:
    await _insert(db, "kept")
    assert _names(db) == ["kept"]


@pytest.mark.parametrize("place", [0, 1, 2], ids=["first", "middle", "last"])
async def test_a_failing_write_rolls_back_alone_in_its_group(db: Database, place: int) -> None:
    async def failing() -> None:
        async with db.write() as conn:
            await conn.execute(text("INSERT INTO item VALUES ('undone')"))
            raise ValueError("the resolver failed")

    writes = [_insert(db, "a"), _insert(db, "c")]
    writes.insert(place, failing())
    results = await asyncio.gather(*writes, return_exceptions=True)
    assert [type(r).__name__ for r in results].count("ValueError") == 1
    assert isinstance(results[place], ValueError)
    assert _names(db) == ["a", "c"]


async def test_a_duplicate_is_refused_without_undoing_the_others(db: Database) -> None:
    results = await asyncio.gather(
        _insert(db, "same"), _insert(db, "same"), _insert(db, "other"), return_exceptions=True
    )
    assert sum(isinstance(r, IntegrityError) for r in results) == 1
    assert _names(db) == ["other", "same"]


async def test_a_failed_commit_fails_every_write_of_its_group(db: Database) -> None:
    # A deferred foreign key is checked at COMMIT: the whole group's commit fails.
    async def orphan() -> None:
        async with db.write() as conn:
            await conn.execute(text("INSERT INTO child VALUES ('nobody')"))

    results = await asyncio.gather(
        _insert(db, "x"), orphan(), _insert(db, "y"), return_exceptions=True
    )
    assert all(isinstance(r, IntegrityError) for r in results), results
    assert _names(db) == []
    await _insert(db, "after")  # the writer recovers with a fresh transaction
    assert _names(db) == ["after"]


async def test_a_full_queue_refuses_with_retry_later(tmp_path: Path) -> None:
    db = Database(
        make_url(f"sqlite+aiosqlite:///{tmp_path / 'q.db'}"),
        writer_limits=WriterLimits(max_queue=1, wait_timeout=5.0),
    )
    entered, release = asyncio.Event(), asyncio.Event()
    held = asyncio.create_task(_hold(db, entered, release))
    await entered.wait()
    waiting = asyncio.create_task(_noop(db))
    await asyncio.sleep(0)  # one turn of the loop: the second write queues
    assert db.writer is not None and db.writer.waiting == 1
    with pytest.raises(Unavailable) as refused:
        await _noop(db)
    assert refused.value.extensions["retryAfter"] >= 1
    release.set()
    await asyncio.gather(held, waiting)
    await db.close()


async def test_a_write_that_waits_past_the_limit_is_refused(tmp_path: Path) -> None:
    db = Database(
        make_url(f"sqlite+aiosqlite:///{tmp_path / 't.db'}"),
        writer_limits=WriterLimits(max_queue=10, wait_timeout=0.05),
    )
    entered, release = asyncio.Event(), asyncio.Event()
    held = asyncio.create_task(_hold(db, entered, release))
    await entered.wait()
    with pytest.raises(Unavailable):
        await _noop(db)
    release.set()
    await held
    await db.close()


async def test_writes_queued_behind_a_refused_one_are_still_served(tmp_path: Path) -> None:
    # One timer watches the queue: the waiters that ran out are refused, those that came
    # later keep waiting, and a waiter given up by its client does not hold the queue.
    db = Database(
        make_url(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}"),
        writer_limits=WriterLimits(max_queue=10, wait_timeout=0.5),
    )
    async with db.write() as conn:
        await conn.execute(text("CREATE TABLE item (name TEXT PRIMARY KEY)"))
    entered, release = asyncio.Event(), asyncio.Event()
    held = asyncio.create_task(_hold(db, entered, release))
    await entered.wait()
    first = asyncio.create_task(_insert(db, "first"))
    abandoned = asyncio.create_task(_insert(db, "abandoned"))
    await asyncio.sleep(0.3)
    later = asyncio.create_task(_insert(db, "later"))
    await asyncio.sleep(0)
    abandoned.cancel()
    with pytest.raises(Unavailable):
        await first  # waited past the limit
    release.set()
    await held
    await later
    assert _names(db) == ["later"]
    with pytest.raises(asyncio.CancelledError):
        await abandoned
    await _insert(db, "after")
    assert _names(db) == ["after", "later"]
    await db.close()


async def test_a_write_inside_a_request_transaction_joins_it(db: Database) -> None:
    request = db.lazy(write=True)
    conn = await request.connection()
    await conn.execute(text("INSERT INTO item VALUES ('request')"))
    # An auth write made by the same request (an audit row, say) must not wait for the turn
    # the request holds.
    await asyncio.wait_for(_insert(db, "inner"), 5)
    await request.finish(commit=True)
    assert _names(db) == ["inner", "request"]


async def _noop(db: Database) -> None:
    async with db.write() as conn:
        await conn.execute(text("SELECT 1"))


async def _hold(db: Database, entered: asyncio.Event, release: asyncio.Event) -> None:
    """Hold the writer's turn until ``release`` is set."""
    async with db.write() as conn:
        await conn.execute(text("SELECT 1"))
        entered.set()
        await release.wait()
