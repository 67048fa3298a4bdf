"""The rows of the event table: what one process tells the others sharing its database.

:mod:`bastion.auth.cluster` decides what an event says (its ``kind`` and ``body``); these are
its statements, each on the caller's connection. An event is appended in the transaction of
the change it tells, so it exists exactly when the change does. On PostgreSQL the append also
sends a notification on :data:`CHANNEL`, which PostgreSQL delivers only when (and if) that
transaction commits. The notification carries the event itself (:func:`payload`), so that a
listening process applies it at once, without reading the table through a connection pool
that its requests may keep busy; an event too long for a notification is sent without it,
and the listeners read the table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

CHANNEL = "bastion_events"
"""The PostgreSQL notification channel an appended event is announced on."""

_NOTIFY = text(f"SELECT pg_notify('{CHANNEL}', :payload)")


@dataclass(frozen=True)
class EventRow:
    """One stored event: its id (increasing), the process that wrote it, what it says."""

    id: int
    origin: str
    kind: str
    body: str


MAX_PAYLOAD = 7000
"""Bytes of a notification's payload carried at most (PostgreSQL's limit is 8000)."""


def payload(event_id: int, origin: str, kind: str, body: str) -> str:
    """The notification of one event: the event as JSON, or "" when it is too long."""
    carried = json.dumps({"id": event_id, "origin": origin, "kind": kind, "body": body})
    return carried if len(carried.encode("utf-8")) <= MAX_PAYLOAD else ""


def from_payload(value: str) -> EventRow | None:
    """The event a notification carries; None for one without it (read the table)."""
    if not value:
        return None
    try:
        found = json.loads(value)
        return EventRow(
            int(found["id"]), str(found["origin"]), str(found["kind"]), str(found["body"])
        )
    except (ValueError, TypeError, KeyError):
        return None


class EventRows:
    """The statements over the event table."""

    def __init__(self, table: Table, *, notify: bool) -> None:
        """``notify``: send a PostgreSQL notification with every append (PostgreSQL only)."""
        self._table = table
        self._notify = notify

    async def append(
        self, conn: AsyncConnection, at: datetime, origin: str, kind: str, body: str
    ) -> None:
        """Store one event in the caller's transaction; listeners hear of it on commit."""
        table = self._table
        result = await conn.execute(
            insert(table).values(at=at, origin=origin, kind=kind, body=body).returning(table.c.id)
        )
        event_id = int(result.scalar_one())
        if self._notify:
            # Held by PostgreSQL until the commit, and dropped with a rollback: a listener
            # never hears of a change that did not happen.
            await conn.execute(_NOTIFY, {"payload": payload(event_id, origin, kind, body)})

    async def after(self, conn: AsyncConnection, after_id: int, limit: int) -> list[EventRow]:
        """The events with an id above ``after_id``, oldest first, at most ``limit``."""
        t = self._table
        result = await conn.execute(
            select(t.c.id, t.c.origin, t.c.kind, t.c.body)
            .where(t.c.id > after_id)
            .order_by(t.c.id)
            .limit(limit)
        )
        return [EventRow(r.id, r.origin, r.kind, r.body) for r in result]

    async def newest_id(self, conn: AsyncConnection) -> int:
        """The id of the newest event, 0 when there is none."""
        value = (await conn.execute(select(func.max(self._table.c.id)))).scalar()
        return int(value or 0)

    async def prune(self, conn: AsyncConnection, before: datetime) -> int:
        """Delete the events written before ``before``; how many went."""
        result = await conn.execute(delete(self._table).where(self._table.c.at < before))
        return int(result.rowcount or 0)
