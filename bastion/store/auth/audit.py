"""The rows of the audit log: written one by one, read back newest first or as a feed.

What an event is, and what of it may be kept, is :mod:`bastion.auth.audit`'s business; a row
arrives here ready to be stored (``detail`` already JSON, a client's text already checked).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class AuditRow:
    """One row of the audit table (``id`` is given by the database)."""

    at: datetime
    type: str
    security: bool
    user_id: str | None = None
    provider: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    session_id: str | None = None
    detail: str | None = None  # JSON
    id: int | None = None


# The columns a new row writes: all but ``id``, which the database numbers.
_WRITTEN = tuple(f.name for f in fields(AuditRow) if f.name != "id")


@dataclass(frozen=True)
class AuditQuery:
    """Which rows to read: all of ``types`` (or any type), of ``user_id`` (or anyone's),
    with ids after ``after`` and before ``before``; at most ``limit``."""

    limit: int = 50
    types: Sequence[str] = ()
    user_id: str | None = None
    after: int | None = None
    before: int | None = None


class AuditRows:
    """The statements over the audit table."""

    def __init__(self, table: Table) -> None:
        self._table = table
        # Built once, executed with each row's values: every login and refresh writes a row.
        self._insert = insert(table)

    async def insert(self, conn: AsyncConnection, row: AuditRow) -> None:
        """Write ``row`` (its ``id`` is ignored: the database numbers the rows)."""
        values = {name: getattr(row, name) for name in _WRITTEN}
        await conn.execute(self._insert, values)

    async def read(self, conn: AsyncConnection, query: AuditQuery) -> list[AuditRow]:
        """The rows ``query`` names: the newest first, or the oldest first after ``after``
        (a feed read forward from the last id it saw)."""
        table = self._table
        statement = select(table)
        if query.types:
            statement = statement.where(table.c.type.in_(list(query.types)))
        if query.user_id is not None:
            statement = statement.where(table.c.user_id == query.user_id)
        if query.before is not None:
            statement = statement.where(table.c.id < query.before)
        if query.after is not None:
            statement = statement.where(table.c.id > query.after).order_by(table.c.id.asc())
        else:
            statement = statement.order_by(table.c.id.desc())
        rows = (await conn.execute(statement.limit(query.limit))).mappings().all()
        return [
            AuditRow(
                at=r["at"],
                type=r["type"],
                security=r["security"],
                user_id=r["user_id"],
                provider=r["provider"],
                ip=r["ip"],
                user_agent=r["user_agent"],
                session_id=r["session_id"],
                detail=r["detail"],
                id=r["id"],
            )
            for r in rows
        ]


async def prune_older(
    conn: AsyncConnection, audit: Table, before: datetime, *, dry_run: bool = False
) -> int:
    """Delete the audit events recorded before ``before``; how many (would) go."""
    condition = audit.c.at < before
    if dry_run:
        found = await conn.scalar(select(func.count()).select_from(audit).where(condition))
        return int(found or 0)
    result = await conn.execute(delete(audit).where(condition))
    return int(result.rowcount)
