"""Project rows into the response, as graphql-core would complete them, without its machinery.

Every step here mirrors graphql-core's completion: a field the viewer may not read answers
null with its ``FORBIDDEN`` error; a value is serialized by its type's own serializer; a null
where the type says non-null is an error and makes the nearest nullable parent null (the
sentinel :data:`INVALID` carries that upwards). Nothing here awaits: the rows were read before
(:mod:`.fetch`).
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError, Undefined, located_error
from graphql.pyutils import inspect

from bastion.graphql.compiled.codegen import Written, write
from bastion.graphql.compiled.fetch import Loaded
from bastion.graphql.compiled.plan import FieldPlan, LeafShape, ObjectPlan
from bastion.graphql.context import RequestContext
from bastion.graphql.field_access import readable, refused
from bastion.store import Node

INVALID: Any = object()
"""A value that failed where null is not allowed: its parent becomes null in its place."""

Path = tuple[Any, str | int] | None
"""Where a value sits: ``(path of its parent, its key or index)``; built as cheaply as a tuple,
read only when an error needs it."""


def as_list(path: Path) -> list[str | int]:
    """The path as an error carries it: keys and indexes from the root."""
    keys: list[str | int] = []
    while path is not None:
        path, key = path
        keys.append(key)
    keys.reverse()
    return keys


def non_null_error(plan: FieldPlan, path: Path) -> GraphQLError:
    """graphql-core's error for a null where the field's type forbids it."""
    message = f"Cannot return null for non-nullable field {plan.parent.name}.{plan.name}."
    return GraphQLError(message, plan.nodes, path=as_list(path))


_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


def _same(kind: type | None, value: Any) -> bool:
    """Whether the serializer would give ``value`` back unchanged (and may be skipped)."""
    if kind is None or value.__class__ is not kind:
        return False
    return kind is not int or (isinstance(value, int) and _INT_MIN <= value <= _INT_MAX)


def _written(plan: ObjectPlan) -> Written:
    """The projector functions of ``plan``, written on first use and kept with it."""
    written: Written | None = plan.projector
    if written is None:
        written = plan.projector = write(plan, _HELPERS, _written)
    return written


class Projector:
    """Builds the answers of one request's model objects from the rows read for it."""

    def __init__(self, context: RequestContext, loaded: Loaded, errors: list[GraphQLError]) -> None:
        self.context = context
        self.loaded = loaded
        self.errors = errors

    def fail(self, error: Exception, plan: FieldPlan, path: Path) -> Any:
        """Record ``error`` at ``path``: null where allowed, else :data:`INVALID`."""
        self.errors.append(located_error(error, plan.nodes, as_list(path)))
        return INVALID if plan.non_null else None

    # -- objects ---------------------------------------------------------------------------

    def object(self, plan: ObjectPlan, row: Node, path: Path) -> Any:
        """The answer of one row of ``plan``'s model type (or :data:`INVALID`)."""
        return _written(plan).one(self, row, path)

    def maybe_object(
        self, field: FieldPlan, child: ObjectPlan, row: Node | None, path: Path
    ) -> Any:
        """A to-one answer: the object, or null (an error where null is not allowed)."""
        if row is None:
            if field.non_null:
                self.errors.append(non_null_error(field, path))
                return INVALID
            return None
        value = self.object(child, row, path)
        if value is INVALID:
            if field.non_null:
                return INVALID
            return None
        return value

    def rows(self, field: FieldPlan, child: ObjectPlan, rows: list[Node], path: Path) -> Any:
        """A list answer: one object per row; a failed item fails the list."""
        items = _written(child).many(self, rows, path)
        if items is INVALID:
            return INVALID if field.non_null else None
        return items

    # -- values ----------------------------------------------------------------------------

    def leaf(self, shape: LeafShape, value: Any, field: FieldPlan, path: Path) -> Any:
        """A scalar or enum value as its type serializes it (a list of them item by item)."""
        if value is None:
            if shape.non_null:
                self.errors.append(non_null_error(field, path))
                return INVALID
            return None
        if shape.items is not None:
            if not isinstance(value, list | tuple):
                error = GraphQLError(
                    "Expected Iterable, but did not find one for field"
                    f" '{field.parent.name}.{field.name}'."
                )
                return self.fail(error, field, path)
            items: list[Any] = []
            for index, item in enumerate(value):
                done = self.leaf(shape.items, item, field, (path, index))
                if done is INVALID:
                    return INVALID if shape.non_null else None
                items.append(done)
            return items
        if shape.serialize is None or _same(shape.same, value):
            return value
        try:
            serialized = shape.serialize(value)
            if serialized is Undefined or serialized is None:
                raise TypeError(
                    f"Expected `{shape.type_name}.serialize({inspect(value)})`"
                    f" to return non-nullish value, returned: {inspect(serialized)}"
                )
        except Exception as error:  # as graphql-core: any failure is the field's
            return self.fail(error, field, path)
        return serialized


# What the written projectors call: the same functions the rest of this module uses.
_HELPERS = {
    "INVALID": INVALID,
    "_same": _same,
    "readable": readable,
    "refused": refused,
    "non_null_error": non_null_error,
}
