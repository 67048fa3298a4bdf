"""The API key rows: a name, an owner and the SHA-256 of the key, never the key itself.

``bastion.auth.providers.api_keys`` decides what a key is (who may make one, how many, what a
disabled key answers); these are its statements, each on the caller's connection. A key is
found by its digest, so no lookup compares secret text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class ApiKeyRow:
    """One stored key, without its digest."""

    id: str
    user_id: str
    name: str
    disabled: bool
    created_at: datetime
    last_used_at: datetime | None


def _row(row: Any) -> ApiKeyRow:
    return ApiKeyRow(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        disabled=bool(row.disabled),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
    )


class ApiKeyRows:
    """Reads and writes of the API key table."""

    def __init__(self, table: Table) -> None:
        self._table = table

    async def count_of(self, conn: AsyncConnection, user_id: str) -> int:
        """How many keys the user holds."""
        table = self._table
        found = await conn.execute(select(func.count()).where(table.c.user_id == user_id))
        return int(found.scalar_one())

    async def name_taken(self, conn: AsyncConnection, user_id: str, name: str) -> bool:
        """Whether the user holds a key named ``name``."""
        table = self._table
        found = await conn.execute(
            select(table.c.id).where(table.c.user_id == user_id, table.c.name == name)
        )
        return found.first() is not None

    async def add(self, conn: AsyncConnection, key: ApiKeyRow, digest: str) -> None:
        """Store a new key by the digest of its secret."""
        await conn.execute(
            self._table.insert().values(
                id=key.id,
                user_id=key.user_id,
                name=key.name,
                hash=digest,
                created_at=key.created_at,
                last_used_at=key.last_used_at,
                disabled=key.disabled,
            )
        )

    async def of(self, conn: AsyncConnection, user_id: str) -> list[ApiKeyRow]:
        """The user's keys, by id (so oldest first)."""
        table = self._table
        rows = await conn.execute(
            select(table).where(table.c.user_id == user_id).order_by(table.c.id)
        )
        return [_row(r) for r in rows]

    async def get(self, conn: AsyncConnection, user_id: str, key_id: str) -> ApiKeyRow | None:
        """The key ``key_id`` if the user holds it (another user's key is None too)."""
        table = self._table
        found = await conn.execute(
            select(table).where(table.c.id == key_id, table.c.user_id == user_id)
        )
        row = found.first()
        return None if row is None else _row(row)

    async def by_digest(self, conn: AsyncConnection, digest: str) -> ApiKeyRow | None:
        """The key whose secret has this SHA-256, if any."""
        table = self._table
        row = (await conn.execute(select(table).where(table.c.hash == digest))).first()
        return None if row is None else _row(row)

    async def delete(self, conn: AsyncConnection, key_id: str) -> None:
        """Remove the key."""
        await conn.execute(delete(self._table).where(self._table.c.id == key_id))

    async def set_disabled(self, conn: AsyncConnection, key_id: str, disabled: bool) -> None:
        """Disable or enable the key."""
        table = self._table
        await conn.execute(update(table).where(table.c.id == key_id).values(disabled=disabled))

    async def used(self, conn: AsyncConnection, key_id: str, at: datetime) -> None:
        """Note that the key logged in at ``at``."""
        table = self._table
        await conn.execute(update(table).where(table.c.id == key_id).values(last_used_at=at))
