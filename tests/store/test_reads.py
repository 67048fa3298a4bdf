"""Reads the write checks rely on: the ids among some that match a condition, and the nodes
they link to."""

from __future__ import annotations

from bastion.store import Store


async def test_write_checks_read_ids_and_links_through_the_reader(store: Store) -> None:
    async with store.db.write() as conn:
        ann = await store.writer.create(conn, "User", {})
        notes = [
            await store.writer.create(
                conn, "Note", {"text": "a", "author": {"connect": {"id": ann}}}
            ),
            await store.writer.create(
                conn, "Note", {"text": "b", "author": {"connect": {"id": ann}}}
            ),
            await store.writer.create(conn, "Note", {"text": "c"}),
        ]
    table = store.tables["Note"]
    async with store.db.read() as conn:
        matching = await store.reader.ids_matching(conn, "Note", notes, table.c.text != "b")
        assert matching == {notes[0], notes[2]}
        assert await store.reader.linked_ids(conn, "Note", "authorId", notes) == [ann]
