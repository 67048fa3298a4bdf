"""Ending sessions: logout, logout everywhere, revocation, and the list of the live ones.

A revocation is written to the database (``revoked_at``) and audited in the same transaction;
once that transaction is committed it is announced (:class:`bastion.auth.events.SessionsEnded`)
so that the session-state cache of this process forgets the sessions at once; on a shared
PostgreSQL database it is also written as an event in that transaction
(:mod:`bastion.auth.cluster`), so that every other node forgets them as it commits. The ``*_in``
methods work inside a caller's transaction: the caller announces the ids it gets back, or
has them forgotten, after its commit.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from bastion.auth.audit import AuditEvent, AuditType
from bastion.auth.sessions.base import SessionsBase
from bastion.auth.sessions.values import SessionInfo, hash_token
from bastion.store.auth.sessions import SessionMatch

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection


class Ending(SessionsBase):
    """Ending sessions, one or all of a user's, and listing those still live."""

    async def end_by_refresh_token(self, token: str) -> bool:
        """Log out the session a refresh token belongs to; False when there is none."""
        async with self._db.write() as conn:
            session_id = await self._refresh_rows.session_of(conn, hash_token(token))
            if session_id is None:
                return False
            ended = await self._revoke(conn, SessionMatch(session_id=session_id), AuditType.LOGOUT)
        self.announce_ended(ended)
        return bool(ended)

    async def end(self, session_id: str) -> bool:
        """Log out one session by id (the Stitch logout)."""
        async with self._db.write() as conn:
            ended = await self._revoke(conn, SessionMatch(session_id=session_id), AuditType.LOGOUT)
        self.announce_ended(ended)
        return bool(ended)

    async def end_all(
        self,
        user_id: str,
        keep: str | None = None,
        reason: AuditType = AuditType.SESSIONS_REVOKED,
    ) -> int:
        """End every session of a user (but ``keep``); returns how many ended."""
        match = SessionMatch(user_id=user_id, other_than=keep)
        async with self._db.write() as conn:
            ended = await self._revoke(conn, match, reason)
        self.announce_ended(ended)
        return len(ended)

    async def end_own(self, user_id: str, session_id: str) -> bool:
        """End one of the user's own sessions; False when they have no such live session."""
        match = SessionMatch(session_id=session_id, user_id=user_id)
        async with self._db.write() as conn:
            ended = await self._revoke(conn, match, AuditType.SESSION_REVOKED)
        self.announce_ended(ended)
        return bool(ended)

    async def end_by_credential_in(self, conn: AsyncConnection, credential_id: str) -> list[str]:
        """End the sessions opened with an API key, in the caller's transaction.

        The caller passes the returned ids to :meth:`announce_ended` (or to ``forget``) once
        it has committed.
        """
        match = SessionMatch(credential_id=credential_id)
        return await self._revoke(conn, match, AuditType.SESSIONS_REVOKED)

    async def end_all_in(
        self,
        conn: AsyncConnection,
        user_id: str,
        reason: AuditType = AuditType.SESSIONS_REVOKED,
    ) -> list[str]:
        """End every session of a user inside the caller's transaction.

        The caller commits, then announces the ids (:meth:`announce_ended`) or has the cache
        forget them (``forget``, ``forget_all``), so that no cached state outlives the commit.
        """
        return await self._revoke(conn, SessionMatch(user_id=user_id), reason)

    async def _revoke(
        self, conn: AsyncConnection, match: SessionMatch, reason: AuditType
    ) -> list[str]:
        """Revoke the live sessions ``match`` names, one audit event per user; their ids."""
        # Its callers pass arguments by position: tests/auth/sessions/test_concurrency.py wraps
        # it as `(self, *args)` to race a request against the open revocation.
        ended = await self.rows.revoke(conn, match, self._clock())
        ids = [session.id for session in ended]
        for user_id in sorted({session.user_id for session in ended}):
            one = ids[0] if len(ids) == 1 else None
            event = AuditEvent(
                reason, user_id=user_id, session_id=one, detail={"sessions": len(ids)}
            )
            await self.audit.record(event, conn)
        # In the revocation's transaction: the other nodes hear of it as it commits.
        await self.record_ended(conn, ids)
        return ids

    async def live(self, user_id: str) -> list[SessionInfo]:
        """The user's sessions that are still usable, newest first."""
        now = self._clock()
        # Unused for a refresh lifetime: its last refresh or session token is dead.
        used_after = now - timedelta(seconds=self._config.refresh_token_lifetime)
        async with self._db.read() as conn:
            rows = await self.rows.live(conn, user_id, now, used_after)
        return [
            SessionInfo(
                id=r.id,
                provider=r.provider,
                created_at=r.created_at,
                last_used_at=r.last_used_at,
                user_agent=r.user_agent,
                device_id=r.device_id,
            )
            for r in rows
        ]
