"""Create, update and delete nodes, with nested create/connect/disconnect/set of relations.

Every method runs on a connection inside a write transaction that the caller owns: a mutation
either writes everything it asked for or nothing. Database constraint failures are turned into
:class:`Conflict` errors naming the field, here, where the table is known.

A write on behalf of a viewer carries a :class:`Journal` with a :class:`LinkGuard`. A relation
has two sides, and a write that names one side changes a row of the type holding the key,
whichever side it names: so the guard is asked before every key of an existing row changes
(the permission layer refuses unless that row may be updated), every node a write looks up is
looked up through the viewer's read scope (a hidden node is a missing one), and every change is
noted for the checks that follow the write.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable, FromClause

from bastion.errors import BadUserInput, Conflict, NotFound
from bastion.model import (
    MANAGED_TIMESTAMPS,
    Model,
    OnDelete,
    Relation,
    RelationField,
    ScalarField,
    ScalarKind,
)
from bastion.model.values import format_datetime, parse_datetime
from bastion.store.direct import Direct, joins_inline
from bastion.store.filters import Condition, FilterCompiler
from bastion.store.ids import new_id
from bastion.store.reads import Node
from bastion.store.tables import Tables, unique_index_name
from bastion.tools.clock import Clock

Data = Mapping[str, Any]

# The sets of columns whose direct INSERTs are kept compiled (a model's creates use a few each).
_MAX_DIRECT_INSERTS = 500


class Writer:
    """Runs the INSERT/UPDATE/DELETE statements of one project's model."""

    def __init__(self, model: Model, tables: Tables, filters: FilterCompiler, clock: Clock) -> None:
        self.model = model
        self.tables = tables
        self.filters = filters
        self.clock = clock
        # One INSERT per type, its values bound when it runs: built once, and compiled once per
        # set of columns given (SQLAlchemy's cache), instead of a statement built per row.
        self._inserts = {name: insert(table) for name, table in tables.by_type.items()}
        # On SQLite's inline driver, the same INSERT per type and set of columns, run past
        # SQLAlchemy's execute (bastion.store.direct), which costs more than the statement.
        self._direct_inserts: dict[tuple[str, tuple[str, ...]], Direct] = {}

    # -- statements and their errors ------------------------------------------------------

    async def _run(
        self,
        conn: AsyncConnection,
        type_name: str,
        statement: Executable,
        values: dict[str, Any] | None = None,
    ) -> int:
        try:
            result = await conn.execute(statement, values)
        except IntegrityError as error:
            raise self._conflict(type_name, error) from None
        return int(getattr(result, "rowcount", 0) or 0)

    async def _insert(self, conn: AsyncConnection, type_name: str, row: dict[str, Any]) -> None:
        """Insert ``row`` into the type's table."""
        if not joins_inline(conn):
            await self._run(conn, type_name, self._inserts[type_name], row)
            return
        key = (type_name, tuple(row))
        direct = self._direct_inserts.get(key)
        if direct is None:
            if len(self._direct_inserts) >= _MAX_DIRECT_INSERTS:
                self._direct_inserts.clear()  # bounds what unusual sets of columns keep
            table = self.tables[type_name]
            # Named apart from the columns: SQLAlchemy keeps a column's own name for itself.
            values = {name: bindparam(f"v_{name}", type_=table.c[name].type) for name in row}
            direct = self._direct_inserts[key] = Direct(insert(table).values(values))
        try:
            await direct.rows(conn, {f"v_{name}": value for name, value in row.items()})
        except IntegrityError as error:
            raise self._conflict(type_name, error) from None

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

    async def _id_of(
        self, conn: AsyncConnection, type_name: str, where: Data, journal: Journal | None
    ) -> str:
        """The id of the node ``where`` names, among the nodes the viewer may see."""
        table = self.tables[type_name]
        query = select(table.c.id).where(self.filters.where_unique(type_name, where))
        scope = _lookup_scope(journal, type_name, table)
        if scope is not None:
            query = query.where(scope)
        found = (await conn.execute(query)).scalar_one_or_none()
        if found is None:
            # One answer for a node that does not exist and one the viewer may not see.
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
        link: tuple[Relation, str] | None = None,
        journal: Journal | None = None,
    ) -> str:
        """Insert a node (and the nodes nested in ``data``); returns its id.

        ``link`` is (relation, parent id) when the node is created inside its parent.
        Every node created, connected or re-linked is noted in ``journal``, for the
        permission checks that follow in the same transaction.
        """
        obj = self.model.type(type_name)
        now = _to_millis(self.clock())
        row: dict[str, Any] = {"id": new_id()}
        for scalar in obj.scalars:
            if scalar.managed:
                if scalar.name in MANAGED_TIMESTAMPS and scalar.kind is ScalarKind.DATETIME:
                    row[scalar.name] = now
            elif data.get(scalar.name) is not None:
                row[scalar.name] = _stored(scalar, data[scalar.name])
            elif scalar.has_default:
                row[scalar.name] = _stored(scalar, scalar.default)
            elif scalar.required:
                raise BadUserInput(f"{type_name}.{scalar.name} is required")
        for link_field in obj.relations:
            if link_field.holds_key and data.get(link_field.name) is not None:
                row[link_field.relation.column] = await self._one_target(
                    conn, link_field, data[link_field.name], journal
                )
        fields = tuple(data)
        if link is not None:
            relation, parent = link
            if row.get(relation.column) is not None:
                raise BadUserInput(
                    f"{type_name}: the link to its parent is set by the enclosing create"
                )
            row[relation.column] = parent
            # Created inside its parent, the node sets its own side of the link as well.
            fields += _side(relation.holder_field)
        for relation in obj.foreign_keys:
            if relation.required and row.get(relation.column) is None:
                raise BadUserInput(f"{type_name}.{relation.holder_field} is required")
        await self._insert(conn, type_name, row)
        _note(journal, "create", type_name, row["id"], fields)
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
        back = _side(field.relation.target_field)
        if "create" in ops:
            target_id = await self.create(conn, field.target, ops["create"], journal=journal)
            _note(journal, "connect", field.target, target_id, back)
            return target_id
        if "connect" in ops:
            target_id = await self._id_of(conn, field.target, ops["connect"], journal)
            _note(journal, "connect", field.target, target_id, back)
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
        """Apply create/connect/disconnect/set on the side of a relation that holds no key."""
        relation = field.relation
        child = self.tables[field.target]
        column = child.c[relation.column]
        if field.many:
            creates, connects = value.get("create") or [], value.get("connect") or []
            disconnects = value.get("disconnect") or []
            if value.get("set") is not None:
                if connects or disconnects:
                    raise BadUserInput(f"{field.name}: give set, or connect and disconnect")
                await self._replace(conn, field, parent, value["set"], journal)
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
            child_id = await self._id_of(conn, field.target, where, journal)
            linked = (child.c.id == child_id) & (column == parent)
            if (await conn.execute(select(child.c.id).where(linked))).first() is None:
                raise NotFound(
                    f"No {field.target} in {field.name} matches the given {_keys(where)}"
                )
            await self._relink(conn, relation, [child_id], None, journal)
        for item in creates:
            await self.create(conn, field.target, item, link=(relation, parent), journal=journal)
        # One statement (and one set of checks) for all the children a list connects.
        connected = [await self._id_of(conn, field.target, where, journal) for where in connects]
        await self._relink(conn, relation, sorted(set(connected)), parent, journal)

    async def _replace(
        self,
        conn: AsyncConnection,
        field: RelationField,
        parent: str,
        wanted: list[Data],
        journal: Journal | None,
    ) -> None:
        """``set``: unlink the children not in ``wanted`` and link those not linked yet.

        Children already linked and wanted stay as they are: nothing of theirs changes. The
        list is the one the viewer sees: children hidden from them are not in it, and stay.
        """
        relation = field.relation
        child = self.tables[field.target]
        keep = {await self._id_of(conn, field.target, where, journal) for where in wanted}
        query = select(child.c.id).where(child.c[relation.column] == parent)
        scope = _lookup_scope(journal, field.target, child)
        if scope is not None:
            query = query.where(scope)
        current = {str(row[0]) for row in await conn.execute(query)}
        dropped = sorted(current - keep)
        if dropped and relation.required:
            raise BadUserInput(
                f"{relation.holder}.{relation.holder_field} is required, so `set` on "
                f"{field.name} cannot leave a {field.target} out"
            )
        await self._relink(conn, relation, dropped, None, journal)
        await self._relink(conn, relation, sorted(keep - current), parent, journal)

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
        if relation.required:
            raise Conflict(
                f"{field.name} is already linked, and "
                f"{relation.holder}.{relation.holder_field} is required"
            )
        await self._relink(conn, relation, [str(linked[0])], None, journal)

    async def _relink(
        self,
        conn: AsyncConnection,
        relation: Relation,
        holders: Sequence[str],
        target: str | None,
        journal: Journal | None,
    ) -> None:
        """Point the key of existing ``holders`` at ``target`` (None: unlink them)."""
        if not holders:
            return
        if journal is not None and journal.guard is not None:
            await journal.guard.before_relink(conn, relation, holders)
        table = self.tables[relation.holder]
        statement = update(table).where(table.c.id.in_(holders)).values({relation.column: target})
        await self._run(conn, relation.holder, statement)
        for holder in holders:
            _note(journal, "link", relation.holder, holder, _side(relation.holder_field))

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
        for scalar in obj.scalars:
            if scalar.managed or scalar.name not in data:
                continue
            if data[scalar.name] is None and scalar.required:
                raise BadUserInput(f"{type_name}.{scalar.name} is required and cannot be null")
            values[scalar.name] = _stored(scalar, data[scalar.name])
        for link_field in obj.relations:
            if link_field.holds_key and data.get(link_field.name) is not None:
                if journal is not None and journal.guard is not None:
                    await journal.guard.before_relink(conn, link_field.relation, [node_id])
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
        _note(journal, "update", type_name, node_id, tuple(data))
        for link_field in obj.relations:
            if not link_field.holds_key and data.get(link_field.name) is not None:
                await self._link_children(conn, link_field, node_id, data[link_field.name], journal)

    # -- delete ---------------------------------------------------------------------------

    async def delete(
        self,
        conn: AsyncConnection,
        type_name: str,
        node_id: str,
        journal: Journal | None = None,
    ) -> Node:
        """Delete a node and return it as it was; linked nodes follow their onDelete."""
        table = self.tables[type_name]
        row = (await conn.execute(select(table).where(table.c.id == node_id))).mappings().first()
        if row is None:
            raise NotFound(f"No {type_name} with id {node_id}")
        if journal is not None and journal.guard is not None:
            await self._check_fallout(conn, journal.guard, type_name, [node_id], set())
        await self._run(conn, type_name, delete(table).where(table.c.id == node_id))
        return dict(row)

    async def _check_fallout(
        self,
        conn: AsyncConnection,
        guard: LinkGuard,
        type_name: str,
        ids: Sequence[str],
        seen: set[tuple[str, str]],
    ) -> None:
        """Ask the guard about every node the database will change when ``ids`` go.

        ``SET_NULL`` unlinks the nodes that point at them, ``CASCADE`` deletes them (and what
        points at those in turn); ``RESTRICT`` refuses the delete on its own.
        """
        seen.update((type_name, node_id) for node_id in ids)
        for relation in self.model.pointing_at(type_name):
            if relation.on_delete is OnDelete.RESTRICT:
                continue
            holder = self.tables[relation.holder]
            query = select(holder.c.id).where(holder.c[relation.column].in_(ids))
            found = [str(row[0]) for row in await conn.execute(query)]
            found = [i for i in found if (relation.holder, i) not in seen]
            if not found:
                continue
            if relation.on_delete is OnDelete.SET_NULL:
                await guard.before_relink(conn, relation, found)
            else:
                await guard.before_delete(conn, relation.holder, found)
                await self._check_fallout(conn, guard, relation.holder, found, seen)


@dataclass(frozen=True)
class Touched:
    """One node a write touched: created, updated, connected to, or re-linked (``link``).

    ``fields`` are the fields the write set on it, including its side of a relation that was
    written from the other side.
    """

    operation: str
    type_name: str
    node_id: str
    fields: tuple[str, ...] = ()


class LinkGuard(Protocol):
    """What a viewer's write must pass as it goes; the permission layer implements it."""

    def lookup_scope(self, type_name: str, source: FromClause) -> Condition | None:
        """The condition a node must meet to be found by a connect, disconnect or set."""

    async def before_relink(
        self, conn: AsyncConnection, relation: Relation, holders: Sequence[str]
    ) -> None:
        """Refuse unless the key of ``relation`` may change on each of ``holders``, as they
        are now (before the change)."""

    async def before_delete(
        self, conn: AsyncConnection, type_name: str, ids: Sequence[str]
    ) -> None:
        """Refuse unless each of ``ids`` may be deleted (a delete cascades to them)."""


@dataclass
class Journal:
    """The changes of one write, and the guard its links are checked with on the way."""

    guard: LinkGuard | None = None
    changes: list[Touched] = dataclasses.field(default_factory=list)


def _note(
    journal: Journal | None,
    operation: str,
    type_name: str,
    node_id: str,
    fields: tuple[str, ...] = (),
) -> None:
    if journal is not None:
        journal.changes.append(Touched(operation, type_name, str(node_id), fields))


def _lookup_scope(journal: Journal | None, type_name: str, source: FromClause) -> Condition | None:
    if journal is None or journal.guard is None:
        return None
    return journal.guard.lookup_scope(type_name, source)


def _side(field_name: str | None) -> tuple[str, ...]:
    """The field a side of a relation is declared as, if it is declared."""
    return () if field_name is None else (field_name,)


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
