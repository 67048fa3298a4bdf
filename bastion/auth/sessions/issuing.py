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
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bastion.auth.sessions.base import SessionsBase
from bastion.auth.sessions.values import Start, TokenPair, extra_claims, hash_token
from bastion.store.auth.sessions import NewSession
from bastion.store.ids import is_id, new_id

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Issuing(SessionsBase):
    """Starting sessions and issuing their token pairs."""

    def _derive(self, purpose: str, token: str) -> bytes:
        return self._derived.derive(purpose, token.encode("utf-8", "surrogatepass"))

    def _successor(self, token: str) -> tuple[str, str]:
        """(next refresh token, id of the next access token) for a used refresh token."""
        return _b64(self._derive("refresh", token)), self._derive("jti", token).hex()[:32]

    async def _issue(
        self,
        conn: AsyncConnection,
        session_id: str,
        user_id: str,
        session_end: datetime,
        refresh_token: str,
        now: datetime,
        extra: dict[str, Any],
        token_id: str | None = None,
    ) -> TokenPair:
        """Store ``refresh_token`` for the session and answer it with an access token."""
        refresh_end = min(now + timedelta(seconds=self._config.refresh_token_lifetime), session_end)
        await self._refresh_rows.insert(
            conn, hash_token(refresh_token), session_id, created_at=now, expires_at=refresh_end
        )
        return self._pair(user_id, session_id, refresh_token, now, refresh_end, extra, token_id)

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
        now = self._clock()
        session_id = new_id()
        session_end = now + timedelta(seconds=self._config.session_max_lifetime)
        device_id = start.device_id if is_id(start.device_id) else new_id()
        user_data = json.dumps(start.user_data) if start.user_data is not None else None
        refresh = _b64(secrets.token_bytes(32))
        new = NewSession(
            id=session_id,
            user_id=start.user_id,
            provider=start.provider,
            created_at=now,
            expires_at=session_end,
            user_agent=(start.user_agent or "")[:500] or None,
            device_id=device_id,
            token_hash=hash_token(refresh) if start.stitch else None,
            credential_id=start.credential_id,
            user_data=user_data,
            factor=start.factor,
        )
        await self.rows.insert(conn, new)
        extra = extra_claims(device_id, user_data)
        if start.stitch:
            return self._pair(
                start.user_id,
                session_id,
                refresh,
                now,
                self.idle_end(now, session_end),
                extra,
                None,
            )
        return await self._issue(conn, session_id, start.user_id, session_end, refresh, now, extra)

    def idle_end(self, last_used: datetime, session_end: datetime) -> datetime:
        """When an unused session token stops working."""
        return min(last_used + timedelta(seconds=self._config.refresh_token_lifetime), session_end)
