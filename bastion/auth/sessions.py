"""Sessions: login, single-use refresh tokens with reuse detection, logout, revocation.

A login starts a session. Its refresh token works once: the database marks it used with a
conditional UPDATE, so among parallel refreshes of one token exactly one wins, whatever the
number of processes. Presenting a used token again is treated as theft and ends the whole
session, unless it comes within ``auth.refresh_reuse_interval`` of the first use: then the
same successor pair is answered again. That is possible without storing the successor
because it is derived from the used token with the server secret, bound to the project
(:mod:`bastion.auth.derived`), and the access token is rebuilt from the same claims.

Whether a session is still alive is checked on every authenticated request through a small
per-process cache: a revocation in this process takes effect at once; one made by another
process (another worker, the CLI) within ``STATE_TTL_SECONDS``.

Sessions opened through the Stitch client API refresh the other way, because the SDKs keep
sending the refresh token they got at login: there it is a session token, valid until logout,
revocation, the idle lifetime or the session's end, stored only as a SHA-256 on the session
row. The two families never meet: a rotating refresh token is looked up only in the refresh
table, a session token only on the session row, so neither route accepts the other's token.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.auth.access_tokens import AccessClaims, AccessTokens
from bastion.auth.audit import Audit, AuditEvent, AuditType
from bastion.auth.derived import DerivedSecrets
from bastion.auth.settings import AuthConfig
from bastion.errors import BastionError, Code
from bastion.store.database import Database
from bastion.store.ids import is_id, new_id
from bastion.tools.clock import Clock

STATE_TTL_SECONDS = 1.0


class RefreshRefused(BastionError):
    """A refresh token that cannot be used: unknown, expired, used, revoked."""

    code = Code.INVALID_REFRESH_TOKEN

    def __init__(self) -> None:
        super().__init__("Invalid refresh token")


@dataclass(frozen=True)
class TokenPair:
    """What a login or refresh answers."""

    access_token: str
    access_token_lifetime: int
    refresh_token: str
    refresh_token_lifetime: int
    session_id: str = ""
    device_id: str = ""


@dataclass(frozen=True)
class Start:
    """How a session begins: who, through which provider, from which client."""

    user_id: str
    provider: str
    user_agent: str | None = None
    # The id the client SDK gave its device (24 hex), or None to make one.
    device_id: str | None = None
    # The custom-token provider's `user_data`, carried into every access token.
    user_data: dict[str, Any] | None = None
    # The API key the user logged in with: deleting or disabling it ends the session.
    credential_id: str | None = None
    # A Stitch client API session: its refresh token is a multi-use session token.
    stitch: bool = False


@dataclass(frozen=True)
class SessionInfo:
    """A live session as its user sees it (``viewer { sessions }``)."""

    id: str
    provider: str
    created_at: datetime
    last_used_at: datetime
    user_agent: str | None
    device_id: str | None


@dataclass(frozen=True)
class SessionState:
    """Whether a session may be used, and until when at most."""

    user_id: str
    alive: bool
    expires_at: datetime
    # The user's row, so that `viewer { user }` costs no database round trip either.
    user: dict[str, Any] = field(default_factory=dict, compare=False)
    # Claims the session's access tokens carry for client SDKs (see `_extra_claims`).
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


def _extra_claims(device_id: str | None, user_data: str | None) -> dict[str, Any]:
    """What the Stitch SDKs read from an access token: the device and the custom data."""
    extra: dict[str, Any] = {}
    if device_id:
        extra["baas_device_id"] = device_id
    if user_data:
        extra["user_data"] = json.loads(user_data)
    return extra


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which a refresh token is stored."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Sessions:
    """Session and refresh-token bookkeeping over the system tables."""

    def __init__(
        self,
        db: Database,
        tables: dict[str, Table],
        tokens: AccessTokens,
        config: AuthConfig,
        clock: Clock,
        derived: DerivedSecrets,
        audit: Audit,
    ) -> None:
        self._db = db
        self.audit = audit  # also the Stitch session tokens' (bastion.auth.session_tokens)
        self.tables = tables
        self._sessions = tables["session"]
        self._refresh = tables["refresh"]
        self._users = tables["user"]
        self.tokens = tokens
        self._config = config
        self._clock = clock
        self._derived = derived
        self._cache: dict[str, tuple[SessionState, float]] = {}
        # Loads in flight, with the generation they began in.
        self._pending: dict[str, tuple[int, asyncio.Future[SessionState | None]]] = {}
        self._generation = 0  # bumped by every revocation, so no stale read is cached

    # -- derivations ------------------------------------------------------------------

    def _derive(self, purpose: str, token: str) -> bytes:
        return self._derived.derive(purpose, token.encode("utf-8", "surrogatepass"))

    def _successor(self, token: str) -> tuple[str, str]:
        """(next refresh token, id of the next access token) for a used refresh token."""
        return _b64(self._derive("refresh", token)), self._derive("jti", token).hex()[:32]

    # -- issuing ----------------------------------------------------------------------

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
        refresh_end = min(now + timedelta(seconds=self._config.refresh_token_lifetime), session_end)
        await conn.execute(
            self._refresh.insert().values(
                hash=hash_token(refresh_token),
                session_id=session_id,
                created_at=now,
                expires_at=refresh_end,
                used_at=None,
            )
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
        await conn.execute(
            self._sessions.insert().values(
                id=session_id,
                user_id=start.user_id,
                provider=start.provider,
                created_at=now,
                last_used_at=now,
                expires_at=session_end,
                revoked_at=None,
                user_agent=(start.user_agent or "")[:500] or None,
                device_id=device_id,
                token_hash=hash_token(refresh) if start.stitch else None,
                credential_id=start.credential_id,
                user_data=user_data,
            )
        )
        extra = _extra_claims(device_id, user_data)
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

    # -- refresh ----------------------------------------------------------------------

    async def refresh(self, token: str, ip: str | None = None) -> TokenPair:
        """Trade a refresh token for a new pair; raises :class:`RefreshRefused`."""
        if not token or len(token) > 200:
            raise RefreshRefused()
        digest = hash_token(token)
        now = self._clock()
        refresh, sessions, users = self._refresh, self._sessions, self._users
        revoke: str | None = None
        async with self._db.write() as conn:
            claimed = await conn.execute(
                update(refresh)
                .where(
                    refresh.c.hash == digest,
                    refresh.c.used_at.is_(None),
                    refresh.c.expires_at > now,
                )
                .values(used_at=now)
            )
            row = (
                await conn.execute(
                    select(
                        refresh.c.session_id,
                        refresh.c.used_at,
                        refresh.c.expires_at,
                        sessions.c.user_id,
                        sessions.c.expires_at.label("session_end"),
                        sessions.c.revoked_at,
                        sessions.c.device_id,
                        sessions.c.user_data,
                        users.c.isActive,
                    )
                    .join(sessions, sessions.c.id == refresh.c.session_id)
                    .join(users, users.c.id == sessions.c.user_id)
                    .where(refresh.c.hash == digest)
                )
            ).first()
            if row is None:
                raise RefreshRefused()
            alive = row.revoked_at is None and row.session_end > now and bool(row.isActive)
            successor, token_id = self._successor(token)
            extra = _extra_claims(row.device_id, row.user_data)
            if claimed.rowcount == 1:
                if not alive:
                    raise RefreshRefused()
                await conn.execute(
                    update(sessions).where(sessions.c.id == row.session_id).values(last_used_at=now)
                )
                await self.audit.record(
                    AuditEvent(
                        AuditType.REFRESH, user_id=row.user_id, session_id=row.session_id, ip=ip
                    ),
                    conn,
                )
                return await self._issue(
                    conn,
                    row.session_id,
                    row.user_id,
                    row.session_end,
                    successor,
                    now,
                    extra,
                    token_id,
                )
            used_at: datetime | None = row.used_at
            if used_at is None or not alive:  # expired, or its session is over
                raise RefreshRefused()
            grace = timedelta(seconds=self._config.refresh_reuse_interval)
            if grace and now - used_at <= grace:
                # A second tab refreshing with the same token: the same pair again.
                next_row = (
                    await conn.execute(
                        select(refresh.c.expires_at).where(refresh.c.hash == hash_token(successor))
                    )
                ).first()
                if next_row is not None:
                    return self._pair(
                        row.user_id,
                        row.session_id,
                        successor,
                        used_at,
                        next_row.expires_at,
                        extra,
                        token_id,
                    )
            revoke = row.session_id
            await conn.execute(
                update(sessions)
                .where(sessions.c.id == revoke, sessions.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            # A used refresh token again: stolen, most likely. The session ends, loudly.
            await self.audit.record(
                AuditEvent(AuditType.REFRESH_REUSE, user_id=row.user_id, session_id=revoke, ip=ip),
                conn,
            )
        # Reuse of a used token: the session was ended above (committed), now refuse.
        self.forget([revoke])
        raise RefreshRefused()

    # -- ending sessions --------------------------------------------------------------

    async def end_by_refresh_token(self, token: str) -> bool:
        """Log out the session a refresh token belongs to; False when there is none."""
        digest = hash_token(token)
        async with self._db.write() as conn:
            session_id = (
                await conn.execute(
                    select(self._refresh.c.session_id).where(self._refresh.c.hash == digest)
                )
            ).scalar_one_or_none()
            if session_id is None:
                return False
            ended = await self._revoke(conn, self._sessions.c.id == session_id, AuditType.LOGOUT)
        self.forget(ended)
        return bool(ended)

    async def end(self, session_id: str) -> bool:
        """Log out one session by id (the Stitch logout)."""
        async with self._db.write() as conn:
            ended = await self._revoke(conn, self._sessions.c.id == session_id, AuditType.LOGOUT)
        self.forget(ended)
        return bool(ended)

    async def end_all(
        self,
        user_id: str,
        keep: str | None = None,
        reason: AuditType = AuditType.SESSIONS_REVOKED,
    ) -> int:
        """End every session of a user (but ``keep``); returns how many ended."""
        condition = self._sessions.c.user_id == user_id
        if keep is not None:
            condition = and_(condition, self._sessions.c.id != keep)
        async with self._db.write() as conn:
            ended = await self._revoke(conn, condition, reason)
        self.forget(ended)
        return len(ended)

    async def end_own(self, user_id: str, session_id: str) -> bool:
        """End one of the user's own sessions; False when they have no such live session."""
        condition = and_(self._sessions.c.id == session_id, self._sessions.c.user_id == user_id)
        async with self._db.write() as conn:
            ended = await self._revoke(conn, condition, AuditType.SESSION_REVOKED)
        self.forget(ended)
        return bool(ended)

    async def end_by_credential_in(self, conn: AsyncConnection, credential_id: str) -> list[str]:
        """End the sessions opened with an API key, in the caller's transaction.

        The caller passes the returned ids to :meth:`forget` once it has committed.
        """
        condition = self._sessions.c.credential_id == credential_id
        return await self._revoke(conn, condition, AuditType.SESSIONS_REVOKED)

    async def live(self, user_id: str) -> list[SessionInfo]:
        """The user's sessions that are still usable, newest first."""
        sessions, now = self._sessions, self._clock()
        async with self._db.read() as conn:
            rows = await conn.execute(
                select(sessions)
                .where(
                    sessions.c.user_id == user_id,
                    sessions.c.revoked_at.is_(None),
                    sessions.c.expires_at > now,
                    # Unused for a refresh lifetime: its last refresh or session token is dead.
                    sessions.c.last_used_at
                    > now - timedelta(seconds=self._config.refresh_token_lifetime),
                )
                .order_by(sessions.c.created_at.desc(), sessions.c.id.desc())
            )
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

    async def end_all_in(
        self,
        conn: AsyncConnection,
        user_id: str,
        reason: AuditType = AuditType.SESSIONS_REVOKED,
    ) -> list[str]:
        """End every session of a user inside the caller's transaction.

        The caller commits, then calls :meth:`forget` with the ids (or :meth:`forget_all`)
        so no cached state outlives the commit.
        """
        return await self._revoke(conn, self._sessions.c.user_id == user_id, reason)

    def forget(self, session_ids: Sequence[str]) -> None:
        """Drop cached states of sessions whose revocation was just committed."""
        # Called once the revocation is committed: a state loaded before the commit reads
        # the session alive, and the bumped generation keeps it from being cached or shared.
        self._generation += 1
        for session_id in session_ids:
            self._cache.pop(session_id, None)

    async def _revoke(
        self, conn: AsyncConnection, condition: ColumnElement[bool], reason: AuditType
    ) -> list[str]:
        sessions = self._sessions
        rows = (
            await conn.execute(
                select(sessions.c.id, sessions.c.user_id).where(
                    condition, sessions.c.revoked_at.is_(None)
                )
            )
        ).all()
        ids = [row.id for row in rows]
        if ids:
            await conn.execute(
                update(sessions).where(sessions.c.id.in_(ids)).values(revoked_at=self._clock())
            )
            for user_id in sorted({row.user_id for row in rows}):
                one = ids[0] if len(ids) == 1 else None
                event = AuditEvent(
                    reason, user_id=user_id, session_id=one, detail={"sessions": len(ids)}
                )
                await self.audit.record(event, conn)
        return ids

    def forget_user(self, user_id: str) -> None:
        """Drop cached states of a user's sessions (after deactivation)."""
        self._generation += 1
        for session_id, (state, _) in list(self._cache.items()):
            if state.user_id == user_id:
                self._cache.pop(session_id, None)

    # -- checking ---------------------------------------------------------------------

    async def state(self, session_id: str) -> SessionState | None:
        """The state of a session, from the cache when it is fresh."""
        cached = self._cache.get(session_id)
        if cached is not None and time.monotonic() - cached[1] < STATE_TTL_SECONDS:
            return cached[0]
        # Many requests of one client arrive together when the entry goes stale: one
        # database read answers them all. Only those of one generation, though: a read
        # begun before a revocation may have found the session alive.
        pending = self._pending.get(session_id)
        if pending is not None and pending[0] == self._generation:
            return await asyncio.shield(pending[1])
        task = asyncio.ensure_future(self._load_state(session_id))
        self._pending[session_id] = (self._generation, task)
        try:
            return await asyncio.shield(task)
        finally:
            if session_id in self._pending and self._pending[session_id][1] is task:
                del self._pending[session_id]

    async def _load_state(self, session_id: str) -> SessionState | None:
        generation = self._generation
        sessions, users = self._sessions, self._users
        async with self._db.read() as conn:
            row = (
                (
                    await conn.execute(
                        select(
                            users,
                            sessions.c.user_id,
                            sessions.c.revoked_at,
                            sessions.c.expires_at.label("session_end"),
                            sessions.c.device_id.label("session_device_id"),
                            sessions.c.user_data.label("session_user_data"),
                        )
                        .join(users, users.c.id == sessions.c.user_id)
                        .where(sessions.c.id == session_id)
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            self._cache.pop(session_id, None)
            return None
        state = SessionState(
            user_id=row["user_id"],
            alive=row["revoked_at"] is None and bool(row["isActive"]),
            expires_at=row["session_end"],
            user={c.name: row[c.name] for c in users.columns},
            extra=_extra_claims(row["session_device_id"], row["session_user_data"]),
        )
        if len(self._cache) > 100_000:  # bound the memory a token flood can take
            self._cache.clear()
        if generation == self._generation:  # no revocation happened while we read
            self._cache[session_id] = (state, time.monotonic())
        return state

    def forget_all(self) -> None:
        """Drop every cached state (after a write that may have changed a user row)."""
        self._generation += 1
        self._cache.clear()

    def renewal(self, claims: AccessClaims, state: SessionState) -> str | None:
        """A fresh access token of the same session once half the old one's life is gone."""
        now = self._clock()
        if not self._config.renew_in_response_header:
            return None
        if now.timestamp() - claims.issued_at <= self.tokens.lifetime / 2:
            return None
        if now + timedelta(seconds=self.tokens.lifetime) > state.expires_at:
            return None  # never past the session's absolute end
        token, _ = self.tokens.issue(claims.user_id, claims.session_id, extra=state.extra)
        return token

    async def access_token(self, session_id: str) -> str | None:
        """A fresh access token of a live session (after linking an identity to it)."""
        state = await self.state(session_id)
        if state is None or not state.alive or state.expires_at <= self._clock():
            return None
        token, _ = self.tokens.issue(state.user_id, session_id, extra=state.extra)
        return token
