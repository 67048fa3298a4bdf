"""The rows of the signing-key table: the statements, each on the caller's connection.

What a key is (its material, its status) is :mod:`bastion.auth.key_store`'s and
:mod:`bastion.auth.keys`'s business; here a key is a kid, an algorithm, its dates and its
sealed bytes. The one rule kept here: ``signed_until`` only ever goes up, whatever the order
in which processes record what they signed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.store.auth.meta import KeyTaken


@dataclass(frozen=True)
class KeyRow:
    """One stored key (its private part sealed)."""

    kid: str
    algorithm: str
    created_at: datetime | None
    activates_at: datetime | None
    retired_at: datetime | None
    signed_until: datetime | None
    sealed_key: bytes


class SigningKeyRows:
    """The statements over the signing-key table."""

    def __init__(self, table: Table) -> None:
        self._table = table

    async def all(self, conn: AsyncConnection) -> list[KeyRow]:
        """Every stored key, by kid."""
        t = self._table
        result = await conn.execute(select(t).order_by(t.c.kid))
        return [
            KeyRow(
                r.kid,
                r.algorithm,
                r.created_at,
                r.activates_at,
                r.retired_at,
                r.signed_until,
                bytes(r.sealed_key),
            )
            for r in result
        ]

    async def add(self, conn: AsyncConnection, row: KeyRow) -> None:
        """Store a new key; raises :class:`KeyTaken` when its kid is stored already."""
        values = {
            "kid": row.kid,
            "algorithm": row.algorithm,
            "created_at": row.created_at,
            "activates_at": row.activates_at,
            "retired_at": row.retired_at,
            "signed_until": row.signed_until,
            "sealed_key": row.sealed_key,
        }
        try:
            await conn.execute(insert(self._table).values(**values))
        except IntegrityError as taken:
            raise KeyTaken(f"{self._table.name}.{row.kid}") from taken

    async def retire_others(self, conn: AsyncConnection, kid: str, at: datetime) -> None:
        """Date every key but ``kid`` that has no retirement yet retired at ``at``."""
        t = self._table
        await conn.execute(
            update(t).where(t.c.kid != kid, t.c.retired_at.is_(None)).values(retired_at=at)
        )

    async def raise_signed_until(self, conn: AsyncConnection, kid: str, until: datetime) -> None:
        """Record that ``kid`` signed a token living until ``until``, unless a later expiry
        is recorded already."""
        t = self._table
        await conn.execute(
            update(t)
            .where(t.c.kid == kid, or_(t.c.signed_until.is_(None), t.c.signed_until < until))
            .values(signed_until=until)
        )

    async def reseal(self, conn: AsyncConnection, kid: str, sealed_key: bytes) -> None:
        """Replace the sealed private part of ``kid`` (the server secret changed)."""
        t = self._table
        await conn.execute(update(t).where(t.c.kid == kid).values(sealed_key=sealed_key))

    async def remove(self, conn: AsyncConnection, kids: Iterable[str]) -> None:
        """Delete the keys ``kids``."""
        names = list(kids)
        if names:
            await conn.execute(delete(self._table).where(self._table.c.kid.in_(names)))
