"""Looking into an argument's value as written in a document (graphql-core's value nodes)."""

from __future__ import annotations

from graphql import ListValueNode, ObjectValueNode, ValueNode


def holds(value: ValueNode | None, kinds: type[ValueNode] | tuple[type[ValueNode], ...]) -> bool:
    """Whether ``value``, or any value inside its lists and input objects, is of ``kinds``
    (a variable, a string literal...)."""
    if isinstance(value, kinds):
        return True
    if isinstance(value, ListValueNode):
        return any(holds(each, kinds) for each in value.values)
    if isinstance(value, ObjectValueNode):
        return any(holds(each.value, kinds) for each in value.fields)
    return False
