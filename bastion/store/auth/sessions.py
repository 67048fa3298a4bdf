"""The rows of sessions: started, touched, revoked, listed, and read back with their user.

:mod:`bastion.auth.sessions` decides what a session is and when it ends; these are the
statements that carry it out. A session row holds no usable secret: a Stitch session's
token only as its SHA-256 (``token_hash``), and the refresh tokens of GraphQL sessions live
in their own table (:mod:`bastion.store.auth.refresh_tokens`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class NewSession:
    """The row of a session that begins."""

    id: str
    user_id: str
    provider: str
    created_at: datetime
    expires_at: datetime
    user_agent: str | None = None
    device_id: str | None = None
    token_hash: str | None = None
    credential_id: str | None = None
    user_data: str | None = None  # JSON
    factor: str | None = None  # the second factor proven at login


@dataclass(frozen=True)
class SessionMatch:
    """Which sessions a revocation ends: every condition given must hold (at least one)."""

    session_id: str | None = None
    user_id: str | None = None
    credential_id: str | None = None
    other_than: str | None = None  # a session to keep (the caller's own)


@dataclass(frozen=True)
class EndedSession:
    """A session a revocation just ended, and whose it was."""

    id: str
    user_id: str


@dataclass(frozen=True)
class SessionRow:
    """What a session's row says of it (``viewer { sessions }``)."""

    id: str
    provider: str
    created_at: datetime
    last_used_at: datetime
    user_agent: str | None
    device_id: str | None


@dataclass(frozen=True)
class SessionStateRow:
    """A session's row joined with its user's: what a request's check needs."""

    user_id: str
    revoked_at: datetime | None
    session_end: datetime
    device_id: str | None
    user_data: str | None  # JSON
    user: dict[str, Any] = field(default_factory=dict)  # the user's row, every column
    factor: str | None = None  # the second factor proven at login, if any

    @property
    def user_active(self) -> bool:
        """Whether the user may use the session (``User.isActive``)."""
        return bool(self.user["isActive"])


@dataclass(frozen=True)
class TokenSessionRow:
    """The session a Stitch session token opens, with whether its user is active."""

    id: str
    user_id: str
    revoked_at: datetime | None
    expires_at: datetime
    last_used_at: datetime
    user_active: bool


class SessionRows:
    """The statements over the session table (joined with the users' where they need it)."""

    def __init__(self, sessions: Table, users: Table) -> None:
        self._sessions = sessions
        self._users = users
        # Built once: every login inserts a session and every refresh touches one, and
        # building the statement per call cost more CPU than running it.
        self._insert = sessions.insert()
        self._touch = (
            update(sessions)
            .where(sessions.c.id == bindparam("sid"))
            .values(last_used_at=bindparam("now", type_=sessions.c.last_used_at.type))
        )

    async def insert(self, conn: AsyncConnection, new: NewSession) -> None:
        """Write the row of a new session, used at its creation and never revoked."""
        await conn.execute(
            self._insert,
            {
                "id": new.id,
                "user_id": new.user_id,
                "provider": new.provider,
                "created_at": new.created_at,
                "last_used_at": new.created_at,
                "expires_at": new.expires_at,
                "revoked_at": None,
                "user_agent": new.user_agent,
                "device_id": new.device_id,
                "token_hash": new.token_hash,
                "credential_id": new.credential_id,
                "user_data": new.user_data,
                "factor": new.factor,
            },
        )

    async def touch(self, conn: AsyncConnection, session_id: str, now: datetime) -> None:
        """Note that the session was used (refreshed) at ``now``."""
        await conn.execute(self._touch, {"sid": session_id, "now": now})

    async def revoke(
        self, conn: AsyncConnection, match: SessionMatch, now: datetime
    ) -> list[EndedSession]:
        """Revoke the unrevoked sessions ``match`` names, at ``now``; the ones it ended."""
        sessions = self._sessions
        rows = (
            await conn.execute(
                select(sessions.c.id, sessions.c.user_id).where(
                    self._condition(match), sessions.c.revoked_at.is_(None)
                )
            )
        ).all()
        ended = [EndedSession(id=row.id, user_id=row.user_id) for row in rows]
        if ended:
            await conn.execute(
                update(sessions)
                .where(sessions.c.id.in_([e.id for e in ended]))
                .values(revoked_at=now)
            )
        return ended

    def _condition(self, match: SessionMatch) -> ColumnElement[bool]:
        columns = self._sessions.c
        conditions: list[ColumnElement[bool]] = []
        if match.session_id is not None:
            conditions.append(columns.id == match.session_id)
        if match.user_id is not None:
            conditions.append(columns.user_id == match.user_id)
        if match.credential_id is not None:
            conditions.append(columns.credential_id == match.credential_id)
        if not conditions:
            # A match of nothing but "keep this one" would end every session of everyone.
            raise ValueError("a SessionMatch needs a session, a user or a credential")
        if match.other_than is not None:
            conditions.append(columns.id != match.other_than)
        return and_(*conditions)

    async def live(
        self, conn: AsyncConnection, user_id: str, now: datetime, used_after: datetime
    ) -> list[SessionRow]:
        """The user's sessions unrevoked, not past their end and used after ``used_after``,
        newest first."""
        sessions = self._sessions
        rows = await conn.execute(
            select(sessions)
            .where(
                sessions.c.user_id == user_id,
                sessions.c.revoked_at.is_(None),
                sessions.c.expires_at > now,
                sessions.c.last_used_at > used_after,
            )
            .order_by(sessions.c.created_at.desc(), sessions.c.id.desc())
        )
        return [
            SessionRow(
                id=r.id,
                provider=r.provider,
                created_at=r.created_at,
                last_used_at=r.last_used_at,
                user_agent=r.user_agent,
                device_id=r.device_id,
            )
            for r in rows
        ]

    async def state(self, conn: AsyncConnection, session_id: str) -> SessionStateRow | None:
        """The session's row with its user's, or None when there is no such session."""
        sessions, users = self._sessions, self._users
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
                        sessions.c.factor.label("session_factor"),
                    )
                    .join(users, users.c.id == sessions.c.user_id)
                    .where(sessions.c.id == session_id)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        return SessionStateRow(
            user_id=row["user_id"],
            revoked_at=row["revoked_at"],
            session_end=row["session_end"],
            device_id=row["session_device_id"],
            user_data=row["session_user_data"],
            factor=row["session_factor"],
            user={c.name: row[c.name] for c in users.columns},
        )

    async def by_token(self, conn: AsyncConnection, token_hash: str) -> TokenSessionRow | None:
        """The session whose Stitch session token has the SHA-256 ``token_hash``, if any."""
        sessions, users = self._sessions, self._users
        row = (
            await conn.execute(
                select(
                    sessions.c.id,
                    sessions.c.user_id,
                    sessions.c.revoked_at,
                    sessions.c.expires_at,
                    sessions.c.last_used_at,
                    users.c.isActive,
                )
                .join(users, users.c.id == sessions.c.user_id)
                .where(sessions.c.token_hash == token_hash)
            )
        ).first()
        if row is None:
            return None
        return TokenSessionRow(
            id=row.id,
            user_id=row.user_id,
            revoked_at=row.revoked_at,
            expires_at=row.expires_at,
            last_used_at=row.last_used_at,
            user_active=bool(row.isActive),
        )


async def count_active(conn: AsyncConnection, sessions: Table, now: datetime) -> int:
    """How many sessions are neither revoked nor past their end at ``now``."""
    found = await conn.scalar(
        select(func.count())
        .select_from(sessions)
        .where(sessions.c.revoked_at.is_(None), sessions.c.expires_at > now)
    )
    return int(found or 0)


def _ended_before(sessions: Table, before: datetime) -> ColumnElement[bool]:
    return or_(sessions.c.revoked_at < before, sessions.c.expires_at < before)


async def prune_ended(
    conn: AsyncConnection, sessions: Table, before: datetime, *, dry_run: bool = False
) -> int:
    """Delete the sessions that ended (revoked, or past their end) before ``before``, with
    their refresh tokens (the foreign key cascades); how many sessions (would) go."""
    if dry_run:
        found = await conn.scalar(
            select(func.count()).select_from(sessions).where(_ended_before(sessions, before))
        )
        return int(found or 0)
    result = await conn.execute(delete(sessions).where(_ended_before(sessions, before)))
    return int(result.rowcount)
