"""Refresh: single-use refresh tokens with reuse detection.

A GraphQL session's refresh token works once: the database marks it used with a conditional
UPDATE (:meth:`bastion.store.auth.refresh_tokens.RefreshTokenRows.claim`), so among parallel
refreshes of one token exactly one wins, whatever the number of processes. Presenting a used
token again is treated as theft and ends the whole session, unless it comes within
``auth.refresh_reuse_interval`` of the first use: then the same successor pair is answered
again. That is possible without storing the successor because it is derived from the used
token (:mod:`bastion.auth.sessions.issuing`), and the access token is rebuilt from the same
claims.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bastion.auth.audit import AuditEvent, AuditType
from bastion.auth.sessions.issuing import Issuing
from bastion.auth.sessions.values import (
    RefreshRefused,
    TokenPair,
    extra_claims,
    hash_token,
    plausible,
    refuse_after_write,
)
from bastion.store.auth.refresh_tokens import RefreshTokenRow
from bastion.store.auth.sessions import SessionMatch

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection


def _alive(row: RefreshTokenRow, now: datetime) -> bool:
    """Whether the token's session may still be used: unrevoked, not over, its user active."""
    return row.revoked_at is None and row.session_end > now and row.user_active


class Refreshing(Issuing):
    """Trading a refresh token for the next pair."""

    async def refresh(self, token: str, ip: str | None = None) -> TokenPair:
        """Trade a refresh token for a new pair; raises :class:`RefreshRefused`."""
        if not plausible(token):
            raise RefreshRefused()
        # A reuse would end the session in the request's transaction, undone if the request
        # then failed.
        refuse_after_write(self._db)
        now = self._clock()
        # A refusal raised inside the transaction rolls it back, the claim with it.
        async with self._db.write() as conn:
            won, row = await self._claim(conn, token, now)
            if won:
                return await self._rotate(conn, token, row, now, ip)
            if row.used_at is None or not _alive(row, now):
                raise RefreshRefused()  # expired, or its session is over
            again = await self._again_within_grace(conn, token, row, row.used_at, now)
            if again is not None:
                return again
            await self._answer_theft(conn, row, now, ip)
        # The session was ended above, and that is committed: let it be known, then refuse.
        self.announce_ended([row.session_id])
        raise RefreshRefused()

    async def _claim(
        self, conn: AsyncConnection, token: str, now: datetime
    ) -> tuple[bool, RefreshTokenRow]:
        """Mark the token used if nobody has; whether this refresh did, and the token's row.

        Refuses a token nobody issued.
        """
        digest = hash_token(token)
        won = await self._refresh_rows.claim(conn, digest, now)
        row = await self._refresh_rows.load(conn, digest)
        if row is None:
            raise RefreshRefused()
        return won, row

    async def _rotate(
        self,
        conn: AsyncConnection,
        token: str,
        row: RefreshTokenRow,
        now: datetime,
        ip: str | None,
    ) -> TokenPair:
        """The first use of a token: the successor pair, if the session is still alive."""
        if not _alive(row, now):
            raise RefreshRefused()
        await self.rows.touch(conn, row.session_id, now)
        event = AuditEvent(AuditType.REFRESH, user_id=row.user_id, session_id=row.session_id, ip=ip)
        await self.audit.record(event, conn)
        successor, token_id = self._successor(token)
        extra = extra_claims(row.device_id, row.user_data)
        return await self._issue(
            conn, row.session_id, row.user_id, row.session_end, successor, now, extra, token_id
        )

    async def _again_within_grace(
        self,
        conn: AsyncConnection,
        token: str,
        row: RefreshTokenRow,
        used_at: datetime,
        now: datetime,
    ) -> TokenPair | None:
        """A used token presented again within the reuse interval of its first use: the pair
        that first use got (a second tab refreshing with the same token); else None."""
        grace = timedelta(seconds=self._config.refresh_reuse_interval)
        if not grace or now - used_at > grace:
            return None
        successor, token_id = self._successor(token)
        successor_end = await self._refresh_rows.expiry(conn, hash_token(successor))
        if successor_end is None:
            return None
        extra = extra_claims(row.device_id, row.user_data)
        return self._pair(
            row.user_id, row.session_id, successor, used_at, successor_end, extra, token_id
        )

    async def _answer_theft(
        self, conn: AsyncConnection, row: RefreshTokenRow, now: datetime, ip: str | None
    ) -> None:
        """A used token again, past the grace: stolen, most likely. The session ends, loudly."""
        await self.rows.revoke(conn, SessionMatch(session_id=row.session_id), now)
        await self.record_ended(conn, [row.session_id])
        event = AuditEvent(
            AuditType.REFRESH_REUSE, user_id=row.user_id, session_id=row.session_id, ip=ip
        )
        await self.audit.record(event, conn)
