"""Whether the project's seed file has run: one row of ``_bastion_meta``.

A new database is seeded once, when it is first served; the marker keeps a restart (or a
second worker) from running the seed again. What seeding does is the project's business
(``bastion.project.service``); remembering that it happened is the store's.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.store.auth.tables import META_TABLE
from bastion.store.tables import Tables

_SEEDED_KEY = "seeded"


async def is_seeded(conn: AsyncConnection, tables: Tables) -> bool:
    """Whether the seed ran on this database already."""
    meta = tables.metadata.tables[META_TABLE]
    found = await conn.execute(select(meta.c.value).where(meta.c.key == _SEEDED_KEY))
    return found.first() is not None


async def mark_seeded(conn: AsyncConnection, tables: Tables) -> None:
    """Remember that the seed ran (in the caller's write transaction)."""
    meta = tables.metadata.tables[META_TABLE]
    await conn.execute(meta.insert().values(key=_SEEDED_KEY, value="true"))
