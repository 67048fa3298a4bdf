"""Named values in ``_bastion_meta``, and whether a project's tables hold data yet.

:mod:`bastion.auth.derived` keeps the project's derivation record here and asks, when it first
makes one, whether the database was in use before. The meaning of the values is the caller's;
a value is text (the caller encodes it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Table, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.store.database import ALONE_DIALECT, Database


class KeyTaken(Exception):
    """Another transaction wrote the key first (two processes starting at once on PostgreSQL).

    The caller's transaction is spoiled: let it roll back, then read the key again.
    """

    def __init__(self, key: str) -> None:
        super().__init__(f"_bastion_meta.{key} was written by another transaction")
        self.key = key


@dataclass(frozen=True)
class Evidence:
    """Tables whose rows show that a project held data before some moment."""

    tables: Sequence[Table] = ()

    async def found(self, conn: AsyncConnection) -> bool:
        """Whether any of the tables holds a row."""
        for table in self.tables:
            if (await conn.execute(select(1).select_from(table).limit(1))).first():
                return True
        return False


class MetaRows:
    """The statements over ``_bastion_meta``."""

    def __init__(self, table: Table) -> None:
        self._table = table
        self._alone_sql: str | None = None

    async def read(self, db: Database, key: str) -> str | None:
        """The value under ``key``, read on its own: on SQLite by one statement outside any
        transaction (:meth:`Database.read_alone`), else in a read transaction of its own.

        For what is read often and alone (each serving process reads the deployed project's
        record every half second): no pool checkout, ``BEGIN`` or commit for it."""
        if db.reads_alone:
            if self._alone_sql is None:
                meta = self._table
                statement = select(meta.c.value).where(meta.c.key == bindparam("key"))
                self._alone_sql = str(statement.compile(dialect=ALONE_DIALECT))
            row = db.read_alone(self._alone_sql, {"key": key})
            return None if row is None else str(row[0])
        async with db.read() as conn:
            return await self.get(conn, key)

    async def get(self, conn: AsyncConnection, key: str) -> str | None:
        """The value under ``key``, or None when there is none."""
        meta = self._table
        found: str | None = (
            await conn.execute(select(meta.c.value).where(meta.c.key == key))
        ).scalar_one_or_none()
        return found

    async def remove(self, conn: AsyncConnection, key: str) -> None:
        """Delete the value under ``key``, if any."""
        await conn.execute(self._table.delete().where(self._table.c.key == key))

    async def add(self, conn: AsyncConnection, key: str, value: str) -> None:
        """Write ``value`` under a new ``key``; raises :class:`KeyTaken` when it exists."""
        try:
            await conn.execute(self._table.insert().values(key=key, value=value))
        except IntegrityError as taken:
            raise KeyTaken(key) from taken

    async def put(self, conn: AsyncConnection, key: str, value: str) -> None:
        """Write ``value`` under ``key``, replacing what was there."""
        await conn.execute(self._table.delete().where(self._table.c.key == key))
        await conn.execute(self._table.insert().values(key=key, value=value))
