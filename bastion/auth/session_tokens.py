"""The refresh tokens of the Stitch client API, which are session tokens.

realm-web keeps sending the refresh token it got at login and ignores any new one, so on
``/api/client/v2.0/auth/session`` a refresh token cannot be single use: it stays valid until
logout, revocation, deactivation of its user, ``refresh_token_lifetime`` without use, or the
session's absolute end. Only its SHA-256 is stored, on the session row; the rotating refresh
tokens of GraphQL sessions live in another table, so neither refresh accepts the other's
(logging out takes either: :meth:`SessionTokens.end_any`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bastion.auth.audit import AuditEvent, AuditType
from bastion.auth.sessions import RefreshRefused, Sessions, hash_token
from bastion.auth.sessions.values import plausible
from bastion.store.auth.sessions import TokenSessionRow
from bastion.store.database import Database
from bastion.tools.clock import Clock

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class SessionOwner:
    """Whose live session a session token opens."""

    user_id: str
    session_id: str


class SessionTokens:
    """Refresh, identify and end Stitch sessions by their session token."""

    def __init__(self, db: Database, sessions: Sessions, clock: Clock) -> None:
        self._db = db
        self._sessions = sessions
        self._rows = sessions.rows
        self._clock = clock

    async def owner(self, token: str) -> SessionOwner:
        """The live session of ``token``; raises :class:`RefreshRefused` otherwise."""
        async with self._db.read() as conn:
            return self._check(await self._find(conn, token))

    async def refresh(self, token: str, ip: str | None = None) -> str:
        """A new access token of the session; the session token itself stays the same."""
        async with self._db.write() as conn:
            owner = self._check(await self._find(conn, token))
            await self._rows.touch(conn, owner.session_id, self._clock())
            event = AuditEvent(
                AuditType.REFRESH, user_id=owner.user_id, session_id=owner.session_id, ip=ip
            )
            await self._sessions.audit.record(event, conn)
        access = await self._sessions.access_token(owner.session_id)
        if access is None:  # revoked between the commit above and now
            raise RefreshRefused()
        return access

    async def end(self, token: str) -> bool:
        """Log out the session of ``token``; False when no live session has it."""
        try:
            owner = await self.owner(token)
        except RefreshRefused:
            return False
        return await self._sessions.end(owner.session_id)

    async def end_any(self, token: str) -> bool:
        """Log out the session of a refresh token of either style; False when none has it.

        Both logouts (GraphQL's ``logout`` and ``DELETE /auth/session``) take either token:
        ending a session is no way around reuse detection, unlike refreshing with it.
        """
        return await self.end(token) or await self._sessions.end_by_refresh_token(token)

    async def _find(self, conn: AsyncConnection, token: str) -> TokenSessionRow | None:
        return await self._rows.by_token(conn, hash_token(token)) if plausible(token) else None

    def _check(self, row: TokenSessionRow | None) -> SessionOwner:
        if (
            row is None
            or row.revoked_at is not None
            or not row.user_active
            or self._sessions.idle_end(row.last_used_at, row.expires_at) <= self._clock()
        ):
            raise RefreshRefused()
        return SessionOwner(user_id=row.user_id, session_id=row.id)
