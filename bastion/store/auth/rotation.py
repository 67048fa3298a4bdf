"""A refresh's writes: the token claimed, its successor stored, the session touched, the audit row.

The common refresh (the token unused, unexpired, its session alive) is what clients send
thousands of times a second, so its writes are run the cheapest way each database allows,
as statements compiled once and run on the driver (:mod:`bastion.store.direct`):

- on PostgreSQL, one statement: the claim is a conditional ``UPDATE ... RETURNING`` in a
  ``WITH`` whose other parts join on what it returned, so the successor, the touch and the
  audit row exist exactly when the claim won. One statement is its own transaction: one round
  trip, where a transaction of five statements took seven;
- on SQLite, which has no writing ``WITH``, five statements in one turn of the writer, each
  a few microseconds on the inline driver.

Either way the claim decides who wins: the ``UPDATE`` marks the token used only if it is unused,
unexpired and its session alive (:func:`bastion.store.auth.refresh_tokens.alive`), so among
parallel refreshes of one token exactly one gets a row, whatever the number of processes.
A token that is not claimed here writes nothing: what a refused or repeated use means
(the reuse interval, theft) is decided by :mod:`bastion.auth.sessions.refresh`, in a
transaction of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, exists, func, insert, select, update

from bastion.store.auth.audit import AuditRow
from bastion.store.auth.refresh_tokens import RefreshTokenRow, alive, session_columns
from bastion.store.database import Database
from bastion.store.direct import Direct


@dataclass(frozen=True)
class Rotation:
    """One refresh: the token presented, its successor, and the facts to write with them."""

    digest: str  # the presented token's SHA-256
    successor: str  # the successor's SHA-256
    now: datetime
    successor_end: datetime  # now and the refresh lifetime: the session's end caps it
    audit: AuditRow  # the refresh's event; its user and session are the token's


# The audit columns a rotation binds; the user and the session come from the token's row.
_AUDIT_BOUND = tuple(
    f.name for f in fields(AuditRow) if f.name not in ("id", "user_id", "session_id")
)


def _typed(table: Table, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: bindparam(f"audit_{name}", type_=table.c[name].type) for name in names}


class Rotations:
    """The statements of a refresh's writes over the refresh, session, user and audit tables."""

    def __init__(self, refresh: Table, sessions: Table, users: Table, audit: Table) -> None:
        now = bindparam("now", type_=refresh.c.used_at.type)
        claim = (
            update(refresh)
            .where(
                refresh.c.hash == bindparam("digest"),
                refresh.c.used_at.is_(None),
                refresh.c.expires_at > now,
                exists().where(
                    sessions.c.id == refresh.c.session_id,
                    users.c.id == sessions.c.user_id,
                    alive(sessions, users, now),
                ),
            )
            .values(used_at=now)
            .returning(refresh.c.session_id, refresh.c.used_at, refresh.c.expires_at)
        )
        joined = session_columns(sessions, users)
        audited = _typed(audit, _AUDIT_BOUND)
        self._sqlite_claim = Direct(claim)
        self._sqlite_load = Direct(
            select(*joined)
            .join_from(sessions, users, users.c.id == sessions.c.user_id)
            .where(sessions.c.id == bindparam("sid"))
        )
        self._sqlite_touch = Direct(
            update(sessions).where(sessions.c.id == bindparam("sid")).values(last_used_at=now)
        )
        self._sqlite_successor = Direct(
            insert(refresh).values(
                hash=bindparam("successor"),
                session_id=bindparam("sid"),
                created_at=now,
                expires_at=bindparam("end", type_=refresh.c.expires_at.type),
            )
        )
        self._sqlite_audit = Direct(
            insert(audit).values(
                **audited, user_id=bindparam("user_id"), session_id=bindparam("sid")
            )
        )
        # PostgreSQL: the same writes, each a part of one statement joined on the claim.
        claimed = claim.cte("claimed")
        found = (
            select(claimed, *joined)
            .join_from(claimed, sessions, sessions.c.id == claimed.c.session_id)
            .join(users, users.c.id == sessions.c.user_id)
            .cte("found")
        )
        touched = (
            update(sessions)
            .where(sessions.c.id == found.c.session_id)
            .values(last_used_at=now)
            .cte("touched")
        )
        successor = insert(refresh).from_select(
            ["hash", "session_id", "created_at", "expires_at"],
            select(
                bindparam("successor"),
                found.c.session_id,
                now,
                func.least(bindparam("end", type_=refresh.c.expires_at.type), found.c.session_end),
            ),
        )
        logged = insert(audit).from_select(
            [*audited, "user_id", "session_id"],
            select(*audited.values(), found.c.user_id, found.c.session_id),
        )
        self._postgresql = Direct(
            select(found)
            .add_cte(touched)
            .add_cte(successor.cte("successor"))
            .add_cte(logged.cte("audited"))
        )

    async def rotate(self, db: Database, rotation: Rotation) -> RefreshTokenRow | None:
        """Claim the token and write its successor, the touch of its session and the audit
        row, in one transaction; the token's row as it was claimed, or None when it was not
        (unknown, used, expired, its session over): then nothing is written."""
        values: dict[str, Any] = {
            "digest": rotation.digest,
            "successor": rotation.successor,
            "now": rotation.now,
            "end": rotation.successor_end,
        }
        values |= {f"audit_{name}": getattr(rotation.audit, name) for name in _AUDIT_BOUND}
        if not db.is_sqlite:  # one statement, its own transaction
            async with db.apart() as conn:
                found = await self._postgresql.rows(conn, values)
            return _row(found[0]) if found else None
        async with db.write() as conn:  # a turn of the writer
            claimed = await self._sqlite_claim.rows(conn, values)
            if not claimed:
                return None
            values["sid"] = claimed[0][0]
            (joined,) = await self._sqlite_load.rows(conn, values)
            row = _row(claimed[0] + joined)
            values["end"] = min(rotation.successor_end, row.session_end)
            values["user_id"] = row.user_id
            await self._sqlite_touch.rows(conn, values)
            await self._sqlite_successor.rows(conn, values)
            await self._sqlite_audit.rows(conn, values)
        return row


def _row(values: tuple[Any, ...]) -> RefreshTokenRow:
    (session_id, used_at, expires_at, user_id, session_end, revoked_at, device, data, active) = (
        values
    )
    return RefreshTokenRow(
        session_id=session_id,
        used_at=used_at,
        expires_at=expires_at,
        user_id=user_id,
        session_end=session_end,
        revoked_at=revoked_at,
        device_id=device,
        user_data=data,
        user_active=bool(active),
        alive=True,  # the claim checked it
    )
