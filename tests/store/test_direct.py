"""Statements run on the driver (bastion.store.direct): the values SQLAlchemy would read and
write, and on PostgreSQL a connection the server dropped failing as SQLAlchemy's would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    Integer,
    MetaData,
    Table,
    bindparam,
    insert,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from bastion.errors import Code
from bastion.store.columns import UTCDateTime
from bastion.store.columns import text as text_column
from bastion.store.database import Database, PoolSettings
from bastion.store.direct import Direct, joins_inline
from bastion.store.failures import meaning
from tests import databases

AT = datetime(2030, 1, 2, 3, 4, 5, 678_901, tzinfo=UTC)
METADATA = MetaData()
THINGS = Table(
    "things",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("name", text_column(20)),
    Column("at", UTCDateTime),
    Column("flag", Boolean),
)
ADD = Direct(
    insert(THINGS)
    .values(
        id=bindparam("id"),
        name=bindparam("name"),
        at=bindparam("at", type_=UTCDateTime()),
        flag=bindparam("flag", type_=Boolean()),
    )
    .returning(THINGS.c.at, THINGS.c.flag)
)
READ = Direct(
    select(THINGS.c.name, THINGS.c.at, THINGS.c.flag).where(THINGS.c.id == bindparam("id"))
)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(databases.url_for_test(tmp_path), pool=PoolSettings(size=1, max_overflow=0))
    async with db.engine.begin() as conn:
        await conn.run_sync(METADATA.create_all)
    yield db
    await db.close()


async def _run(db: Database, statement: Direct, **values: object) -> list[tuple[object, ...]]:
    if db.writer is None:
        async with db.apart() as conn:
            return await statement.rows(conn, values)
    async with db.write() as conn:
        return await statement.rows(conn, values)


async def test_values_go_in_and_come_out_as_sqlalchemy_makes_them(db: Database) -> None:
    assert await _run(db, ADD, id=1, name="ann", at=AT, flag=True) == [(AT, True)]
    assert await _run(db, ADD, id=2, name=None, at=None, flag=False) == [(None, False)]
    assert await _run(db, READ, id=1) == [("ann", AT, True)]
    assert await _run(db, READ, id=3) == []
    async with db.read() as conn:  # what SQLAlchemy reads of the same rows
        rows = (await conn.execute(select(THINGS).order_by(THINGS.c.id))).all()
    assert [tuple(r) for r in rows] == [(1, "ann", AT, True), (2, None, None, False)]


@pytest.mark.postgresql_only(reason="a database server's connections")
async def test_a_connection_the_server_dropped_is_unavailable_then_replaced(
    db: Database, tmp_path: Path
) -> None:
    async with db.apart() as conn:
        pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        await conn.rollback()
    killer = Database(databases.url_for_test(tmp_path))
    try:
        async with killer.read() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await killer.close()
    with pytest.raises(DBAPIError) as lost:
        await _run(db, READ, id=1)
    known = meaning(lost.value)
    assert known is not None and known.code is Code.SERVICE_UNAVAILABLE
    assert await _run(db, READ, id=1) == []  # a new connection


@pytest.mark.sqlite_only(reason="PostgreSQL's refusals are the driver's, read by their SQLSTATE")
async def test_a_refused_write_raises_what_sqlalchemy_would(db: Database) -> None:
    await _run(db, ADD, id=1, name="ann", at=AT, flag=True)
    with pytest.raises(IntegrityError) as taken:
        await _run(db, ADD, id=1, name="bob", at=AT, flag=True)
    # The driver's own error beneath, as SQLAlchemy keeps it; the values stay out of the text.
    assert "UNIQUE constraint failed: things.id" in str(taken.value.orig)
    assert "bob" not in str(taken.value)
    assert await _run(db, READ, id=1) == [("ann", AT, True)]


@pytest.mark.sqlite_only(reason="a statement joins a transaction on SQLite's inline driver only")
async def test_only_a_transaction_on_the_inline_driver_is_joined(db: Database) -> None:
    async with db.write() as conn:
        assert joins_inline(conn)
    async with db.read() as conn:
        assert joins_inline(conn)
    async with db.engine.connect() as conn:
        assert not joins_inline(conn)  # no transaction yet: SQLAlchemy would begin one
