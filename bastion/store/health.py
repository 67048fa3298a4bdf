"""What the readiness check asks the database: does it take a write, and which model does it
hold.

Both are cheap enough to run on every ``/readyz`` request: the write probe is an ``UPDATE``
that matches no row, rolled back (SQLite refuses it on a read-only file at once, PostgreSQL in
a read-only transaction or on a standby), and the model stamp is the two rows the start-up sync
writes into ``_bastion_meta``.
"""

from __future__ import annotations

from sqlalchemy import MetaData, false, select

from bastion.store.auth.tables import META_TABLE
from bastion.store.database import Database

# The rows that say which model the database holds (bastion.store.sync writes them).
_STAMP_KEYS = ("model_tables", "model_columns")


async def probe_write(db: Database, metadata: MetaData) -> None:
    """Raise the database's own error when it would refuse a write; change nothing."""
    meta = metadata.tables[META_TABLE]
    async with db.engine.connect() as conn:
        await conn.execution_options(bastion_write=True)
        transaction = await conn.begin()
        try:
            await conn.execute(meta.update().where(false()).values(value=meta.c.value))
        finally:
            await transaction.rollback()


async def model_stamp(db: Database, metadata: MetaData) -> str:
    """The stored description of the model, as one string: a deploy changes it."""
    meta = metadata.tables[META_TABLE]
    async with db.read() as conn:
        rows = await conn.execute(
            select(meta.c.key, meta.c.value).where(meta.c.key.in_(_STAMP_KEYS)).order_by(meta.c.key)
        )
        return "\n".join(f"{key}={value}" for key, value in rows)
