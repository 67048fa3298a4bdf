"""Whether the project's seed file has run: one marker, set once."""

from __future__ import annotations

from bastion.store import Store
from bastion.store.seed_marker import is_seeded, mark_seeded


async def test_the_seed_marker_is_set_once(store: Store) -> None:
    async with store.db.read() as conn:
        assert not await is_seeded(conn, store.tables)
    async with store.db.write() as conn:
        await mark_seeded(conn, store.tables)
    async with store.db.read() as conn:
        assert await is_seeded(conn, store.tables)
