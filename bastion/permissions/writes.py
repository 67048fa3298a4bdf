"""Check the nodes a mutation touched against the write rules, in its transaction.

The store notes every node a write created, updated, connected to or re-linked; each must meet
its rule afterwards (updates and deletes are also checked before, by their resolvers). One
SELECT per (type, rule) pair, whatever the number of nodes. A failure raises FORBIDDEN, and the
executor rolls the whole document back.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.permissions.compile import ViewerPermissions
from bastion.store.writes import Journal

_VERBS = {"create": "create", "update": "update", "link": "update"}


class _Context(Protocol):
    permissions: ViewerPermissions | None

    async def connection(self) -> AsyncConnection: ...


async def check_writes(context: _Context, journal: Journal) -> None:
    """Raise FORBIDDEN unless every change in ``journal`` is allowed to the viewer."""
    permissions = context.permissions
    if permissions is None or permissions.unrestricted or not journal:
        return
    conn = await context.connection()
    by_rule: dict[tuple[str, str], set[str]] = defaultdict(set)
    by_field: dict[tuple[str, str], set[str]] = defaultdict(set)
    for change in journal:
        if change.operation == "connect" or change.operation == "link":
            # Linking to a node one cannot see would reveal it exists.
            by_rule[(change.type_name, "read")].add(change.node_id)
        if change.operation in _VERBS:
            by_rule[(change.type_name, _VERBS[change.operation])].add(change.node_id)
        for field_name in change.fields:
            by_field[(change.type_name, field_name)].add(change.node_id)
    for (type_name, operation), ids in by_rule.items():
        if operation == "read":
            condition = permissions.row_scope(type_name)
            message = f"Not allowed to link a {type_name} you cannot read"
        else:
            condition = permissions.write_condition(type_name, operation)
            message = f"Not allowed to {operation} this {type_name}"
        await permissions.require(conn, type_name, sorted(ids), condition, message)
    for (type_name, field_name), ids in by_field.items():
        condition = permissions.field_write_condition(type_name, field_name)
        await permissions.require(
            conn, type_name, sorted(ids), condition, f"Not allowed to set {type_name}.{field_name}"
        )
