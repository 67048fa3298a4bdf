"""The LISTEN connection: it hears an event as its transaction commits, never one rolled back,
and says when it is lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.engine import make_url

from bastion.model import parse_model
from bastion.store import Store, open_store
from bastion.store.auth.events import CHANNEL, EventRow, EventRows, from_payload, payload
from bastion.store.auth.tables import EVENT_TABLE
from bastion.store.notifications import Listener
from bastion.tools.clock import FrozenClock, system_clock
from tests.postgres_db import throwaway_database


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    async with throwaway_database() as database_url:
        url = make_url(database_url).set(drivername="postgresql+asyncpg")
        opened = open_store(parse_model(""), url, FrozenClock())
        await opened.sync()
        yield opened
        await opened.close()


async def test_a_notification_arrives_on_commit_and_not_on_rollback(store: Store) -> None:
    heard = asyncio.Event()
    payloads: list[str] = []

    def hear(payload: str) -> None:
        payloads.append(payload)
        heard.set()

    listener = Listener(store.db.url, CHANNEL, hear)
    await listener.connect()
    rows = EventRows(store.tables.metadata.tables[EVENT_TABLE], notify=True)
    try:
        assert listener.alive
        with pytest.raises(RuntimeError):
            async with store.db.write() as conn:
                await rows.append(conn, system_clock(), "a", "sessions_ended", "[]")
                raise RuntimeError("rolled back")
        async with store.db.write() as conn:
            await rows.append(conn, system_clock(), "a", "sessions_ended", "[]")
            assert not heard.is_set()  # PostgreSQL holds it until the commit
        await asyncio.wait_for(heard.wait(), 5)
    finally:
        await listener.close()
    assert not listener.alive
    # One notification, for the committed event, carrying it whole.
    assert len(payloads) == 1
    event = from_payload(payloads[0])
    assert event is not None
    assert (event.origin, event.kind, event.body) == ("a", "sessions_ended", "[]")


def test_an_event_too_long_for_a_notification_is_sent_without_it() -> None:
    assert from_payload(payload(7, "a", "sessions_ended", "[]")) == EventRow(
        7, "a", "sessions_ended", "[]"
    )
    assert payload(7, "a", "sessions_ended", "x" * 8000) == ""
    assert from_payload("") is None
    assert from_payload("{not json") is None


async def test_a_listener_that_cannot_connect_raises_and_is_not_alive() -> None:
    url = make_url("postgresql+asyncpg://root@127.0.0.1:1/nowhere")
    listener = Listener(url, CHANNEL, lambda _payload: None)
    with pytest.raises(OSError):
        await listener.connect()
    assert not listener.alive
