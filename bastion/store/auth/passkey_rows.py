"""The statements over the passkey tables (:mod:`bastion.store.auth.passkey_tables`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class PasskeyRow:
    """One stored passkey."""

    id: str
    user_id: str
    name: str
    public_key: bytes
    sign_count: int
    transports: list[str]
    created_at: datetime
    last_used_at: datetime | None


def _row(row: object) -> PasskeyRow:
    r = row._mapping  # type: ignore[attr-defined]
    return PasskeyRow(
        r["id"],
        r["user_id"],
        r["name"],
        bytes(r["public_key"]),
        int(r["sign_count"]),
        json.loads(r["transports"]) if r["transports"] else [],
        r["created_at"],
        r["last_used_at"],
    )


@dataclass(frozen=True)
class ChallengeRow:
    """A ceremony's challenge as stored."""

    digest: str
    purpose: str
    user_id: str | None
    expires_at: datetime


class PasskeyRows:
    """Reads and writes of the passkey and challenge tables."""

    def __init__(self, passkeys: Table, challenges: Table) -> None:
        self._passkeys = passkeys
        self._challenges = challenges
        # Every login with a password counts the user's passkeys: built once.
        self._count = select(func.count()).where(passkeys.c.user_id == bindparam("user"))

    async def add(self, conn: AsyncConnection, row: PasskeyRow) -> None:
        """Store a new passkey."""
        await conn.execute(
            self._passkeys.insert().values(
                id=row.id,
                user_id=row.user_id,
                name=row.name,
                public_key=row.public_key,
                sign_count=row.sign_count,
                transports=json.dumps(row.transports),
                created_at=row.created_at,
                last_used_at=row.last_used_at,
            )
        )

    async def get(self, conn: AsyncConnection, credential_id: str) -> PasskeyRow | None:
        """The passkey with this credential id."""
        table = self._passkeys
        found = (await conn.execute(select(table).where(table.c.id == credential_id))).first()
        return None if found is None else _row(found)

    async def of(self, conn: AsyncConnection, user_id: str) -> list[PasskeyRow]:
        """The user's passkeys, oldest first."""
        table = self._passkeys
        rows = await conn.execute(
            select(table).where(table.c.user_id == user_id).order_by(table.c.created_at)
        )
        return [_row(r) for r in rows]

    async def count(self, conn: AsyncConnection, user_id: str) -> int:
        """How many passkeys the user holds."""
        found = await conn.execute(self._count, {"user": user_id})
        return int(found.scalar_one())

    async def used(
        self,
        conn: AsyncConnection,
        credential_id: str,
        old_count: int,
        new_count: int,
        at: datetime,
    ) -> bool:
        """Record a use; False when another use moved the counter meanwhile."""
        table = self._passkeys
        done = await conn.execute(
            update(table)
            .where(table.c.id == credential_id, table.c.sign_count == old_count)
            .values(sign_count=new_count, last_used_at=at)
        )
        return done.rowcount == 1

    async def remove(self, conn: AsyncConnection, user_id: str, credential_id: str) -> bool:
        """Delete the user's passkey; False when they hold none with this id."""
        table = self._passkeys
        done = await conn.execute(
            delete(table).where(table.c.id == credential_id, table.c.user_id == user_id)
        )
        return done.rowcount == 1

    async def add_challenge(self, conn: AsyncConnection, row: ChallengeRow, now: datetime) -> None:
        """Store a challenge, dropping the expired ones."""
        table = self._challenges
        await conn.execute(delete(table).where(table.c.expires_at <= now))
        await conn.execute(table.insert().values(**row.__dict__))

    async def take_challenge(self, conn: AsyncConnection, digest: str) -> ChallengeRow | None:
        """The challenge with this digest, removed (None: unknown or answered already)."""
        table = self._challenges
        found = (await conn.execute(select(table).where(table.c.digest == digest))).first()
        if found is None:
            return None
        done = await conn.execute(delete(table).where(table.c.digest == digest))
        return ChallengeRow(**found._mapping) if done.rowcount == 1 else None
