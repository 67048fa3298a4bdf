"""The statements over the OpenID sign-in tables (:mod:`bastion.store.auth.openid_tables`).

Taking a row is one DELETE whose count says whether this caller got it, so two requests with
one state, one code or one nonce cannot both succeed. Expired rows go as new ones come.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class FlowRow:
    """A browser flow in progress."""

    state_digest: str
    provider: str
    browser_digest: str
    nonce: str
    verifier: str
    redirect_url: str
    app_challenge: str
    callback_url: str
    expires_at: datetime


@dataclass(frozen=True)
class CodeRow:
    """A one-time code's identity, waiting for the app."""

    digest: str
    provider: str
    identity: str  # JSON
    app_challenge: str
    expires_at: datetime


async def _take(conn: AsyncConnection, table: Table, column: str, key: str) -> Any:
    row = (await conn.execute(select(table).where(table.c[column] == key))).first()
    if row is None:
        return None
    done = await conn.execute(delete(table).where(table.c[column] == key))
    return row if done.rowcount == 1 else None


class OpenIdRows:
    """Reads and writes of the flow, code and used-nonce tables."""

    def __init__(self, flows: Table, codes: Table, used: Table) -> None:
        self._flows = flows
        self._codes = codes
        self._used = used

    async def add_flow(self, conn: AsyncConnection, flow: FlowRow, now: datetime) -> None:
        """Store a new flow, dropping the expired ones."""
        await conn.execute(delete(self._flows).where(self._flows.c.expires_at <= now))
        await conn.execute(self._flows.insert().values(**flow.__dict__))

    async def take_flow(self, conn: AsyncConnection, state_digest: str) -> FlowRow | None:
        """The flow of this state, removed (None: unknown or taken already)."""
        row = await _take(conn, self._flows, "state_digest", state_digest)
        return None if row is None else FlowRow(**row._mapping)

    async def add_code(self, conn: AsyncConnection, code: CodeRow, now: datetime) -> None:
        """Store a new one-time code, dropping the expired ones."""
        await conn.execute(delete(self._codes).where(self._codes.c.expires_at <= now))
        await conn.execute(self._codes.insert().values(**code.__dict__))

    async def take_code(self, conn: AsyncConnection, digest: str) -> CodeRow | None:
        """The code with this digest, removed (None: unknown or used already)."""
        row = await _take(conn, self._codes, "digest", digest)
        return None if row is None else CodeRow(**row._mapping)

    async def use_nonce(
        self, conn: AsyncConnection, digest: str, expires_at: datetime, now: datetime
    ) -> bool:
        """Record a nonce as used until ``expires_at``; False when it was used already."""
        used = self._used
        await conn.execute(delete(used).where(used.c.expires_at <= now))
        if (await conn.execute(select(used.c.digest).where(used.c.digest == digest))).first():
            return False
        # A concurrent insert of the same digest fails the primary key: the caller's
        # transaction ends in an error and that second use is refused all the same.
        await conn.execute(used.insert().values(digest=digest, expires_at=expires_at))
        return True
