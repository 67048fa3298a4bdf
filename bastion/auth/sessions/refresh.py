"""Refresh: single-use refresh tokens with reuse detection.

A GraphQL session's refresh token works once: the database marks it used with a conditional
UPDATE, in one transaction with its successor, the touch of the session and the audit row
(:mod:`bastion.store.auth.rotation`), so among parallel refreshes of one token exactly one
wins, whatever the number of processes. A token not claimed there is read again, in a
transaction of its own: presenting a used token again is treated as theft and ends the whole
session, unless it comes within ``auth.refresh_reuse_interval`` of the first use: then the
same successor pair is answered again. That is possible without storing the successor
because it is derived from the used token (:mod:`bastion.auth.sessions.issuing`), and the
access token is rebuilt from the same claims.
"""

from __future__ import annotations

from dataclasses import replace
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
from bastion.store.auth.rotation import Rotation
from bastion.store.auth.sessions import SessionMatch

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection


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
        successor, token_id = self._successor(token)
        event = AuditEvent(AuditType.REFRESH, ip=ip)
        rotation = Rotation(
            digest=hash_token(token),
            successor=hash_token(successor),
            now=now,
            successor_end=self._lifetime_end(now),  # the rotation caps it at the session's end
            audit=self.audit.row(event),
        )
        # The common case in one transaction: the token claimed, its successor stored.
        row = await self._rotations.rotate(self._db, rotation)
        if row is None:
            return await self._not_claimed(token, now, ip)
        self.audit.note(replace(event, user_id=row.user_id, session_id=row.session_id))
        extra = extra_claims(row.device_id, row.user_data)
        end = self.idle_end(now, row.session_end)  # as the rotation stored it
        return self._pair(row.user_id, row.session_id, successor, now, end, extra, token_id)

    async def _not_claimed(self, token: str, now: datetime, ip: str | None) -> TokenPair:
        """A token the rotation did not claim: unknown, expired, its session over, or used.
        A used one is answered again within the reuse interval, else taken for theft."""
        # A refusal raised inside the transaction rolls back what it wrote.
        async with self._db.write() as conn:
            row = await self._refresh_rows.load(conn, hash_token(token), now)
            if row is None or row.used_at is None or not row.alive:
                raise RefreshRefused()  # unknown, expired, or its session is over
            again = await self._again_within_grace(conn, token, row, row.used_at, now)
            if again is not None:
                return again
            await self._answer_theft(conn, row, now, ip)
        # The session was ended above, and that is committed: let it be known, then refuse.
        self.announce_ended([row.session_id])
        raise RefreshRefused()

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
