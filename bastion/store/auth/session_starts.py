"""A login's rows, written the cheapest way each database allows: its session, its refresh
token, its audit event.

A login's write is three ``INSERT`` s. In a transaction of their own on PostgreSQL they cost
five round trips (``BEGIN``, the three, ``COMMIT``) after the password's hash, each one waited
for by the client. Written as one statement — the session and the refresh token as
data-modifying ``WITH`` parts of the audit event's ``INSERT`` — in autocommit they cost one,
and stay atomic: a statement commits whole or not at all. The refresh token's reference to its
session is checked at the statement's end, when the session's row is there.

SQLite writes through its single writer (:mod:`bastion.store.writer`), where a login's rows
are written in the turn that holds it, as three statements compiled once and run on the
driver (:mod:`bastion.store.direct`): through SQLAlchemy's ``execute`` they cost several
times what the statements do. The rows are those :mod:`bastion.store.auth.sessions`,
:mod:`bastion.store.auth.refresh_tokens` and :mod:`bastion.store.auth.audit` write one by one.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, MetaData, Table, bindparam, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.store.auth.audit import AuditRow
from bastion.store.auth.sessions import NewSession
from bastion.store.auth.tables import AUDIT_TABLE, REFRESH_TABLE, SESSION_TABLE
from bastion.store.database import Database
from bastion.store.direct import Direct

_SESSION_FIELDS = tuple(f.name for f in fields(NewSession))
_AUDIT_FIELDS = tuple(f.name for f in fields(AuditRow) if f.name != "id")


@dataclass(frozen=True)
class NewRefreshToken:
    """The first refresh token of a GraphQL session, as its digest."""

    digest: str
    expires_at: datetime


def _bound(table: Table, prefix: str) -> dict[str, Any]:
    """Every column but a numbered id, as a parameter named ``prefix`` + its name."""
    return {
        column.name: bindparam(prefix + column.name, type_=column.type)
        for column in table.columns
        if column.autoincrement is not True
    }


class SessionStartRows:
    """The statements of a login's rows, with a refresh token and without (Stitch): one on
    PostgreSQL, three on SQLite."""

    def __init__(self, metadata: MetaData) -> None:
        tables = metadata.tables
        session = insert(tables[SESSION_TABLE]).values(_bound(tables[SESSION_TABLE], "s_"))
        refresh = insert(tables[REFRESH_TABLE]).values(_bound(tables[REFRESH_TABLE], "r_"))
        event = insert(tables[AUDIT_TABLE]).values(_bound(tables[AUDIT_TABLE], "a_"))
        with_session = event.add_cte(session.cte("new_session"))
        self._with_token: Insert = with_session.add_cte(refresh.cte("new_refresh_token"))
        self._without_token: Insert = with_session
        self._sqlite_session = Direct(session)
        self._sqlite_refresh = Direct(refresh)
        self._sqlite_event = Direct(event)

    async def write(
        self,
        db: Database,
        session: NewSession,
        refresh: NewRefreshToken | None,
        event: AuditRow,
    ) -> None:
        """Write the rows in one statement of their own on PostgreSQL, committed when it
        returns."""
        values = _values(session, refresh, event)
        statement = self._without_token if refresh is None else self._with_token
        db.wrote_apart()
        async with db.engine.connect() as conn:
            alone = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await alone.execute(statement, values)

    async def write_in(
        self,
        conn: AsyncConnection,
        session: NewSession,
        refresh: NewRefreshToken | None,
        event: AuditRow,
    ) -> None:
        """Write the rows in the transaction of ``conn``, a SQLite connection (a turn of the
        writer), as statements run on the driver."""
        assert conn.dialect.name == "sqlite", "on PostgreSQL a login's rows are one statement"
        values = _values(session, refresh, event)
        await self._sqlite_session.rows(conn, values)
        if refresh is not None:
            await self._sqlite_refresh.rows(conn, values)
        await self._sqlite_event.rows(conn, values)


def _values(
    session: NewSession, refresh: NewRefreshToken | None, event: AuditRow
) -> dict[str, Any]:
    """The parameters of the rows' statements: the session's (used at its creation, never
    revoked), the refresh token's (unused), the event's."""
    values: dict[str, Any] = {f"s_{name}": getattr(session, name) for name in _SESSION_FIELDS}
    values |= {"s_last_used_at": session.created_at, "s_revoked_at": None}
    values |= {f"a_{name}": getattr(event, name) for name in _AUDIT_FIELDS}
    if refresh is not None:
        values |= {
            "r_hash": refresh.digest,
            "r_session_id": session.id,
            "r_created_at": session.created_at,
            "r_expires_at": refresh.expires_at,
            "r_used_at": None,
        }
    return values
