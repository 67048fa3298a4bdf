"""The rows of tokens sent by mail, and of addresses awaiting confirmation.

``bastion.auth.email.tokens`` decides what makes a token valid (its purpose, its address, its
age, its attempt budget); these are its statements, each on the caller's connection. Only
digests are stored: the token itself and the short code exist only in the mail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class EmailTokenRow:
    """One stored token."""

    id: str
    purpose: str
    email: str
    user_id: str | None
    token_hash: str
    code_hash: str | None
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    attempts: int


class EmailTokenRows:
    """Reads and writes of the email token table."""

    def __init__(self, table: Table) -> None:
        self._table = table

    async def add(self, conn: AsyncConnection, row: EmailTokenRow) -> None:
        """Store a new token."""
        await conn.execute(
            insert(self._table).values(
                id=row.id,
                purpose=row.purpose,
                email=row.email,
                user_id=row.user_id,
                token_hash=row.token_hash,
                code_hash=row.code_hash,
                created_at=row.created_at,
                expires_at=row.expires_at,
                used_at=None,
                attempts=0,
            )
        )

    async def get(self, conn: AsyncConnection, token_id: str) -> EmailTokenRow | None:
        """The token with this id, if any."""
        table = self._table
        row = (await conn.execute(select(table).where(table.c.id == token_id))).first()
        return _row(row) if row is not None else None

    async def latest(
        self, conn: AsyncConnection, email: str, purpose: str, now: datetime
    ) -> EmailTokenRow | None:
        """The newest unused, unexpired token of ``purpose`` sent to ``email``."""
        table = self._table
        query = (
            select(table)
            .where(
                table.c.email == email,
                table.c.purpose == purpose,
                table.c.used_at.is_(None),
                table.c.expires_at > now,
            )
            .order_by(table.c.created_at.desc(), table.c.id.desc())
            .limit(1)
        )
        row = (await conn.execute(query)).first()
        return _row(row) if row is not None else None

    async def sent_since(
        self, conn: AsyncConnection, email: str, purpose: str, since: datetime
    ) -> int:
        """How many tokens of ``purpose`` were sent to ``email`` since ``since``."""
        table = self._table
        query = select(func.count()).where(
            table.c.email == email, table.c.purpose == purpose, table.c.created_at >= since
        )
        return int((await conn.execute(query)).scalar_one())

    async def count_attempt(self, conn: AsyncConnection, token_id: str) -> int:
        """Add one to the token's attempts; the new count."""
        table = self._table
        await conn.execute(
            update(table).where(table.c.id == token_id).values(attempts=table.c.attempts + 1)
        )
        found = await conn.execute(select(table.c.attempts).where(table.c.id == token_id))
        return int(found.scalar_one())

    async def use(self, conn: AsyncConnection, token_id: str, at: datetime) -> bool:
        """Mark the token used; False when it was used already (a concurrent use won)."""
        table = self._table
        done = await conn.execute(
            update(table)
            .where(table.c.id == token_id, table.c.used_at.is_(None))
            .values(used_at=at)
        )
        return done.rowcount == 1

    async def retire(self, conn: AsyncConnection, email: str, purpose: str, at: datetime) -> None:
        """Mark every unused token of ``purpose`` sent to ``email`` used (a newer one won)."""
        table = self._table
        await conn.execute(
            update(table)
            .where(table.c.email == email, table.c.purpose == purpose, table.c.used_at.is_(None))
            .values(used_at=at)
        )

    async def prune(self, conn: AsyncConnection, before: datetime) -> None:
        """Delete tokens that expired before ``before``."""
        await conn.execute(delete(self._table).where(self._table.c.expires_at < before))


def _row(r: Row[Any]) -> EmailTokenRow:
    return EmailTokenRow(
        r.id,
        r.purpose,
        r.email,
        r.user_id,
        r.token_hash,
        r.code_hash,
        r.created_at,
        r.expires_at,
        r.used_at,
        int(r.attempts),
    )


class PendingRows:
    """Users whose address awaits confirmation."""

    def __init__(self, table: Table) -> None:
        self._table = table

    async def add(self, conn: AsyncConnection, user_id: str, at: datetime) -> None:
        """Note that the user's address awaits confirmation."""
        await conn.execute(insert(self._table).values(user_id=user_id, created_at=at))

    async def holds(self, conn: AsyncConnection, user_id: str) -> bool:
        """Whether the user's address awaits confirmation."""
        table = self._table
        found = await conn.execute(select(table.c.user_id).where(table.c.user_id == user_id))
        return found.first() is not None

    async def confirm(self, conn: AsyncConnection, user_id: str) -> None:
        """The address is confirmed."""
        await conn.execute(delete(self._table).where(self._table.c.user_id == user_id))
