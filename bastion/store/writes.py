"""Create, update and delete nodes, with nested create/connect/disconnect of relations.

Every method runs on a connection inside a write transaction that the caller owns: a mutation
either writes everything it asked for or nothing. Database constraint failures are turned into
:class:`Conflict` errors naming the field, here, where the table is known.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from bastion.clock import Clock
from bastion.errors import BadUserInput, Conflict, NotFound
from bastion.model import (
    MANAGED_TIMESTAMPS,
    Model,
    OnDelete,
    RelationField,
    ScalarField,
    ScalarKind,
)
from bastion.model.values import format_datetime, parse_datetime
from bastion.store.filters import FilterCompiler
from bastion.store.ids import new_id
from bastion.store.reads import Node
from bastion.store.tables import Tables, unique_index_name

Data = Mapping[str, Any]


class Writer:
    """Runs the INSERT/UPDATE/DELETE statements of one project's model."""

    def __init__(self, model: Model, tables: Tables, filters: FilterCompiler, clock: Clock) -> None:
        self.model = model
        self.tables = tables
        self.filters = filters
        self.clock = clock

    # -- statements and their errors ------------------------------------------------------

    async def _run(self, conn: AsyncConnection, type_name: str, statement: Executable) -> int:
        try:
            result = await conn.execute(statement)
        except IntegrityError as error:
            raise self._conflict(type_name, error) from None
        return int(getattr(result, "rowcount", 0) or 0)

    def _conflict(self, type_name: str, error: IntegrityError) -> Conflict:
        text = str(error.orig)
        obj = self.model.type(type_name)
        unique = [f.name for f in obj.scalars if f.unique]
        unique += [r.column for r in obj.foreign_keys if not r.target_many]
        for column in unique:
            if _mentions(text, f"{type_name}.{column}") or _mentions(
                text, unique_index_name(type_name, column)
            ):
                field = next(
                    (r.holder_field for r in obj.foreign_keys if r.column == column), column
                )
                return Conflict(f"A {type_name} with this {field} already exists", field=field)
        if "foreign key" in text.lower():
            blockers = [
                f"{r.holder}.{r.holder_field or r.column}"
                for r in self.model.pointing_at(type_name)
                if r.on_delete is OnDelete.RESTRICT
            ]
            return Conflict(
                f"This {type_name} is still linked from {', '.join(blockers) or 'another node'}"
            )
        return Conflict(f"The write to {type_name} breaks a database constraint")

    async def _id_of(self, conn: AsyncConnection, type_name: str, where: Data) -> str:
        table = self.tables[type_name]
        condition = self.filters.where_unique(type_name, where)
        found = (await conn.execute(select(table.c.id).where(condition))).scalar_one_or_none()
        if found is None:
            raise NotFound(f"No {type_name} matches the given {_keys(where)}")
        return str(found)

    async def exists(self, conn: AsyncConnection, type_name: str, node_id: str) -> bool:
        """Whether a node with this id exists."""
        table = self.tables[type_name]
        query = select(table.c.id).where(table.c.id == node_id)
        return (await conn.execute(query)).first() is not None

    # -- create ---------------------------------------------------------------------------

    async def create(
        self,
        conn: AsyncConnection,
        type_name: str,
        data: Data,
        link: tuple[str, str] | None = None,
        journal: Journal | None = None,
    ) -> str:
        """Insert a node (and the nodes nested in ``data``); returns its id.

        ``link`` is (key column, parent id) when the node is created inside its parent.
        Every node created, connected or re-linked is noted in ``journal``, for the
        permission checks that follow in the same transaction.
        """
        obj = self.model.type(type_name)
        now = _to_millis(self.clock())
        row: dict[str, Any] = {"id": new_id()}
        for field in obj.scalars:
            if field.managed:
                if field.name in MANAGED_TIMESTAMPS and field.kind is ScalarKind.DATETIME:
                    row[field.name] = now
            elif data.get(field.name) is not None:
                row[field.name] = _stored(field, data[field.name])
            elif field.has_default:
                row[field.name] = _stored(field, field.default)
            elif field.required:
                raise BadUserInput(f"{type_name}.{field.name} is required")
        for link_field in obj.relations:
            if link_field.holds_key and data.get(link_field.name) is not None:
                row[link_field.relation.column] = await self._one_target(
                    conn, link_field, data[link_field.name], journal
                )
        if link is not None:
            column, parent = link
            if row.get(column) is not None:
                raise BadUserInput(
                    f"{type_name}: the link to its parent is set by the enclosing create"
                )
            row[column] = parent
        for relation in obj.foreign_keys:
            if relation.required and row.get(relation.column) is None:
                raise BadUserInput(f"{type_name}.{relation.holder_field} is required")
        await self._run(conn, type_name, insert(self.tables[type_name]).values(row))
        _note(journal, "create", type_name, row["id"], data)
        for link_field in obj.relations:
            if not link_field.holds_key and data.get(link_field.name) is not None:
                await self._link_children(
                    conn, link_field, row["id"], data[link_field.name], journal
                )
        return str(row["id"])

    async def _one_target(
        self, conn: AsyncConnection, field: RelationField, value: Data, journal: Journal | None
    ) -> str | None:
        """The id a to-one input points at: a nested create or a connect."""
        ops = {k: v for k, v in value.items() if v is not None and v is not False}
        if len(ops) != 1:
            raise BadUserInput(
                f"{field.name}: give exactly one of create, connect"
                + (", disconnect" if "disconnect" in value else "")
            )
        if "create" in ops:
            return await self.create(conn, field.target, ops["create"], journal=journal)
        if "connect" in ops:
            target_id = await self._id_of(conn, field.target, ops["connect"])
            _note(journal, "connect", field.target, target_id)
            return target_id
        if field.relation.required:
            raise BadUserInput(f"{field.name} is required and cannot be disconnected")
        return None

    async def _link_children(
        self,
        conn: AsyncConnection,
        field: RelationField,
        parent: str,
        value: Data,
        journal: Journal | None,
    ) -> None:
        """Apply create/connect/disconnect on the side of a relation that holds no key."""
        relation = field.relation
        child = self.tables[field.target]
        column = child.c[relation.column]
        if field.many:
            creates, connects = value.get("create") or [], value.get("connect") or []
            disconnects = value.get("disconnect") or []
        else:
            ops = {k: v for k, v in value.items() if v is not None and v is not False}
            if len(ops) != 1:
                raise BadUserInput(f"{field.name}: give exactly one of create, connect, disconnect")
            # A one-to-one holds one child: unlink the current one first.
            await self._unlink(conn, field, child, column == parent, journal)
            creates = [ops["create"]] if "create" in ops else []
            connects = [ops["connect"]] if "connect" in ops else []
            disconnects = []
        for where in disconnects:
            if relation.required:
                raise BadUserInput(
                    f"{relation.holder}.{relation.holder_field} is required, so a "
                    f"{field.target} cannot be disconnected from {field.name}"
                )
            child_id = await self._id_of(conn, field.target, where)
            statement = (
                update(child)
                .where(child.c.id == child_id, column == parent)
                .values({relation.column: None})
            )
            if await self._run(conn, field.target, statement) == 0:
                raise NotFound(
                    f"No {field.target} in {field.name} matches the given {_keys(where)}"
                )
            _note(journal, "link", field.target, child_id)
        for item in creates:
            await self.create(
                conn, field.target, item, link=(relation.column, parent), journal=journal
            )
        for where in connects:
            child_id = await self._id_of(conn, field.target, where)
            statement = (
                update(child).where(child.c.id == child_id).values({relation.column: parent})
            )
            await self._run(conn, field.target, statement)
            _note(journal, "link", field.target, child_id)

    async def _unlink(
        self,
        conn: AsyncConnection,
        field: RelationField,
        child: Table,
        condition: Any,
        journal: Journal | None,
    ) -> None:
        relation = field.relation
        linked = (await conn.execute(select(child.c.id).where(condition))).first()
        if linked is None:
            return
        _note(journal, "link", field.target, linked[0])
        if relation.required:
            raise Conflict(
                f"{field.name} is already linked, and "
                f"{relation.holder}.{relation.holder_field} is required"
            )
        await self._run(
            conn, field.target, update(child).where(condition).values({relation.column: None})
        )

    # -- update ---------------------------------------------------------------------------

    async def update(
        self,
        conn: AsyncConnection,
        type_name: str,
        node_id: str,
        data: Data,
        journal: Journal | None = None,
    ) -> None:
        """Change a node; raises :class:`NotFound` when it does not exist."""
        if not await self.exists(conn, type_name, node_id):
            raise NotFound(f"No {type_name} with id {node_id}")
        obj = self.model.type(type_name)
        values: dict[str, Any] = {}
        for field in obj.scalars:
            if field.managed or field.name not in data:
                continue
            if data[field.name] is None and field.required:
                raise BadUserInput(f"{type_name}.{field.name} is required and cannot be null")
            values[field.name] = _stored(field, data[field.name])
        for link_field in obj.relations:
            if link_field.holds_key and data.get(link_field.name) is not None:
                values[link_field.relation.column] = await self._one_target(
                    conn, link_field, data[link_field.name], journal
                )
        if "updatedAt" in obj.fields and (
            values or any(data.get(f.name) is not None for f in obj.relations)
        ):
            values["updatedAt"] = _to_millis(self.clock())
        table = self.tables[type_name]
        if values:
            await self._run(
                conn, type_name, update(table).where(table.c.id == node_id).values(values)
            )
        _note(journal, "update", type_name, node_id, data)
        for link_field in obj.relations:
            if not link_field.holds_key and data.get(link_field.name) is not None:
                await self._link_children(conn, link_field, node_id, data[link_field.name], journal)

    # -- delete ---------------------------------------------------------------------------

    async def delete(self, conn: AsyncConnection, type_name: str, node_id: str) -> Node:
        """Delete a node and return it as it was; linked nodes follow their onDelete."""
        table = self.tables[type_name]
        row = (await conn.execute(select(table).where(table.c.id == node_id))).mappings().first()
        if row is None:
            raise NotFound(f"No {type_name} with id {node_id}")
        await self._run(conn, type_name, delete(table).where(table.c.id == node_id))
        return dict(row)


@dataclass(frozen=True)
class Change:
    """One node a write touched: created, updated, connected to, or re-linked (``link``)."""

    operation: str
    type_name: str
    node_id: str
    fields: tuple[str, ...] = ()


Journal = list[Change]


def _note(
    journal: Journal | None, operation: str, type_name: str, node_id: str, data: Data | None = None
) -> None:
    if journal is not None:
        journal.append(Change(operation, type_name, str(node_id), tuple(data or ())))


def _mentions(text: str, name: str) -> bool:
    # A whole name only: the unique index of `name` must not be found in the one of `nameCode`.
    return re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", text) is not None


def _to_millis(value: datetime) -> datetime:
    # The API shows milliseconds; a stored value finer than that could never be found again by
    # the value a client read (`createdAt: <what it was given>` would match nothing).
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _stored(field: ScalarField, value: Any) -> Any:
    """A field's value as its column keeps it."""
    # A literal like 1e400 reaches us as infinity, which no answer could carry back.
    finite = not isinstance(value, float) or math.isfinite(value)
    if field.kind is ScalarKind.FLOAT and not finite:
        raise BadUserInput(f"{field.name} must be a finite number")
    if field.kind is not ScalarKind.DATETIME or value is None:
        return value
    if field.is_list:  # a JSON column: the dates go in as the ISO text the API shows
        return [format_datetime(v if isinstance(v, datetime) else parse_datetime(v)) for v in value]
    return _to_millis(value if isinstance(value, datetime) else parse_datetime(value))


def _keys(where: Data) -> str:
    return ", ".join(k for k, v in where.items() if v is not None) or "fields"
