"""The attempt rows: credential attempts per client IP, counted in a moving window.

``bastion.auth.throttle`` uses them when several processes share a PostgreSQL database and no
Redis is configured, so that every node counts the same attempts: N nodes allow the limit, not
N times it. The attempts of one key are serialised by a transaction-scoped advisory lock, so
two nodes never both take the last place in a window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class Counted:
    """Whether an attempt was let through; if not, when the window has room again."""

    allowed: bool
    room_at: datetime | None = None


class AttemptRows:
    """The statements over the attempt table (PostgreSQL: they take advisory locks)."""

    def __init__(self, table: Table) -> None:
        self._table = table

    async def hit(
        self, conn: AsyncConnection, key: str, now: datetime, window: timedelta, limit: int
    ) -> Counted:
        """Count one attempt of ``key`` unless ``limit`` were made in the ``window`` before
        ``now``; in the caller's transaction, which should commit at once."""
        t = self._table
        await conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(key))))
        start = now - window
        await conn.execute(delete(t).where(t.c.key == key, t.c.at <= start))
        count, oldest = (
            await conn.execute(select(func.count(), func.min(t.c.at)).where(t.c.key == key))
        ).one()
        if count >= limit:
            return Counted(False, oldest + window)
        await conn.execute(insert(t).values(key=key, at=now))
        return Counted(True)

    async def prune(self, conn: AsyncConnection, before: datetime) -> int:
        """Delete every attempt made before ``before`` (of keys that stopped trying)."""
        result = await conn.execute(delete(self._table).where(self._table.c.at < before))
        return int(result.rowcount or 0)
