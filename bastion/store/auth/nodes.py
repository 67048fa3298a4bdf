"""Whether the node a token stands for is still there (:mod:`bastion.auth.node_tokens`)."""

from __future__ import annotations

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection


async def node_exists(
    conn: AsyncConnection, table: Table, node_id: str, *, active: bool = False
) -> bool:
    """Whether ``table`` holds the row ``node_id`` (and, with ``active``, its ``isActive``
    is true: a User's)."""
    query = select(table.c.id).where(table.c.id == node_id)
    if active:
        query = query.where(table.c.isActive.is_(True))
    return (await conn.execute(query)).first() is not None
