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
    GraphQLBoolean,
    GraphQLField,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from bastion.auth.audit import AuditEvent, admin_action
from bastion.auth.events import SessionsEnded
from bastion.errors import BadUserInput
from bastion.graphql import resolvers
from bastion.graphql.build import FieldMap, SchemaBuilder
from bastion.graphql.context import Info, RequestContext, context_of
from bastion.graphql.scalars import DateTimeScalar, JSONScalar
from bastion.graphql.visibility import ROOT_ONLY
from bastion.model.names import names_for
from bastion.permissions.compile import Forbidden
from bastion.store import Node

"""The extension key that marks a root field as root-only (hidden from others)."""

_ID = GraphQLNonNull(GraphQLID)
MAX_AUDIT_PAGE = 1000
_USER = "User"


def require_root(info: Info) -> RequestContext:
    """The request's context, or ``FORBIDDEN`` unless the caller holds a root token.

    Non-root callers never reach this in practice: a document naming a root-only field is
    refused for them as if the field did not exist (:mod:`bastion.graphql.visibility`).
    """
    context = context_of(info)
    if not context.viewer.is_privileged:
        raise Forbidden("Only a root token may use this field")
    return context


def actor_of(context: RequestContext) -> str:
    """Who did it, as the audit log names them: the root token's name."""
    return context.viewer.token_name or context.viewer.kind.value


def root_only(field: GraphQLField) -> GraphQLField:
    """``field``, marked root-only: missing for everyone but root tokens."""
    field.extensions = {**(field.extensions or {}), ROOT_ONLY: True}
    return field


def query_fields(builder: SchemaBuilder) -> FieldMap:
    """``users``: every account (active or not), for root tokens."""
    list_all = resolvers.many(_USER)

    async def users(root: Any, info: Info, **args: Any) -> list[Node]:
        require_root(info)
        result: list[Node] = await list_all(root, info, **args)
        return result

    async def audit_events(
        _root: Any,
        info: Info,
        first: int = 50,
        type: list[str] | None = None,
        userId: str | None = None,
        before: int | None = None,
        after: int | None = None,
    ) -> list[AuditEvent]:
        context = require_root(info)
        assert context.auth is not None
        if not 1 <= first <= MAX_AUDIT_PAGE:
            raise BadUserInput(f"first must be 1 to {MAX_AUDIT_PAGE}", field="first")
        return await context.auth.audit.tail(
            first, types=type or (), user_id=userId, before=before, after=after
        )

    return {
        "auditEvents": root_only(
            GraphQLField(
                GraphQLNonNull(GraphQLList(GraphQLNonNull(_audit_event_type()))),
                args={
                    "first": GraphQLArgument(GraphQLInt, default_value=50),
                    "type": GraphQLArgument(GraphQLList(GraphQLNonNull(GraphQLString))),
                    "userId": GraphQLArgument(GraphQLID),
                    "before": GraphQLArgument(GraphQLInt, description="Events older than this id."),
                    "after": GraphQLArgument(
                        GraphQLInt, description="Events newer than this id, oldest first."
                    ),
                },
                resolve=audit_events,
                description="Security events, newest first (root tokens only).",
            )
        ),
        names_for(_USER).many: root_only(
            GraphQLField(
                GraphQLNonNull(GraphQLList(GraphQLNonNull(builder.objects[_USER]))),
                args=builder.list_args(_USER),
                resolve=users,
                description="Every user account (root tokens only).",
            )
        ),
    }


def _audit_event_type() -> GraphQLObjectType:
    return GraphQLObjectType(
        "AuditEvent",
        {
            "id": GraphQLField(GraphQLNonNull(GraphQLInt)),
            "at": GraphQLField(GraphQLNonNull(DateTimeScalar)),
            "type": GraphQLField(GraphQLNonNull(GraphQLString), resolve=lambda e, _: e.type.value),
            "security": GraphQLField(GraphQLNonNull(GraphQLBoolean)),
            "userId": GraphQLField(GraphQLID, resolve=lambda e, _: e.user_id),
            "provider": GraphQLField(GraphQLString),
            "ip": GraphQLField(GraphQLString),
            "userAgent": GraphQLField(GraphQLString, resolve=lambda e, _: e.user_agent),
            "sessionId": GraphQLField(GraphQLID, resolve=lambda e, _: e.session_id),
            "detail": GraphQLField(GraphQLNonNull(JSONScalar)),
        },
        description="A security event of the audit log.",
    )


def mutation_fields(builder: SchemaBuilder) -> FieldMap:
    """``deactivateUser``, ``activateUser`` and ``revokeSessions``."""
    # Deactivation goes through the generated update, which already ends the user's sessions
    # in the same transaction: one home for that rule.
    update_user = resolvers.update(_USER)
    user = GraphQLNonNull(builder.objects[_USER])

    def set_active(active: bool, description: str) -> GraphQLField:
        async def resolve(root: Any, info: Info, id: str) -> Node:
            context = require_root(info)
            node: Node = await update_user(root, info, id=id, data={"isActive": active})
            assert context.auth is not None
            action = "activateUser" if active else "deactivateUser"
            event = admin_action(actor_of(context), action, id)
            await context.auth.audit.record(event, await context.connection())
            return node

        return root_only(
            GraphQLField(
                user, args={"id": GraphQLArgument(_ID)}, resolve=resolve, description=description
            )
        )

    async def revoke_sessions(_root: Any, info: Info, userId: str) -> int:
        context = require_root(info)
        assert context.auth is not None
        await resolvers.visible(context, _USER, userId)  # NOT_FOUND for an unknown user
        conn = await context.connection()
        ended = await context.auth.sessions.end_all_in(conn, userId)
        await context.auth.audit.record(
            admin_action(actor_of(context), "revokeSessions", userId), conn
        )
        # Told (and forgotten from the session cache) once the mutation is committed.
        context.after_commit.append(
            resolvers.announce(context.auth.events, SessionsEnded(tuple(ended)))
        )
        return len(ended)

    return {
        "deactivateUser": set_active(
            False, "Switch an account off and end its sessions (root tokens only)."
        ),
        "activateUser": set_active(True, "Switch an account on again (root tokens only)."),
        "revokeSessions": root_only(
            GraphQLField(
                GraphQLNonNull(GraphQLInt),
                args={"userId": GraphQLArgument(_ID)},
                resolve=revoke_sessions,
                description="End every session of a user; the count ended (root tokens only).",
            )
        ),
    }
