"""Issuing: a session's refresh token is random, opaque, and stored only as its SHA-256."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from bastion.store.auth.tables import REFRESH_TABLE
from tests.auth.conftest import Auth


async def test_refresh_tokens_are_opaque_and_stored_as_sha256(auth: Auth) -> None:
    pair = await auth.register("ann@example.com")
    refresh = pair["refreshToken"]
    assert refresh.count(".") == 0
    assert len(refresh) == 43  # 256 bits in unpadded base64url
    table = auth.service.store.tables.metadata.tables[REFRESH_TABLE]
    async with auth.service.store.db.read() as conn:
        rows = (await conn.execute(select(table))).mappings().all()
    assert [row["hash"] for row in rows] == [hashlib.sha256(refresh.encode()).hexdigest()]
    assert all(refresh not in str(value) for row in rows for value in row.values())
