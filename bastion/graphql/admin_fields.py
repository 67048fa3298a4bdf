"""Root-only administration: ``users``, ``deactivateUser``, ``activateUser``, ``revokeSessions``.

Listing every account and switching accounts off are operator acts, as in the admin APIs of
Graphcool and Stitch: a root token may use these fields, anyone else gets ``FORBIDDEN``. They
carry :data:`ROOT_ONLY` in their extensions, so that :mod:`bastion.graphql.visibility` leaves
them out of what non-root callers see by introspection. A user reads their own account through
``viewer { user }``, and other users' rows through ``user(id)`` under the ``User`` rules.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
)

from bastion.graphql import resolvers
from bastion.graphql.build import FieldMap, SchemaBuilder
from bastion.graphql.context import Info, RequestContext, context_of
from bastion.model.names import names_for
from bastion.permissions.compile import Forbidden
from bastion.store import Node

ROOT_ONLY = "bastionRootOnly"
"""The extension key that marks a root field as root-only (hidden from others)."""

_ID = GraphQLNonNull(GraphQLID)
_USER = "User"


def _require_root(info: Info) -> RequestContext:
    context = context_of(info)
    if not context.viewer.is_privileged:
        raise Forbidden("Only a root token may use this field")
    return context


def _root_only(field: GraphQLField) -> GraphQLField:
    field.extensions = {**(field.extensions or {}), ROOT_ONLY: True}
    return field


def query_fields(builder: SchemaBuilder) -> FieldMap:
    """``users``: every account (active or not), for root tokens."""
    list_all = resolvers.many(_USER)

    async def users(root: Any, info: Info, **args: Any) -> list[Node]:
        _require_root(info)
        result: list[Node] = await list_all(root, info, **args)
        return result

    return {
        names_for(_USER).many: _root_only(
            GraphQLField(
                GraphQLNonNull(GraphQLList(GraphQLNonNull(builder.objects[_USER]))),
                args=builder.list_args(_USER),
                resolve=users,
                description="Every user account (root tokens only).",
            )
        )
    }


def mutation_fields(builder: SchemaBuilder) -> FieldMap:
    """``deactivateUser``, ``activateUser`` and ``revokeSessions``."""
    # Deactivation goes through the generated update, which already ends the user's sessions
    # in the same transaction: one home for that rule.
    update_user = resolvers.update(_USER)
    user = GraphQLNonNull(builder.objects[_USER])

    def set_active(active: bool, description: str) -> GraphQLField:
        async def resolve(root: Any, info: Info, id: str) -> Node:
            _require_root(info)
            node: Node = await update_user(root, info, id=id, data={"isActive": active})
            return node

        return _root_only(
            GraphQLField(
                user, args={"id": GraphQLArgument(_ID)}, resolve=resolve, description=description
            )
        )

    async def revoke_sessions(_root: Any, info: Info, userId: str) -> int:
        context = _require_root(info)
        assert context.auth is not None
        await resolvers.visible(context, _USER, userId)  # NOT_FOUND for an unknown user
        conn = await context.connection()
        # Forgotten from the session cache when the executor commits the mutation.
        return len(await context.auth.sessions.end_all_in(conn, userId))

    return {
        "deactivateUser": set_active(
            False, "Switch an account off and end its sessions (root tokens only)."
        ),
        "activateUser": set_active(True, "Switch an account on again (root tokens only)."),
        "revokeSessions": _root_only(
            GraphQLField(
                GraphQLNonNull(GraphQLInt),
                args={"userId": GraphQLArgument(_ID)},
                resolve=revoke_sessions,
                description="End every session of a user; the count ended (root tokens only).",
            )
        ),
    }
