"""The session-state cache: whether a session is alive, checked on every request, per process.

Every authenticated request asks whether its session may still be used; a small per-process
cache answers most of them. A revocation in this process takes effect at once: it is
announced once committed (:class:`bastion.auth.events.SessionsEnded`) and the composition
root has this cache forget on hearing it (:meth:`StateCache.forget`), as it forgets a user's
states when their row changes. One made by another process (another worker, the CLI) takes
effect within the cache's bound (``bastion.auth.sessions.STATE_TTL_SECONDS``).

The cached state also carries the user's row and the claims of the session's access tokens,
so that sliding renewal (:meth:`StateCache.renewal`) and ``viewer { user }`` cost no database
round trip either.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from bastion.auth.access_tokens import AccessClaims
from bastion.auth.sessions.base import SessionsBase
from bastion.auth.sessions.values import SessionState, extra_claims

MAX_ENTRIES = 100_000
"""Beyond this many cached states the cache starts over: a token flood takes bounded memory."""


class StateCache(SessionsBase):
    """Session states, read once for many requests and forgotten on every revocation."""

    def _state_ttl(self) -> float:
        """How long a state read from the database is trusted (seconds)."""
        raise NotImplementedError  # the façade's: bastion.auth.sessions.STATE_TTL_SECONDS

    async def state(self, session_id: str) -> SessionState | None:
        """The state of a session, from the cache when it is fresh."""
        cached = self._cache.get(session_id)
        if cached is not None and time.monotonic() - cached[1] < self._state_ttl():
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
        async with self._db.read() as conn:
            row = await self.rows.state(conn, session_id)
        if row is None:
            self._cache.pop(session_id, None)
            return None
        state = SessionState(
            user_id=row.user_id,
            alive=row.revoked_at is None and row.user_active,
            expires_at=row.session_end,
            user=row.user,
            extra=extra_claims(row.device_id, row.user_data),
            mfa=row.factor is not None,
        )
        if len(self._cache) > MAX_ENTRIES:
            self._cache.clear()
        if generation == self._generation:  # no revocation happened while we read
            self._cache[session_id] = (state, time.monotonic())
        return state

    def forget(self, session_ids: Sequence[str]) -> None:
        """Drop cached states of sessions whose revocation was just committed."""
        # Called once the revocation is committed: a state loaded before the commit reads
        # the session alive, and the bumped generation keeps it from being cached or shared.
        self._generation += 1
        for session_id in session_ids:
            self._cache.pop(session_id, None)

    def forget_user(self, user_id: str) -> None:
        """Drop cached states of a user's sessions (after their row changed)."""
        self._generation += 1
        for session_id, (state, _) in list(self._cache.items()):
            if state.user_id == user_id:
                self._cache.pop(session_id, None)

    def forget_all(self) -> None:
        """Drop every cached state (after a write that may have changed a user row)."""
        self._generation += 1
        self._cache.clear()

    def renewal(
        self,
        claims: AccessClaims,
        state: SessionState,
        now: datetime | None = None,
        stamp: float | None = None,
    ) -> str | None:
        """A fresh access token of the same session once half the old one's life is gone
        (``now``: the caller's reading of the clock, read here when not given; ``stamp``: its
        timestamp, if the caller has it)."""
        if not self._config.renew_in_response_header:
            return None
        if now is None:
            now = self._clock()
        if stamp is None:
            stamp = now.timestamp()
        if stamp - claims.issued_at <= self.tokens.lifetime / 2:
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
