"""The root token rows: a name, a rotation counter and the SHA-256 of the current token.

``bastion.auth.root_tokens`` derives the tokens and decides when one is made, rotated or
revoked; these are its statements, each on the caller's connection. A token is never stored:
only its digest, by which a presented token is found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class RootTokenRow:
    """One root token as stored."""

    name: str
    hash: str
    counter: int
    created_at: datetime
    rotated_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


def _row(row: Any) -> RootTokenRow:
    return RootTokenRow(
        name=row.name,
        hash=row.hash,
        counter=int(row.counter),
        created_at=row.created_at,
        rotated_at=row.rotated_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


class RootTokenRows:
    """Reads and writes of the root token table."""

    def __init__(self, table: Table) -> None:
        self._table = table

    async def table_exists(self, conn: AsyncConnection) -> bool:
        """Whether the table is in the database yet (a dry run may come before any sync)."""
        name = self._table.name
        return await conn.run_sync(lambda c: c.dialect.has_table(c, name))

    async def all(self, conn: AsyncConnection) -> dict[str, RootTokenRow]:
        """Every row, live or revoked, by name."""
        return {r.name: _row(r) for r in await conn.execute(select(self._table))}

    async def get(self, conn: AsyncConnection, name: str) -> RootTokenRow | None:
        """The row of ``name``, live or revoked."""
        table = self._table
        row = (await conn.execute(select(table).where(table.c.name == name))).first()
        return None if row is None else _row(row)

    async def live(self, conn: AsyncConnection) -> list[RootTokenRow]:
        """The rows not revoked, by name."""
        table = self._table
        rows = await conn.execute(
            select(table).where(table.c.revoked_at.is_(None)).order_by(table.c.name)
        )
        return [_row(r) for r in rows]

    async def live_one(self, conn: AsyncConnection, name: str) -> RootTokenRow | None:
        """The row of ``name`` unless it is revoked (or missing)."""
        table = self._table
        row = (
            await conn.execute(
                select(table).where(table.c.name == name, table.c.revoked_at.is_(None))
            )
        ).first()
        return None if row is None else _row(row)

    async def live_name(self, conn: AsyncConnection, digest: str) -> str | None:
        """The name of the live token whose SHA-256 is ``digest``, if any."""
        table = self._table
        found = await conn.execute(
            select(table.c.name).where(table.c.hash == digest, table.c.revoked_at.is_(None))
        )
        name: str | None = found.scalar_one_or_none()
        return name

    async def add(self, conn: AsyncConnection, name: str, digest: str, at: datetime) -> None:
        """A new live token ``name`` at counter 0."""
        await conn.execute(
            self._table.insert().values(
                name=name,
                hash=digest,
                counter=0,
                created_at=at,
                rotated_at=None,
                last_used_at=None,
                revoked_at=None,
            )
        )

    async def rotate(
        self, conn: AsyncConnection, name: str, counter: int, digest: str, at: datetime
    ) -> None:
        """Replace the token of ``name`` (live again if it was revoked), rotated ``at``."""
        await self._set(conn, name, counter=counter, hash=digest, rotated_at=at, revoked_at=None)

    async def revive(
        self, conn: AsyncConnection, name: str, counter: int, digest: str, at: datetime
    ) -> None:
        """Make a revoked ``name`` live with a new token, as if first created ``at``."""
        await self._set(
            conn,
            name,
            counter=counter,
            hash=digest,
            created_at=at,
            rotated_at=None,
            last_used_at=None,
            revoked_at=None,
        )

    async def revoke(self, conn: AsyncConnection, name: str, at: datetime) -> None:
        """Stop accepting the token of ``name`` from ``at``."""
        await self._set(conn, name, revoked_at=at)

    async def used(self, conn: AsyncConnection, name: str, at: datetime) -> None:
        """Note that the token of ``name`` was used at ``at``."""
        await self._set(conn, name, last_used_at=at)

    async def _set(self, conn: AsyncConnection, name: str, **values: object) -> None:
        table = self._table
        await conn.execute(update(table).where(table.c.name == name).values(**values))
