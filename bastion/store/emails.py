"""User emails in their normal form (:mod:`bastion.model.emails`), in the database.

Every write of ``User.email`` goes through :class:`EmailWriter`, nested creates included, so
the column holds only normal forms and its unique index makes an address unique however it is
spelt. The normal form is computed here rather than by an index on ``lower(email)``: SQLite's
``lower`` knows only ASCII, PostgreSQL's depends on the collation, and neither composes
Unicode (NFC) or maps IDNA domains, so only a stored normal form means the same on both.

Rows written before the rule are brought to it by ``bastion deploy`` (:func:`plan_emails`):
rows whose normal forms collide block the deploy, listed, and nothing is changed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Column, MetaData, Table, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.errors import BadUserInput
from bastion.model import Model
from bastion.model.emails import EMAIL_FIELD, EMAIL_TYPE, FORM_VERSION, EmailRules, email_key
from bastion.store.filters import FilterCompiler
from bastion.store.schema_plan import Level, SchemaChange
from bastion.store.tables import Tables
from bastion.store.writes import Writer
from bastion.tools.clock import Clock

_SHOWN = 5


class EmailWriter(Writer):
    """The store's writer, with ``User.email`` checked and normalised on every write."""

    def __init__(
        self, model: Model, tables: Tables, filters: FilterCompiler, clock: Clock, rules: EmailRules
    ) -> None:
        super().__init__(model, tables, filters, clock)
        self.rules = rules

    async def create(
        self, conn: AsyncConnection, type_name: str, data: Mapping[str, Any], *args: Any, **kw: Any
    ) -> str:
        """Insert a node (see :meth:`Writer.create`), a User's email in its normal form."""
        if type_name == EMAIL_TYPE and data.get(EMAIL_FIELD) is not None:
            data = {**data, EMAIL_FIELD: self.rules.check(_text(data[EMAIL_FIELD]))}
        return await super().create(conn, type_name, data, *args, **kw)

    async def update(
        self,
        conn: AsyncConnection,
        type_name: str,
        node_id: str,
        data: Mapping[str, Any],
        *args: Any,
        **kw: Any,
    ) -> None:
        """Change a node (see :meth:`Writer.update`), a User's email in its normal form."""
        if type_name == EMAIL_TYPE and data.get(EMAIL_FIELD) is not None:
            value = _text(data[EMAIL_FIELD])
            users = self.tables[EMAIL_TYPE]
            current = (
                await conn.execute(select(users.c[EMAIL_FIELD]).where(users.c.id == node_id))
            ).scalar_one_or_none()
            # The address the user has, sent back unchanged (a form saving every field), is
            # kept as it is even when today's rules would not take it as a new one.
            same = current is not None and email_key(value) == current
            data = {**data, EMAIL_FIELD: current if same else self.rules.check(value)}
        await super().update(conn, type_name, node_id, data, *args, **kw)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise BadUserInput("The email address must be a string", field=EMAIL_FIELD)
    return value


def plan_emails(conn: Connection, recorded: str | None) -> list[SchemaChange]:
    """What brings the stored emails to the normal form of :data:`FORM_VERSION`.

    Nothing once a sync recorded that version (every write since kept it); otherwise a
    DEPLOY change rewriting the rows that differ, or one BLOCKED change per group of rows
    that would become the same address, naming each row.
    """
    if recorded == FORM_VERSION or not conn.dialect.has_table(conn, EMAIL_TYPE):
        return []
    users = Table(EMAIL_TYPE, MetaData(), Column("id"), Column(EMAIL_FIELD))
    column = users.c[EMAIL_FIELD]
    rows = conn.execute(select(users.c.id, column).where(column.is_not(None))).all()
    by_key: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row_id, email in rows:
        by_key[email_key(str(email))].append((str(row_id), str(email)))
    collisions = [(key, found) for key, found in sorted(by_key.items()) if len(found) > 1]
    if collisions:
        return [
            SchemaChange(
                Level.BLOCKED,
                f"User emails that are one address once normalised ({key}): "
                + ", ".join(f"{row_id} {email!r}" for row_id, email in sorted(found))
                + "; give all but one of them another email (or delete them) in the database",
            )
            for key, found in collisions
        ]
    changed = {
        row_id: key for key, found in by_key.items() for row_id, email in found if email != key
    }
    if not changed:
        return []
    olds = dict(rows)
    shown = ", ".join(f"{olds[i]!r} -> {changed[i]!r}" for i in sorted(changed)[:_SHOWN])
    more = f" and {len(changed) - _SHOWN} more" if len(changed) > _SHOWN else ""

    def rewrite(sync_conn: Connection) -> None:
        for row_id, key in changed.items():
            sync_conn.execute(update(users).where(users.c.id == row_id).values({EMAIL_FIELD: key}))

    return [
        SchemaChange(
            Level.DEPLOY,
            f"normalise {len(changed)} User emails (trimmed, lower-cased, NFC): {shown}{more}",
            kind="rewrite_rows",
            rewrite=rewrite,
        )
    ]
