"""The rows of the rotating refresh tokens of GraphQL sessions, stored as SHA-256 digests.

A refresh token works once. Which of several parallel refreshes of one token wins is decided
by the database, with a conditional UPDATE in :mod:`bastion.store.auth.rotation`: exactly
one of them marks the row used, whatever the number of processes. Here are the other
statements over the table: a token's row read back (for a token the rotation did not claim),
the first token of a session, and the pruning. What a refused or repeated use means (reuse
detection, the grace interval) is :mod:`bastion.auth.sessions`' business; :func:`alive` is
what both modules ask of a token's session.

The statements of a refresh are built once, with bound parameters, and executed with their
values: building a statement anew for each call (its clauses, its cache key) cost SQLAlchemy
more CPU than the database took to run it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Table, and_, bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class RefreshTokenRow:
    """A refresh token's row, with what its session and its user say."""

    session_id: str
    used_at: datetime | None
    expires_at: datetime
    user_id: str
    session_end: datetime  # the session's absolute end
    revoked_at: datetime | None  # the session's revocation
    device_id: str | None
    user_data: str | None  # JSON
    user_active: bool
    alive: bool  # whether its session may still be used (:func:`alive`)


def alive(sessions: Table, users: Table, now: BindParameter[datetime]) -> ColumnElement[bool]:
    """Whether a session, joined with its user, may still be used at ``now``: unrevoked, not
    past its end, its user active. What a refresh asks before it claims a token."""
    return and_(
        sessions.c.revoked_at.is_(None),
        sessions.c.expires_at > now,
        users.c.isActive.is_(True),
    )


def session_columns(sessions: Table, users: Table) -> tuple[ColumnElement[Any], ...]:
    """What a token's row says of its session and user, in :class:`RefreshTokenRow`'s order
    (after the token's own session id, use and end): read by a load and by a rotation."""
    return (
        sessions.c.user_id,
        sessions.c.expires_at.label("session_end"),
        sessions.c.revoked_at,
        sessions.c.device_id,
        sessions.c.user_data,
        users.c.isActive,
    )


class RefreshTokenRows:
    """The statements over the refresh-token table."""

    def __init__(self, refresh: Table, sessions: Table, users: Table) -> None:
        self._refresh = refresh
        self._sessions = sessions
        self._users = users
        digest = refresh.c.hash == bindparam("digest")
        now = bindparam("now", type_=refresh.c.used_at.type)
        self._insert = refresh.insert()
        self._load = (
            select(
                refresh.c.session_id,
                refresh.c.used_at,
                refresh.c.expires_at,
                *session_columns(sessions, users),
                alive(sessions, users, now).label("alive"),
            )
            .join(sessions, sessions.c.id == refresh.c.session_id)
            .join(users, users.c.id == sessions.c.user_id)
            .where(digest)
        )
        self._expiry = select(refresh.c.expires_at).where(digest)
        self._session_of = select(refresh.c.session_id).where(digest)

    async def insert(
        self,
        conn: AsyncConnection,
        digest: str,
        session_id: str,
        created_at: datetime,
        expires_at: datetime,
    ) -> None:
        """Write an unused refresh token of the session."""
        await conn.execute(
            self._insert,
            {
                "hash": digest,
                "session_id": session_id,
                "created_at": created_at,
                "expires_at": expires_at,
                "used_at": None,
            },
        )

    async def load(
        self, conn: AsyncConnection, digest: str, now: datetime
    ) -> RefreshTokenRow | None:
        """The token's row with its session's and its user's at ``now``, or None when it is
        unknown."""
        row = (await conn.execute(self._load, {"digest": digest, "now": now})).first()
        if row is None:
            return None
        return RefreshTokenRow(
            session_id=row.session_id,
            used_at=row.used_at,
            expires_at=row.expires_at,
            user_id=row.user_id,
            session_end=row.session_end,
            revoked_at=row.revoked_at,
            device_id=row.device_id,
            user_data=row.user_data,
            user_active=bool(row.isActive),
            alive=bool(row.alive),
        )

    async def expiry(self, conn: AsyncConnection, digest: str) -> datetime | None:
        """When the token stops working, or None when it is unknown."""
        found: datetime | None = (
            await conn.execute(self._expiry, {"digest": digest})
        ).scalar_one_or_none()
        return found

    async def session_of(self, conn: AsyncConnection, digest: str) -> str | None:
        """The id of the token's session, or None when it is unknown."""
        found: str | None = (
            await conn.execute(self._session_of, {"digest": digest})
        ).scalar_one_or_none()
        return found


async def prune_expired(
    conn: AsyncConnection, refresh: Table, before: datetime, *, dry_run: bool = False
) -> int:
    """Delete the refresh tokens that expired before ``before``, used or not; how many (would)
    go. A used token whose session lives is kept until it expires: reuse detection needs it."""
    condition = refresh.c.expires_at < before
    if dry_run:
        found = await conn.scalar(select(func.count()).select_from(refresh).where(condition))
        return int(found or 0)
    result = await conn.execute(delete(refresh).where(condition))
    return int(result.rowcount)
