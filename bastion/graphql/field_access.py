"""Field read rules at resolve time: a field the viewer may not read answers null with a
``FORBIDDEN`` error at its path, while the rest of the node resolves.

Whether a row-bound rule holds was computed by the database in the same SELECT as the row (the
``_can_<field>`` column), so this costs no statement. The viewer's own ``User`` shows every
field to them, whatever the rules say for others.
"""

from __future__ import annotations

from typing import Any

from bastion.graphql.build import Resolver
from bastion.graphql.context import Info, context_of
from bastion.model import Field
from bastion.permissions.compile import Forbidden, Permissions
from bastion.store import Node


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
            context = context_of(info)
            permissions = context.permissions
            own = type_name == "User" and (
                node["id"] == context.viewer.user_id or node["id"] in context.own_user_ids
            )
            if (
                permissions is not None
                and not own
                and not permissions.field_readable(type_name, name, node)
            ):
                raise Forbidden(f"Not allowed to read {type_name}.{name}")
            if inner is None:
                return node.get(name)
            return inner(node, info, **args)

        return resolve
