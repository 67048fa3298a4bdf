"""Read nodes: lists, counts, and the batched look-ups that keep relations free of N+1.

Every read takes an optional ``policy`` (the viewer's permissions): its row condition is ANDed
into the WHERE clause and its ``_can_<field>`` columns are selected beside each row, so rows and
values a viewer may not see never leave the database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import FromClause, Result, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.errors import BadUserInput
from bastion.store.direct import Direct, joins_inline
from bastion.store.filters import Condition, FilterCompiler, ReadPolicy, Where
from bastion.store.tables import Tables

Node = dict[str, Any]


@dataclass(frozen=True)
class Page:
    """What a list asks for: a filter, an order, and a window."""

    where: Where | None = None
    order_by: tuple[str, ...] | None = None
    first: int | None = None
    skip: int | None = None

    def check(self) -> None:
        """Refuse negative windows."""
        if self.first is not None and self.first < 0:
            raise BadUserInput("`first` must be 0 or more")
        if self.skip is not None and self.skip < 0:
            raise BadUserInput("`skip` must be 0 or more")


def _nodes(result: Result[Any]) -> list[Node]:
    """The rows of ``result`` as dicts by column name (the names read once, not per row)."""
    keys = list(result.keys())
    # all() takes the rows in one call; iterating the result fetches them one at a time.
    return [dict(zip(keys, row, strict=True)) for row in result.all()]


def _with_id(columns: Sequence[str]) -> list[str]:
    """``columns`` with ``id`` first, each once."""
    return ["id", *(name for name in dict.fromkeys(columns) if name != "id")]


def _reads_whole(policy: ReadPolicy | None, type_name: str, table: FromClause) -> bool:
    """Whether ``policy`` shows every row of the type and every field of each as stored."""
    if policy is None:
        return True
    return policy.row_scope(type_name) is None and not policy.extra_columns(type_name, table)


class Reader:
    """Runs the SELECTs of one project's model."""

    def __init__(self, tables: Tables, filters: FilterCompiler) -> None:
        self.tables = tables
        self.filters = filters
        # Each type's whole row by id, the id bound when it runs: the statement of the most
        # frequent read (a node loaded by id, a mutation's answer) built once, not per read.
        self._by_id = {
            name: select(table).where(table.c.id == bindparam("node_id"))
            for name, table in tables.by_type.items()
        }
        # The same, run past SQLAlchemy's execute on SQLite's inline driver (a mutation's answer
        # read back in its turn of the writer, say): there execute costs more than the read.
        self._direct_by_id = {name: Direct(query) for name, query in self._by_id.items()}
        self._columns = {
            name: tuple(column.name for column in query.selected_columns)
            for name, query in self._by_id.items()
        }

    def _select(
        self,
        type_name: str,
        policy: ReadPolicy | None,
        columns: Sequence[str] | None = None,
    ) -> Select[Any]:
        """The type's rows the policy lets through, with its extra columns; only ``columns``
        (and ``id``) when they are named."""
        table = self.tables[type_name]
        chosen: list[Any] = (
            [table] if columns is None else [table.c[name] for name in _with_id(columns)]
        )
        if policy is None:
            return select(*chosen)
        query = select(*chosen, *policy.extra_columns(type_name, table))
        return self.scoped(query, type_name, policy)

    def scoped(
        self,
        query: Select[Any],
        type_name: str,
        policy: ReadPolicy | None,
        source: FromClause | None = None,
    ) -> Select[Any]:
        """``query`` with the rows of ``type_name`` the policy lets through, over ``source``
        (an alias of the type's table) or the table itself."""
        if policy is None:
            return query
        scope = policy.row_scope(type_name, source)
        return query if scope is None else query.where(scope)

    def paged(
        self,
        query: Select[Any],
        type_name: str,
        page: Page,
        policy: ReadPolicy | None,
        source: FromClause | None = None,
    ) -> Select[Any]:
        """``query`` (already scoped) filtered, ordered and windowed as ``page`` asks, over
        ``source`` or the type's table: how every list of a type is read."""
        filters = self.filters
        query = query.where(filters.where(type_name, page.where, source, policy))
        query = query.order_by(*filters.order_by(type_name, page.order_by, source, policy))
        if page.first is not None:
            query = query.limit(page.first)
        if page.skip:
            query = query.offset(page.skip)
        return query

    def _filtered(
        self,
        type_name: str,
        where: Where | None,
        policy: ReadPolicy | None,
        columns: Sequence[str] | None = None,
    ) -> Select[Any]:
        condition = self.filters.where(type_name, where, policy=policy)
        return self._select(type_name, policy, columns).where(condition)

    async def find_many(
        self,
        conn: AsyncConnection,
        type_name: str,
        page: Page,
        policy: ReadPolicy | None = None,
        columns: Sequence[str] | None = None,
    ) -> list[Node]:
        """A page of nodes matching the filter (only ``columns`` and ``id`` when named)."""
        page.check()
        query = self.paged(self._select(type_name, policy, columns), type_name, page, policy)
        result = await conn.execute(query)
        return _nodes(result)

    async def count(
        self,
        conn: AsyncConnection,
        type_name: str,
        where: Where | None,
        policy: ReadPolicy | None = None,
    ) -> int:
        """How many nodes match the filter."""
        query = (
            self._filtered(type_name, where, policy)
            .with_only_columns(func.count())
            .select_from(self.tables[type_name])
        )
        return int((await conn.execute(query)).scalar_one())

    async def by_ids(
        self,
        conn: AsyncConnection,
        type_name: str,
        ids: Sequence[str],
        policy: ReadPolicy | None = None,
        columns: Sequence[str] | None = None,
    ) -> dict[str, Node]:
        """The nodes with these ids (missing ones are absent from the result)."""
        if not ids:
            return {}
        table = self.tables[type_name]
        if len(ids) == 1 and columns is None and _reads_whole(policy, type_name, table):
            if joins_inline(conn):
                found = await self._direct_by_id[type_name].rows(conn, {"node_id": ids[0]})
                keys = self._columns[type_name]
                nodes = [dict(zip(keys, row, strict=True)) for row in found]
                return {node["id"]: node for node in nodes}
            result = await conn.execute(self._by_id[type_name], {"node_id": ids[0]})
        else:
            query = self._select(type_name, policy, columns).where(table.c.id.in_(set(ids)))
            result = await conn.execute(query)
        return {node["id"]: node for node in _nodes(result)}

    async def ids_matching(
        self, conn: AsyncConnection, type_name: str, ids: Sequence[str], condition: Condition
    ) -> set[str]:
        """Which of the nodes ``ids`` meet ``condition`` (a permission's, say)."""
        table = self.tables[type_name]
        query = select(table.c.id).where(table.c.id.in_(set(ids)), condition)
        return {row[0] for row in (await conn.execute(query)).all()}

    async def linked_ids(
        self, conn: AsyncConnection, type_name: str, column: str, ids: Sequence[str]
    ) -> list[str]:
        """The ids the nodes ``ids`` point at through their key ``column``, each once."""
        table = self.tables[type_name]
        key = table.c[column]
        query = select(key).where(table.c.id.in_(ids), key.is_not(None)).distinct()
        return [str(row[0]) for row in await conn.execute(query)]

    async def by_key(
        self,
        conn: AsyncConnection,
        type_name: str,
        column: str,
        keys: Sequence[str],
        page: Page,
        policy: ReadPolicy | None = None,
        columns: Sequence[str] | None = None,
    ) -> dict[str, list[Node]]:
        """Children of many parents at once: rows whose ``column`` is one of ``keys``.

        One statement for all parents. A window (``first``/``skip``) applies per parent, by
        numbering each parent's rows with ROW_NUMBER() in the requested order.
        """
        page.check()
        table = self.tables[type_name]
        grouped: dict[str, list[Node]] = defaultdict(list)
        if not keys:
            return grouped
        order = self.filters.order_by(type_name, page.order_by, policy=policy)
        if columns is not None and column not in columns:
            columns = [*columns, column]  # the rows are grouped by it
        query = self._filtered(type_name, page.where, policy, columns).where(
            table.c[column].in_(set(keys))
        )
        if page.first is None and not page.skip:
            result = await conn.execute(query.order_by(*order))
            for node in _nodes(result):
                grouped[node[column]].append(node)
            return grouped
        number = func.row_number().over(partition_by=table.c[column], order_by=order)
        numbered = query.add_columns(number.label("_n")).subquery()
        low = page.skip or 0
        kept = [c for c in numbered.c if c.name != "_n"]
        outer = select(*kept).where(numbered.c._n > low)
        if page.first is not None:
            outer = outer.where(numbered.c._n <= low + page.first)
        result = await conn.execute(outer.order_by(numbered.c[column], numbered.c._n))
        for node in _nodes(result):
            grouped[node[column]].append(node)
        return grouped
