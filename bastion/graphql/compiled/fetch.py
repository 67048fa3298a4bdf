"""Read the rows a plan needs, one statement per relation level, only the columns it reads.

Given the rows of one level and the plan of their type, each relation field reads the rows
it points at for every parent at once (a to-one by the ids the parents hold, a to-many by
the parents' ids, windowed per parent), then the next level below them, and so on. A
relation's arguments are read and checked once per level, as its resolver would for each
parent; a refusal is kept and answered at every parent's path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphql import VariableNode
from graphql.execution.values import VariableValues, get_argument_values

from bastion.graphql.compiled.plan import FieldPlan, ObjectPlan
from bastion.graphql.context import RequestContext
from bastion.graphql.field_access import readable
from bastion.graphql.resolvers import checked_page
from bastion.graphql.sources import Link
from bastion.graphql.value_nodes import holds
from bastion.model import RelationField
from bastion.store import Node, Page


class Loaded:
    """What the relation fields of a request read: rows by parent, or the refusal (one per
    request: a plain class, made faster than a dataclass of factories)."""

    __slots__ = ("refused", "to_many", "to_one")

    def __init__(self) -> None:
        self.to_one: dict[int, dict[str, Node]] = {}
        """Per relation field (by id of its plan): target rows by their id."""
        self.to_many: dict[int, dict[str, list[Node]]] = {}
        """Per relation field: child rows by the parent's id, in the asked order."""
        self.refused: dict[int, Exception] = {}
        """Per relation field: why its arguments were refused (for every parent)."""


def arguments(plan: FieldPlan, variables: VariableValues) -> dict[str, Any]:
    """The field's arguments with the request's variables, coerced as graphql-core does.

    Arguments written without variables are read once and kept with the plan: callers
    never change the dict they get."""
    if plan.fixed_arguments is not None:
        return plan.fixed_arguments
    if not plan.has_args:
        none: dict[str, Any] = {}
        plan.fixed_arguments = none
        return none
    found = get_argument_values(plan.definition, plan.nodes[0], variables)
    if not any(holds(node.value, VariableNode) for node in plan.nodes[0].arguments or ()):
        plan.fixed_arguments = found
    return found


class Fetcher:
    """Reads the levels below a request's rows."""

    def __init__(self, context: RequestContext, variables: VariableValues) -> None:
        self.context = context
        self.variables = variables
        self.loaded = Loaded()

    async def below(self, plan: ObjectPlan, rows: Sequence[Node]) -> None:
        """Read every relation level under ``rows`` (of ``plan``'s type)."""
        if not rows:
            return
        for link in plan.links:
            await self._link(plan, link, rows)

    async def _link(self, plan: ObjectPlan, link: FieldPlan, rows: Sequence[Node]) -> None:
        source = link.source
        assert isinstance(source, Link) and link.child is not None
        relation = source.field
        parents = rows
        if source.guarded:
            # A parent whose field is hidden never asks for its rows, as its guard would
            # refuse before the relation's resolver ran.
            name, type_name = link.name, plan.type.name
            parents = [r for r in rows if readable(self.context, type_name, name, r)]
            if not parents:
                return
        try:
            children = await self._read(link, relation, parents)
        except Exception as error:  # as graphql-core: every parent's field fails with it
            self.loaded.refused[id(link)] = error
            return
        await self.below(link.child, children)

    async def _read(
        self, link: FieldPlan, relation: RelationField, parents: Sequence[Node]
    ) -> list[Node]:
        """Read the rows of one relation for every parent; the rows read."""
        assert link.child is not None
        context = self.context
        reader = context.store.reader
        policy = context.permissions
        target = relation.target
        columns = link.child.columns
        column = relation.relation.column
        key = id(link)
        if relation.holds_key:
            ids = list(dict.fromkeys(r[column] for r in parents if r.get(column) is not None))
            conn = await context.connection()
            found = await reader.by_ids(conn, target, ids, policy, columns)
            # A plan met again (under another resolved parent) adds to what it read.
            self.loaded.to_one.setdefault(key, {}).update(found)
            return list(found.values())
        if relation.many:
            page = checked_page(context, target, arguments(link, self.variables))
        else:
            page = Page()
        conn = await context.connection()
        parent_ids = [r["id"] for r in parents]
        grouped = await reader.by_key(conn, target, column, parent_ids, page, policy, columns)
        self.loaded.to_many.setdefault(key, {}).update(grouped)
        return [row for group in grouped.values() for row in group]
