"""What every part of :class:`bastion.auth.sessions.Sessions` works with."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from bastion.auth.access_tokens import AccessTokens
from bastion.auth.audit import Audit
from bastion.auth.cluster import EventLog
from bastion.auth.derived import DerivedSecrets
from bastion.auth.events import SessionsEnded
from bastion.auth.sessions.values import SessionState
from bastion.auth.settings import AuthConfig
from bastion.store.auth.refresh_tokens import RefreshTokenRows
from bastion.store.auth.rotation import Rotations
from bastion.store.auth.sessions import SessionRows
from bastion.store.database import Database
from bastion.tools.clock import Clock
from bastion.tools.events import EventHub

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.ext.asyncio import AsyncConnection


class SessionsBase:
    """The dependencies and the state the parts of :class:`Sessions` share."""

    def __init__(
        self,
        db: Database,
        tables: Mapping[str, Table],
        tokens: AccessTokens,
        config: AuthConfig,
        clock: Clock,
        derived: DerivedSecrets,
        audit: Audit,
        events: EventHub,
        event_log: EventLog | None = None,
    ) -> None:
        """``tables`` are the ``session``, ``refresh``, ``user`` and ``audit`` tables; ``events`` is
        where committed revocations are announced (:class:`SessionsEnded`); ``event_log``
        writes them for the other processes sharing the database, in their transaction."""
        self._db = db
        self.audit = audit  # also the Stitch session tokens' (bastion.auth.session_tokens)
        # The tables, for the auth modules whose statements have not moved to the store yet.
        self.tables = tables
        self.rows = SessionRows(tables["session"], tables["user"])
        """The session rows' statements (the Stitch session tokens use them too)."""
        self._refresh_rows = RefreshTokenRows(tables["refresh"], tables["session"], tables["user"])
        self._rotations = Rotations(
            tables["refresh"], tables["session"], tables["user"], tables["audit"]
        )
        self.tokens = tokens
        self._config = config
        self._clock = clock
        self._derived = derived
        self._events = events
        self._event_log = event_log
        # The state cache's (bastion.auth.sessions.cache): states with when they were read;
        # loads in flight with the generation they began in; the generation, bumped by every
        # revocation so that no read begun before it is cached.
        self._cache: dict[str, tuple[SessionState, float]] = {}
        self._pending: dict[str, tuple[int, asyncio.Future[SessionState | None]]] = {}
        self._generation = 0

    async def record_ended(self, conn: AsyncConnection, session_ids: Sequence[str]) -> None:
        """Write the revocation of these sessions for the other processes, in its transaction
        (a shared PostgreSQL database only: :mod:`bastion.auth.cluster`)."""
        if session_ids and self._event_log is not None:
            await self._event_log.record(conn, SessionsEnded(tuple(session_ids)))

    def announce_ended(self, session_ids: Sequence[str]) -> None:
        """Tell whoever listens that the revocation of these sessions is committed.

        Only after the commit: the session-state cache forgets them on hearing it, and what
        it read before the commit (the sessions alive) would be read again and kept.
        """
        if session_ids:
            self._events.publish(SessionsEnded(tuple(session_ids)))
