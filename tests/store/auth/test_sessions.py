"""The statements of the session family (bastion.store.auth): what each promises its caller."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bastion.store import Store
from bastion.store.auth.meta import Evidence, KeyTaken, MetaRows
from bastion.store.auth.refresh_tokens import RefreshTokenRows
from bastion.store.auth.sessions import NewSession, SessionMatch, SessionRows
from bastion.store.auth.tables import META_TABLE, REFRESH_TABLE, SESSION_TABLE
from tests.store.auth.conftest import NOW

LATER = NOW + timedelta(days=1)


@pytest.fixture
async def users(store: Store) -> tuple[str, str]:
    """Two active users' ids."""
    async with store.db.write() as conn:
        return (
            await store.writer.create(conn, "User", {"email": "ann@example.com"}),
            await store.writer.create(conn, "User", {"email": "bob@example.com"}),
        )


def _sessions(store: Store) -> SessionRows:
    tables = store.tables.metadata.tables
    return SessionRows(tables[SESSION_TABLE], store.tables["User"])


def _refresh(store: Store) -> RefreshTokenRows:
    tables = store.tables.metadata.tables
    return RefreshTokenRows(tables[REFRESH_TABLE], tables[SESSION_TABLE], store.tables["User"])


async def _start(store: Store, session_id: str, user_id: str, **extra: str) -> None:
    async with store.db.write() as conn:
        new = NewSession(session_id, user_id, "local", created_at=NOW, expires_at=LATER, **extra)
        await _sessions(store).insert(conn, new)


async def test_a_tokens_row_says_what_its_session_and_user_say(
    store: Store, users: tuple[str, str]
) -> None:
    ann, _ = users
    await _start(store, "s1", ann)
    rows = _refresh(store)
    async with store.db.write() as conn:
        await rows.insert(conn, "d1", "s1", created_at=NOW, expires_at=LATER)
    async with store.db.read() as conn:
        row = await rows.load(conn, "d1", NOW)
        assert row is not None and row.used_at is None and row.user_id == ann
        assert row.session_end == LATER and row.revoked_at is None and row.user_active
        assert row.alive
        ended = await rows.load(conn, "d1", LATER)  # the session's end
        assert ended is not None and not ended.alive
        assert await rows.load(conn, "unknown", NOW) is None
        assert await rows.session_of(conn, "d1") == "s1"
        assert await rows.expiry(conn, "d1") == LATER


async def test_a_revocation_ends_only_what_it_matches_and_only_once(
    store: Store, users: tuple[str, str]
) -> None:
    ann, bob = users
    for session_id, user_id in (("a", ann), ("b", ann), ("c", bob)):
        await _start(store, session_id, user_id)
    rows = _sessions(store)
    async with store.db.write() as conn:
        ended = await rows.revoke(conn, SessionMatch(user_id=ann, other_than="a"), NOW)
        assert [(e.id, e.user_id) for e in ended] == [("b", ann)]
        assert await rows.revoke(conn, SessionMatch(session_id="b"), NOW) == []  # already
        assert [e.id for e in await rows.revoke(conn, SessionMatch(user_id=ann), NOW)] == ["a"]
        with pytest.raises(ValueError, match="needs a session"):
            await rows.revoke(conn, SessionMatch(other_than="c"), NOW)
    async with store.db.read() as conn:
        state = await rows.state(conn, "c")
        assert state is not None and state.revoked_at is None and state.user_active
        assert state.user["id"] == bob and state.session_end == LATER
        assert await rows.state(conn, "unknown") is None
        since = NOW - timedelta(days=1)
        assert [s.id for s in await rows.live(conn, bob, NOW, since)] == ["c"]
        assert await rows.live(conn, ann, NOW, since) == []


async def test_a_stitch_session_is_found_by_its_token_digest(
    store: Store, users: tuple[str, str]
) -> None:
    await _start(store, "s1", users[0], token_hash="t" * 64)
    async with store.db.read() as conn:
        found = await _sessions(store).by_token(conn, "t" * 64)
        assert found is not None and (found.id, found.user_id) == ("s1", users[0])
        assert await _sessions(store).by_token(conn, "x" * 64) is None


async def test_a_meta_key_is_written_once(store: Store) -> None:
    meta = MetaRows(store.tables.metadata.tables[META_TABLE])
    with pytest.raises(KeyTaken):
        async with store.db.write() as conn:
            await meta.add(conn, "k", "one")
            await meta.add(conn, "k", "two")
    async with store.db.read() as conn:
        assert await meta.get(conn, "k") is None  # the failed transaction left nothing
        assert not await Evidence((store.tables["User"],)).found(conn)
    async with store.db.write() as conn:
        await meta.add(conn, "k", "one")
        await store.writer.create(conn, "User", {"email": "ann@example.com"})
    async with store.db.read() as conn:
        assert await meta.get(conn, "k") == "one"
        assert await Evidence((store.tables["User"],)).found(conn)
