"""The API key rows: found by the key's digest, and only by their owner."""

from __future__ import annotations

from bastion.store import Store
from bastion.store.auth.api_keys import ApiKeyRow, ApiKeyRows
from bastion.store.auth.tables import API_KEY_TABLE
from bastion.store.ids import new_id
from bastion.tools.clock import FrozenClock


async def test_an_api_key_is_found_by_its_digest_and_only_by_its_owner(
    store: Store, clock: FrozenClock
) -> None:
    keys = ApiKeyRows(store.tables.metadata.tables[API_KEY_TABLE])
    async with store.db.write() as conn:
        owner = await store.writer.create(conn, "User", {})
        other = await store.writer.create(conn, "User", {})
        key = ApiKeyRow(new_id(), owner, "ci", False, clock(), None)
        await keys.add(conn, key, "a" * 64)
    async with store.db.read() as conn:
        assert await keys.by_digest(conn, "a" * 64) == key
        assert await keys.get(conn, other, key.id) is None
        assert await keys.name_taken(conn, owner, "ci")
        assert await keys.count_of(conn, other) == 0
