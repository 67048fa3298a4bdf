"""Issuing: a session starts, and hands out token pairs.

A login starts a session with an absolute end (``auth.session_max_lifetime``) that no refresh
or renewal goes past. A GraphQL session's refresh token is random at login and stored only as
its SHA-256 (:mod:`bastion.store.auth.refresh_tokens`); every later one is the *successor* of
the token it replaces, derived from it with the server secret, bound to the project
(:mod:`bastion.auth.derived`), as is the id of the access token issued beside it. So a
refresh repeated within the reuse interval can be answered the same pair again without the
successor being stored anywhere but as a digest.

A Stitch client API session keeps the refresh token it got at login: it is a session token,
stored as a digest on the session row (:mod:`bastion.auth.session_tokens`).
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from bastion.auth.access_tokens import SignedAhead
from bastion.auth.sessions.base import SessionsBase
from bastion.auth.sessions.values import Start, TokenPair, extra_claims, hash_token
from bastion.store.auth.audit import AuditRow
from bastion.store.auth.session_starts import NewRefreshToken, SessionStartRows
from bastion.store.auth.sessions import NewSession
from bastion.store.ids import is_id, new_id

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection


def _refresh_of(prepared: PreparedSession) -> NewRefreshToken | None:
    """The refresh token row a prepared session starts with (none for a Stitch session)."""
    if prepared.refresh_hash is None:
        return None
    return NewRefreshToken(prepared.refresh_hash, prepared.refresh_end)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class PreparedSession:
    """A session ready to start (:meth:`Issuing.prepare`), stored by :meth:`Issuing.begin`."""

    row: NewSession
    # The digest of a GraphQL session's refresh token, for the refresh table; None for a
    # Stitch session, whose token is a session token kept on its row.
    refresh_hash: str | None
    refresh_end: datetime
    access: SignedAhead
    pair: TokenPair


class Issuing(SessionsBase):
    """Starting sessions and issuing their token pairs."""

    def _derive(self, purpose: str, token: str) -> bytes:
        return self._derived.derive(purpose, token.encode("utf-8", "surrogatepass"))

    def _successor(self, token: str) -> tuple[str, str]:
        """(next refresh token, id of the next access token) for a used refresh token."""
        return _b64(self._derive("refresh", token)), self._derive("jti", token).hex()[:32]

    def _pair(
        self,
        user_id: str,
        session_id: str,
        refresh_token: str,
        now: datetime,
        refresh_end: datetime,
        extra: dict[str, Any],
        token_id: str | None,
    ) -> TokenPair:
        """The pair of ``refresh_token`` with a new access token issued at ``now``."""
        access, _ = self.tokens.issue(
            user_id, session_id, issued_at=now, token_id=token_id, extra=extra
        )
        return TokenPair(
            access_token=access,
            access_token_lifetime=self.tokens.lifetime,
            refresh_token=refresh_token,
            refresh_token_lifetime=max(0, int((refresh_end - now).total_seconds())),
            session_id=session_id,
            device_id=extra.get("baas_device_id", ""),
        )

    async def start(self, conn: AsyncConnection, start: Start) -> TokenPair:
        """Start a session for a user who just proved who they are."""
        return await self.begin(conn, self.prepare(start))

    def prepare(self, start: Start) -> PreparedSession:
        """Everything a session's start makes but its rows: ids, the refresh token, the
        signed access token. Nothing is stored and nothing noted: a login prepares its
        session while its password hash runs, and drops it when the password is wrong."""
        now = self._clock()
        session_id = new_id()
        session_end = now + timedelta(seconds=self._config.session_max_lifetime)
        device_id = start.device_id if is_id(start.device_id) else new_id()
        user_data = json.dumps(start.user_data) if start.user_data is not None else None
        refresh = _b64(secrets.token_bytes(32))
        digest = hash_token(refresh)
        row = NewSession(
            id=session_id,
            user_id=start.user_id,
            provider=start.provider,
            created_at=now,
            expires_at=session_end,
            user_agent=(start.user_agent or "")[:500] or None,
            device_id=device_id,
            token_hash=digest if start.stitch else None,
            credential_id=start.credential_id,
            user_data=user_data,
            factor=start.factor,
        )
        refresh_end = self.idle_end(now, session_end)
        access = self.tokens.sign_ahead(
            start.user_id, session_id, issued_at=now, extra=extra_claims(device_id, user_data)
        )
        return PreparedSession(
            row=row,
            refresh_hash=None if start.stitch else digest,
            refresh_end=refresh_end,
            access=access,
            pair=TokenPair(
                access_token=access.token,
                access_token_lifetime=self.tokens.lifetime,
                refresh_token=refresh,
                refresh_token_lifetime=max(0, int((refresh_end - now).total_seconds())),
                session_id=session_id,
                device_id=device_id or "",
            ),
        )

    async def begin(self, conn: AsyncConnection, prepared: PreparedSession) -> TokenPair:
        """Store a prepared session in ``conn``'s transaction; its token pair."""
        row = prepared.row
        await self.rows.insert(conn, row)
        if prepared.refresh_hash is not None:
            await self._refresh_rows.insert(
                conn,
                prepared.refresh_hash,
                row.id,
                created_at=row.created_at,
                expires_at=prepared.refresh_end,
            )
        self.tokens.given(prepared.access)
        return prepared.pair

    async def begin_alone(self, prepared: PreparedSession, event: AuditRow) -> TokenPair:
        """:meth:`begin` on PostgreSQL in one statement of its own with ``event`` (its login's
        audit row), committed when it returns: one round trip
        (:mod:`bastion.store.auth.session_starts`)."""
        await self._starts.write(self._db, prepared.row, _refresh_of(prepared), event)
        self.tokens.given(prepared.access)
        return prepared.pair

    async def begin_logged(
        self, conn: AsyncConnection, prepared: PreparedSession, event: AuditRow
    ) -> TokenPair:
        """:meth:`begin` with ``event`` (its login's audit row) in ``conn``'s transaction on
        SQLite, as statements compiled once (:mod:`bastion.store.auth.session_starts`)."""
        await self._starts.write_in(conn, prepared.row, _refresh_of(prepared), event)
        self.tokens.given(prepared.access)
        return prepared.pair

    @cached_property
    def _starts(self) -> SessionStartRows:
        return SessionStartRows(self.tables["session"].metadata)

    def idle_end(self, last_used: datetime, session_end: datetime) -> datetime:
        """When a refresh token made at ``last_used`` stops working, or an unused session
        token: a refresh lifetime later, never past the session's end."""
        return min(self._lifetime_end(last_used), session_end)

    def _lifetime_end(self, start: datetime) -> datetime:
        return start + timedelta(seconds=self._config.refresh_token_lifetime)
