"""Throwaway PostgreSQL databases for the tests of several processes on one database.

The server of the tests (127.0.0.1:5432, user root, trust) is where CI runs one; each
database made here is new and empty, and dropped (with its connections) afterwards.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

SERVER = "postgresql://root@127.0.0.1:5432"


async def _run(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(f"{SERVER}/postgres")
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@asynccontextmanager
async def throwaway_database() -> AsyncIterator[str]:
    """The ``database.url`` of a new, empty PostgreSQL database, dropped on exit."""
    name = f"bastion_test_{secrets.token_hex(6)}"
    await _run(f'CREATE DATABASE "{name}"')
    try:
        yield f"{SERVER}/{name}"
    finally:
        await _run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def throwaway_database_for_processes() -> Iterator[str]:
    """:func:`throwaway_database` for a test without an event loop (one of processes)."""
    name = f"bastion_test_{secrets.token_hex(6)}"
    asyncio.run(_run(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{SERVER}/{name}"
    finally:
        asyncio.run(_run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
