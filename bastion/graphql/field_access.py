"""Field read rules at resolve time: a field the viewer may not read answers null with a
``FORBIDDEN`` error at its path, while the rest of the node resolves.

Whether a row-bound rule holds was computed by the database in the same SELECT as the row (the
``_can_<field>`` column), so this costs no statement. The viewer's own ``User`` shows every
field to them, whatever the rules say for others.
"""

from __future__ import annotations

from typing import Any

from bastion.graphql.build import Resolver
from bastion.graphql.context import Info, RequestContext, context_of
from bastion.model import Field
from bastion.permissions.compile import Forbidden, Permissions
from bastion.store import Node


def readable(context: RequestContext, type_name: str, field_name: str, node: Node) -> bool:
    """Whether this request's viewer may read ``field_name`` of the loaded ``node``.

    The one home of the rule, for the field guards below and the compiled read path: a user
    reads every field of their own ``User`` (also one they just proved to be, by logging in).
    """
    permissions = context.permissions
    if permissions is None:
        return True
    if type_name == "User" and (
        node["id"] == context.viewer.user_id or node["id"] in context.own_user_ids
    ):
        return True
    return permissions.field_readable(type_name, field_name, node)


def refused(type_name: str, field_name: str) -> Forbidden:
    """The error of a field the viewer may not read."""
    return Forbidden(f"Not allowed to read {type_name}.{field_name}")


class FieldAccess:
    """Builds the guarded resolvers of the fields that have read rules."""

    def __init__(self, permissions: Permissions) -> None:
        self._permissions = permissions

    def guard(self, type_name: str, field: Field, inner: Resolver | None) -> Resolver | None:
        """A resolver checking ``field``'s read rule, or None when it has none."""
        policy = self._permissions.policies.get(type_name)
        if policy is None or policy.field_rule(field.name, "read") is None:
            return None
        name = field.name

        def resolve(node: Node, info: Info, **args: Any) -> Any:
            if not readable(context_of(info), type_name, name, node):
                raise refused(type_name, name)
            if inner is None:
                return node.get(name)
            return inner(node, info, **args)

        return resolve
