"""``viewer``: who is asking, their sessions and identities; and ``revokeSession``.

A session's ``lastUsedAt`` is the time of its login or last refresh: access tokens are checked
without writing, so a request does not move it.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLField,
    GraphQLID,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from bastion.auth.identities import Identity
from bastion.auth.sessions import SessionInfo
from bastion.auth.viewer import ViewerKind
from bastion.errors import NotFound
from bastion.graphql.auth.credentials import STRING, require_user, shared_type
from bastion.graphql.build import NODE_TYPE_KEY, FieldMap, SchemaBuilder
from bastion.graphql.context import Info, context_of
from bastion.graphql.scalars import DateTimeScalar
from bastion.graphql.sources import RESOLVED, mark
from bastion.store import Node

_ID = GraphQLNonNull(GraphQLID)
_WHEN = GraphQLNonNull(DateTimeScalar)


def _session_type() -> GraphQLObjectType:
    def current(session: SessionInfo, info: Info) -> bool:
        return session.id == context_of(info).viewer.session_id

    return GraphQLObjectType(
        "Session",
        _resolved(
            {
                "id": GraphQLField(_ID),
                "provider": GraphQLField(STRING),
                "createdAt": GraphQLField(_WHEN, resolve=lambda s, _: s.created_at),
                "lastUsedAt": GraphQLField(_WHEN, resolve=lambda s, _: s.last_used_at),
                "userAgent": GraphQLField(GraphQLString, resolve=lambda s, _: s.user_agent),
                "deviceId": GraphQLField(GraphQLID, resolve=lambda s, _: s.device_id),
                "current": GraphQLField(GraphQLNonNull(GraphQLBoolean), resolve=current),
            }
        ),
        description="A login of the viewer that is still usable.",
    )


def _identity_type() -> GraphQLObjectType:
    return GraphQLObjectType(
        "Identity",
        _resolved(
            {
                "id": GraphQLField(_ID),
                "provider": GraphQLField(STRING),
                "createdAt": GraphQLField(_WHEN, resolve=lambda i, _: i.created_at),
            }
        ),
        description="A way the viewer logs in (a provider and its account).",
    )


async def _viewer_user(_root: Any, info: Info) -> Node | None:
    context = context_of(info)
    viewer = context.viewer
    if viewer.user_id is None or context.auth is None:
        return None
    if viewer.session_id is None:  # a token bound to the User node: no session to ask
        return await _own_node(info, "User", viewer.user_id)
    # The session check of this request cached the user's row: no second round trip.
    state = await context.auth.sessions.state(viewer.session_id)
    return state.user if state is not None and state.alive else None


async def _own_node(info: Info, type_name: str, node_id: str) -> Node | None:
    # The viewer is this node: no read rule stands between them, as for one's own user.
    context = context_of(info)
    conn = await context.connection()
    return (await context.store.reader.by_ids(conn, type_name, [node_id])).get(node_id)


async def _viewer_node(_root: Any, info: Info) -> Node | None:
    viewer = context_of(info).viewer
    if viewer.node_id is not None and viewer.node_type is not None:
        type_name, node = viewer.node_type, await _own_node(info, viewer.node_type, viewer.node_id)
    else:
        type_name, node = "User", await _viewer_user(_root, info)
    # Answered as the Node interface: the row says which type it is.
    return {**node, NODE_TYPE_KEY: type_name} if node is not None else None


async def _sessions(_root: Any, info: Info) -> list[SessionInfo]:
    context = context_of(info)
    if context.viewer.user_id is None or context.auth is None:
        return []
    return await context.auth.sessions.live(context.viewer.user_id)


async def _identities(_root: Any, info: Info) -> list[Identity]:
    context = context_of(info)
    if context.viewer.user_id is None or context.auth is None:
        return []
    conn = await context.connection()
    return await context.auth.identities.of(conn, context.viewer.user_id)


def _resolved(fields: FieldMap) -> FieldMap:
    """The fields, marked as answerable by calling their resolvers (the compiled read path
    does, instead of graphql-core): they read only the request's context and their parent."""
    return {name: mark(field, RESOLVED) for name, field in fields.items()}


def viewer_type(builder: SchemaBuilder) -> GraphQLObjectType:
    """The ``Viewer`` type of this schema."""

    def make() -> GraphQLObjectType:
        return GraphQLObjectType(
            "Viewer",
            lambda: _resolved(fields()),
        )

    def fields() -> FieldMap:
        return {
            "user": GraphQLField(builder.objects["User"], resolve=_viewer_user),
            "sessions": GraphQLField(
                GraphQLNonNull(GraphQLList(GraphQLNonNull(_session_type()))),
                resolve=_sessions,
            ),
            "identities": GraphQLField(
                GraphQLNonNull(GraphQLList(GraphQLNonNull(_identity_type()))),
                resolve=_identities,
            ),
            "node": GraphQLField(
                builder.node,
                resolve=_viewer_node,
                description="The node a node token is bound to (a user's own User node).",
            ),
            "isRoot": GraphQLField(
                GraphQLNonNull(GraphQLBoolean),
                resolve=lambda _v, info: context_of(info).viewer.kind is ViewerKind.ROOT,
                description="True for a request made with a root token.",
            ),
        }

    viewer: GraphQLObjectType = shared_type(builder, "Viewer", make)
    return viewer


def query_fields(builder: SchemaBuilder) -> FieldMap:
    """``viewer``."""
    viewer = GraphQLField(GraphQLNonNull(viewer_type(builder)), resolve=lambda *_: {})
    return {"viewer": mark(viewer, RESOLVED)}


def mutation_fields(_builder: SchemaBuilder) -> FieldMap:
    """``revokeSession``: end one of the viewer's own sessions (any device, or this one)."""

    async def revoke(_root: Any, info: Info, id: str) -> bool:
        _, auth, user_id = require_user(info)
        if not await auth.sessions.end_own(user_id, id):
            raise NotFound("No session with this id")
        return True

    return {
        "revokeSession": GraphQLField(
            GraphQLNonNull(GraphQLBoolean), args={"id": GraphQLArgument(_ID)}, resolve=revoke
        )
    }
