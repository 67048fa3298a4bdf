"""Check a mutation's changes against the write rules, in its transaction.

A relation has two sides, and a link is stored as a key on one of them (the holder), so a
write that names either side changes a holder's row. The rules, wherever the write names them:

- before a holder's key changes (connect, disconnect, re-link, ``set``, the one-to-one child a
  new one replaces), the holder must meet its ``update`` rule and the write rule of its side's
  field, as it is before the change; the node it leaves must meet the write rule of the other
  side's field;
- after the write, every node created meets ``create``, every node updated or re-linked meets
  ``update``, and every field set on a node, on either side of a relation, meets its write rule;
- a node a write looks up (connect, disconnect, set) is looked up among the nodes the viewer
  may read, so a hidden node is answered as a missing one;
- a delete changes the nodes that point at the deleted one: those its ``SET_NULL`` unlinks are
  checked as re-linked, and those its ``CASCADE`` deletes must meet their ``delete`` rule.

Updates and deletes of the node a mutation names are checked before by their resolvers. The
after-checks run one SELECT per (type, rule) pair, whatever the number of nodes. A failure
raises FORBIDDEN, and the executor rolls the whole document back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import FromClause

from bastion.model import Relation
from bastion.permissions.compile import ViewerPermissions
from bastion.store.filters import Condition
from bastion.store.writes import Journal, LinkGuard

_VERBS = {"create": "create", "update": "update", "link": "update"}


class _Context(Protocol):
    permissions: ViewerPermissions | None

    async def connection(self) -> AsyncConnection: ...


class _Guard:
    """The checks a restricted viewer's write passes before each link changes."""

    def __init__(self, permissions: ViewerPermissions) -> None:
        self._permissions = permissions

    def lookup_scope(self, type_name: str, source: FromClause) -> Condition | None:
        return self._permissions.row_scope(type_name, source)

    async def before_relink(
        self, conn: AsyncConnection, relation: Relation, holders: Sequence[str]
    ) -> None:
        permissions, holder = self._permissions, relation.holder
        condition = permissions.write_condition(holder, "update")
        await permissions.require(
            conn, holder, holders, condition, f"Not allowed to update this {holder}"
        )
        if relation.holder_field is not None:
            condition = permissions.field_write_condition(holder, relation.holder_field)
            message = f"Not allowed to set {holder}.{relation.holder_field}"
            await permissions.require(conn, holder, holders, condition, message)
        if relation.target_field is None:
            return
        condition = permissions.field_write_condition(relation.target, relation.target_field)
        if condition is None:
            return
        # The node each holder leaves loses it from its side of the relation.
        left = await permissions.reader.linked_ids(conn, holder, relation.column, holders)
        message = f"Not allowed to set {relation.target}.{relation.target_field}"
        await permissions.require(conn, relation.target, left, condition, message)

    async def before_delete(
        self, conn: AsyncConnection, type_name: str, ids: Sequence[str]
    ) -> None:
        condition = self._permissions.write_condition(type_name, "delete")
        message = f"Not allowed to delete this {type_name}"
        await self._permissions.require(conn, type_name, ids, condition, message)


def journal_for(permissions: ViewerPermissions | None) -> Journal:
    """A journal for a write by a viewer with these permissions (None: Bastion itself)."""
    if permissions is None or permissions.unrestricted:
        return Journal()
    guard: LinkGuard = _Guard(permissions)
    return Journal(guard=guard)


async def check_writes(context: _Context, journal: Journal) -> None:
    """Raise FORBIDDEN unless every change in ``journal`` is allowed to the viewer."""
    permissions = context.permissions
    if permissions is None or permissions.unrestricted or not journal.changes:
        return
    conn = await context.connection()
    by_rule: dict[tuple[str, str], set[str]] = defaultdict(set)
    by_field: dict[tuple[str, str], set[str]] = defaultdict(set)
    for change in journal.changes:
        if change.operation in _VERBS:
            by_rule[(change.type_name, _VERBS[change.operation])].add(change.node_id)
        for field_name in change.fields:
            by_field[(change.type_name, field_name)].add(change.node_id)
    for (type_name, operation), ids in by_rule.items():
        condition = permissions.write_condition(type_name, operation)
        message = f"Not allowed to {operation} this {type_name}"
        await permissions.require(conn, type_name, sorted(ids), condition, message)
    for (type_name, field_name), ids in by_field.items():
        condition = permissions.field_write_condition(type_name, field_name)
        await permissions.require(
            conn, type_name, sorted(ids), condition, f"Not allowed to set {type_name}.{field_name}"
        )
