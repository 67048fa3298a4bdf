"""The statements over the second-factor tables (:mod:`bastion.store.auth.factor_tables`).

:mod:`bastion.auth.factors` decides what a factor is; these run on the caller's connection.
The two single-use rules are single statements, so two requests racing with one code cannot
both succeed: a step is taken by an UPDATE that only moves ``last_step`` forward, a recovery
code by the DELETE of its row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class TotpRow:
    """A user's authenticator: its sealed secret and whether it was confirmed."""

    user_id: str
    sealed_secret: bytes
    created_at: datetime
    confirmed_at: datetime | None
    last_step: int | None


class TotpRows:
    """Reads and writes of the TOTP table."""

    def __init__(self, table: Table) -> None:
        self._table = table
        # Every login with a password looks for an authenticator: built once.
        self._get = select(table).where(table.c.user_id == bindparam("user"))

    async def get(self, conn: AsyncConnection, user_id: str) -> TotpRow | None:
        """The user's authenticator, if they enrolled one."""
        row = (await conn.execute(self._get, {"user": user_id})).first()
        if row is None:
            return None
        return TotpRow(
            row.user_id, bytes(row.sealed_secret), row.created_at, row.confirmed_at, row.last_step
        )

    async def replace(
        self, conn: AsyncConnection, user_id: str, sealed: bytes, at: datetime
    ) -> None:
        """Store a new, unconfirmed authenticator in place of any unconfirmed one."""
        table = self._table
        await conn.execute(delete(table).where(table.c.user_id == user_id))
        await conn.execute(
            table.insert().values(
                user_id=user_id, sealed_secret=sealed, created_at=at, confirmed_at=None
            )
        )

    async def take_step(self, conn: AsyncConnection, user_id: str, step: int) -> bool:
        """Record ``step`` as used; False when it (or a later one) was used already."""
        table = self._table
        done = await conn.execute(
            update(table)
            .where(
                table.c.user_id == user_id,
                or_(table.c.last_step.is_(None), table.c.last_step < step),
            )
            .values(last_step=step)
        )
        return done.rowcount == 1

    async def confirm(self, conn: AsyncConnection, user_id: str, at: datetime) -> None:
        """Mark the user's authenticator confirmed."""
        table = self._table
        await conn.execute(update(table).where(table.c.user_id == user_id).values(confirmed_at=at))

    async def remove(self, conn: AsyncConnection, user_id: str) -> None:
        """Forget the user's authenticator."""
        await conn.execute(delete(self._table).where(self._table.c.user_id == user_id))


class RecoveryCodeRows:
    """Reads and writes of the recovery code table."""

    def __init__(self, table: Table) -> None:
        self._table = table

    async def replace(
        self, conn: AsyncConnection, user_id: str, digests: Sequence[str], at: datetime
    ) -> None:
        """Replace the user's codes by those with these digests."""
        table = self._table
        await conn.execute(delete(table).where(table.c.user_id == user_id))
        if digests:
            await conn.execute(
                table.insert(),
                [{"digest": d, "user_id": user_id, "created_at": at} for d in digests],
            )

    async def take(self, conn: AsyncConnection, user_id: str, digest: str) -> bool:
        """Use up the user's code with this digest; False when there is none."""
        table = self._table
        done = await conn.execute(
            delete(table).where(table.c.user_id == user_id, table.c.digest == digest)
        )
        return done.rowcount == 1

    async def count(self, conn: AsyncConnection, user_id: str) -> int:
        """How many unused codes the user holds."""
        table = self._table
        found = await conn.execute(select(func.count()).where(table.c.user_id == user_id))
        return int(found.scalar_one())

    async def remove(self, conn: AsyncConnection, user_id: str) -> None:
        """Forget every code of the user."""
        await conn.execute(delete(self._table).where(self._table.c.user_id == user_id))
