"""A refresh's writes (bastion.store.auth.rotation): all of them when the claim wins, else none."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from bastion.store import Store
from bastion.store.auth.audit import AuditRow
from bastion.store.auth.refresh_tokens import RefreshTokenRows
from bastion.store.auth.rotation import Rotation, Rotations
from bastion.store.auth.sessions import NewSession, SessionMatch, SessionRows
from bastion.store.auth.tables import AUDIT_TABLE, REFRESH_TABLE, SESSION_TABLE
from tests.store.auth.conftest import NOW

SESSION_END = NOW + timedelta(days=1)


@pytest.fixture
async def ann(store: Store) -> str:
    """An active user with the session "s1" and its unused refresh token "d1"."""
    tables = store.tables.metadata.tables
    async with store.db.write() as conn:
        user_id = await store.writer.create(conn, "User", {"email": "ann@example.com"})
        new = NewSession("s1", user_id, "local", created_at=NOW, expires_at=SESSION_END)
        await SessionRows(tables[SESSION_TABLE], store.tables["User"]).insert(conn, new)
        await _tokens(store).insert(conn, "d1", "s1", created_at=NOW, expires_at=SESSION_END)
    return user_id


def _tokens(store: Store) -> RefreshTokenRows:
    tables = store.tables.metadata.tables
    return RefreshTokenRows(tables[REFRESH_TABLE], tables[SESSION_TABLE], store.tables["User"])


def _rotations(store: Store) -> Rotations:
    tables = store.tables.metadata.tables
    return Rotations(
        tables[REFRESH_TABLE], tables[SESSION_TABLE], store.tables["User"], tables[AUDIT_TABLE]
    )


def _rotation(at: datetime = NOW, successor: str = "d2") -> Rotation:
    audit = AuditRow(at=at, type="refresh", security=False, ip="10.0.0.1")
    return Rotation("d1", successor, at, at + timedelta(days=30), audit)


async def _count(store: Store, table: str) -> int:
    async with store.db.read() as conn:
        found = await conn.scalar(
            select(func.count()).select_from(store.tables.metadata.tables[table])
        )
    return int(found or 0)


async def test_of_parallel_rotations_of_one_token_exactly_one_writes(
    store: Store, ann: str
) -> None:
    rotations = _rotations(store)
    found = await asyncio.gather(
        *(rotations.rotate(store.db, _rotation(successor=f"n{i}")) for i in range(5))
    )
    won = [row for row in found if row is not None]
    assert len(won) == 1
    row = won[0]
    assert (row.session_id, row.user_id, row.used_at, row.session_end) == (
        "s1",
        ann,
        NOW,
        SESSION_END,
    )
    assert row.alive and row.user_active and row.revoked_at is None
    async with store.db.read() as conn:
        claimed = await _tokens(store).load(conn, "d1", NOW)
        assert claimed is not None and claimed.used_at == NOW
        successors = [f"n{i}" for i in range(5)]
        made = [d for d in successors if await _tokens(store).expiry(conn, d) is not None]
        # The winner's successor, ending with the session (sooner than the refresh lifetime).
        assert len(made) == 1 and await _tokens(store).expiry(conn, made[0]) == SESSION_END
        audit = store.tables.metadata.tables[AUDIT_TABLE]
        (logged,) = (await conn.execute(select(audit))).mappings().all()
    assert (logged["type"], logged["user_id"], logged["session_id"]) == ("refresh", ann, "s1")
    assert (logged["ip"], logged["at"], logged["security"]) == ("10.0.0.1", NOW, False)


async def test_the_session_is_touched(store: Store, ann: str) -> None:
    later = NOW + timedelta(hours=1)
    assert await _rotations(store).rotate(store.db, _rotation(at=later)) is not None
    tables = store.tables.metadata.tables
    async with store.db.read() as conn:
        (live,) = await SessionRows(tables[SESSION_TABLE], store.tables["User"]).live(
            conn, ann, later, NOW
        )
    assert live.last_used_at == later


async def _revoke(store: Store, _user: str) -> None:
    tables = store.tables.metadata.tables
    async with store.db.write() as conn:
        rows = SessionRows(tables[SESSION_TABLE], store.tables["User"])
        await rows.revoke(conn, SessionMatch(session_id="s1"), NOW)


async def _deactivate(store: Store, user: str) -> None:
    users = store.tables["User"]
    async with store.db.write() as conn:
        await conn.execute(update(users).where(users.c.id == user).values(isActive=False))


async def _use(store: Store, _user: str) -> None:
    assert await _rotations(store).rotate(store.db, _rotation()) is not None


async def _nothing(_store: Store, _user: str) -> None:
    pass


@pytest.mark.parametrize(
    ("before", "at"),
    [
        (_nothing, SESSION_END),  # the token and its session are over
        (_revoke, NOW),
        (_deactivate, NOW),
        (_use, NOW),
    ],
    ids=["expired", "revoked", "user inactive", "used"],
)
async def test_a_token_not_claimed_writes_nothing(
    store: Store, ann: str, before: Callable[[Store, str], Awaitable[None]], at: datetime
) -> None:
    await before(store, ann)
    tokens, audits = await _count(store, REFRESH_TABLE), await _count(store, AUDIT_TABLE)
    async with store.db.read() as conn:
        was = await _tokens(store).load(conn, "d1", at)
    assert await _rotations(store).rotate(store.db, _rotation(at, successor="d3")) is None
    assert (await _count(store, REFRESH_TABLE), await _count(store, AUDIT_TABLE)) == (
        tokens,
        audits,
    )
    async with store.db.read() as conn:
        assert await _tokens(store).load(conn, "d1", at) == was  # still as it was


async def test_an_unknown_token_is_not_claimed(store: Store, ann: str) -> None:
    unknown = Rotation("nobody", "d2", NOW, SESSION_END, _rotation().audit)
    assert await _rotations(store).rotate(store.db, unknown) is None
    assert await _count(store, AUDIT_TABLE) == 0
