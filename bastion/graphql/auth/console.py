"""Root-only fields the admin console needs beyond :mod:`bastion.graphql.auth.admin`.

The console at ``/console`` speaks only this GraphQL API, so what an administrator can do
there is what a root token can do here: read a user's sessions and identities, create users,
manage server API keys ("integrations"), rotate root tokens and signing keys, and read the
project's model and effective settings. Every field is root-only (hidden from everyone else,
see :mod:`bastion.graphql.visibility`), and every mutation writes an ``admin_action`` event
naming its actor (the root token's name) in the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLField,
    GraphQLID,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from bastion.auth.accounts import NewUser
from bastion.auth.assembly import AuthServices
from bastion.auth.audit import admin_action
from bastion.auth.identities import Identity
from bastion.auth.keys import KeyStatus
from bastion.auth.providers.api_keys import NewApiKey, ServerKey
from bastion.auth.root_tokens import RootTokenInfo, is_internal
from bastion.auth.sessions import SessionInfo
from bastion.errors import BastionError, Code, NotFound
from bastion.graphql import resolvers
from bastion.graphql.auth.admin import actor_of as _actor
from bastion.graphql.auth.admin import require_root, root_only
from bastion.graphql.build import FieldMap, SchemaBuilder
from bastion.graphql.context import Info, RequestContext
from bastion.graphql.scalars import DateTimeScalar, JSONScalar
from bastion.store import Node

ProjectSummary = Callable[[], dict[str, Any]]
"""What ``projectSettings`` answers: the model and the effective settings, secrets masked
(made by the composition root, which knows the project)."""

_ID = GraphQLNonNull(GraphQLID)
_TEXT = GraphQLNonNull(GraphQLString)
_WHEN = GraphQLNonNull(DateTimeScalar)
_USER = "User"


def _list_of(kind: GraphQLObjectType) -> GraphQLNonNull[Any]:
    return GraphQLNonNull(GraphQLList(GraphQLNonNull(kind)))


def _session_type() -> GraphQLObjectType:
    return GraphQLObjectType(
        "AdminSession",
        {
            "id": GraphQLField(_ID),
            "provider": GraphQLField(_TEXT),
            "createdAt": GraphQLField(_WHEN, resolve=lambda s, _: s.created_at),
            "lastUsedAt": GraphQLField(_WHEN, resolve=lambda s, _: s.last_used_at),
            "userAgent": GraphQLField(GraphQLString, resolve=lambda s, _: s.user_agent),
            "deviceId": GraphQLField(GraphQLID, resolve=lambda s, _: s.device_id),
        },
        description="A live session of a user (root tokens only).",
    )


def _identity_type() -> GraphQLObjectType:
    return GraphQLObjectType(
        "AdminIdentity",
        {
            "id": GraphQLField(_ID),
            "provider": GraphQLField(_TEXT),
            "subject": GraphQLField(_TEXT),
            "createdAt": GraphQLField(_WHEN, resolve=lambda i, _: i.created_at),
        },
        description="A way a user logs in: a provider and its account (root tokens only).",
    )


def _server_key_type() -> GraphQLObjectType:
    return GraphQLObjectType(
        "ServerApiKey",
        {
            "id": GraphQLField(_ID, resolve=lambda s, _: s.key.id),
            "name": GraphQLField(_TEXT, resolve=lambda s, _: s.key.name),
            "userId": GraphQLField(_ID, resolve=lambda s, _: s.user_id),
            "createdAt": GraphQLField(_WHEN, resolve=lambda s, _: s.key.created_at),
            "lastUsedAt": GraphQLField(DateTimeScalar, resolve=lambda s, _: s.key.last_used_at),
            "disabled": GraphQLField(
                GraphQLNonNull(GraphQLBoolean), resolve=lambda s, _: s.key.disabled
            ),
        },
        description="A named server credential: logs in with loginApiKey as a user of its own.",
    )


def _root_token_type() -> GraphQLObjectType:
    return GraphQLObjectType(
        "RootTokenInfo",
        {
            "name": GraphQLField(_TEXT),
            "createdAt": GraphQLField(_WHEN, resolve=lambda t, _: t.created_at),
            "rotatedAt": GraphQLField(DateTimeScalar, resolve=lambda t, _: t.rotated_at),
            "lastUsedAt": GraphQLField(DateTimeScalar, resolve=lambda t, _: t.last_used_at),
        },
        description="A root token of bastion.yml (never the token itself).",
    )


def _signing_key_type() -> GraphQLObjectType:
    return GraphQLObjectType(
        "SigningKeyStatus",
        {
            "kid": GraphQLField(GraphQLString),
            "algorithm": GraphQLField(_TEXT),
            "status": GraphQLField(_TEXT, description="signing, pending, verifying or prunable"),
            "createdAt": GraphQLField(DateTimeScalar, resolve=lambda k, _: k.created_at),
            "activatesAt": GraphQLField(DateTimeScalar, resolve=lambda k, _: k.activates_at),
            "retiredAt": GraphQLField(DateTimeScalar, resolve=lambda k, _: k.retired_at),
            "prunableAt": GraphQLField(DateTimeScalar, resolve=lambda k, _: k.prunable_at),
            "reason": GraphQLField(_TEXT),
        },
        description="A key that signs or verifies access tokens (never its material).",
    )


def _auth(info: Info) -> tuple[RequestContext, AuthServices]:
    context = require_root(info)
    assert context.auth is not None
    return context, context.auth


def query_fields(summary: ProjectSummary) -> Callable[[SchemaBuilder], FieldMap]:
    """The console's read fields; ``summary`` answers ``projectSettings``."""

    def fields(builder: SchemaBuilder) -> FieldMap:
        async def user_sessions(_root: Any, info: Info, userId: str) -> list[SessionInfo]:
            context, auth = _auth(info)
            await resolvers.visible(context, _USER, userId)  # NOT_FOUND for an unknown user
            return await auth.sessions.live(userId)

        async def user_identities(_root: Any, info: Info, userId: str) -> list[Identity]:
            context, auth = _auth(info)
            await resolvers.visible(context, _USER, userId)
            return await auth.identities.of(await context.connection(), userId)

        async def server_keys(_root: Any, info: Info) -> list[ServerKey]:
            return await _auth(info)[1].api_keys.servers()

        async def root_tokens(_root: Any, info: Info) -> list[RootTokenInfo]:
            found = await _auth(info)[1].root_tokens.list()
            return [t for t in found if not is_internal(t.name)]

        def signing_keys(_root: Any, info: Info) -> list[KeyStatus]:
            return _auth(info)[1].keys.statuses()

        def project_settings(_root: Any, info: Info) -> dict[str, Any]:
            require_root(info)
            return summary()

        by_user = {"userId": GraphQLArgument(_ID)}
        return {
            name: root_only(field)
            for name, field in {
                "userSessions": GraphQLField(
                    _list_of(_session_type()), args=by_user, resolve=user_sessions,
                    description="A user's live sessions, newest first (root tokens only).",
                ),
                "userIdentities": GraphQLField(
                    _list_of(_identity_type()), args=by_user, resolve=user_identities,
                    description="The ways a user logs in (root tokens only).",
                ),
                "serverApiKeys": GraphQLField(
                    _list_of(_server_key_type_once(builder)), resolve=server_keys,
                    description="The server API keys, oldest first (root tokens only).",
                ),
                "rootTokens": GraphQLField(
                    _list_of(_root_token_type()), resolve=root_tokens,
                    description="The project's root tokens (root tokens only).",
                ),
                "signingKeys": GraphQLField(
                    _list_of(_signing_key_type_once(builder)), resolve=signing_keys,
                    description="The keys that sign access tokens, newest first (root only).",
                ),
                "projectSettings": GraphQLField(
                    GraphQLNonNull(JSONScalar), resolve=project_settings,
                    description="The model and the effective settings, secrets masked (root).",
                ),
            }.items()
        }  # fmt: skip

    return fields


def mutation_fields(builder: SchemaBuilder) -> FieldMap:
    """The console's actions, each written to the audit log with its actor."""
    new_user = GraphQLInputObjectType(
        "createUserWithPasswordInput",
        {
            "email": GraphQLInputField(_TEXT),
            "password": GraphQLInputField(_TEXT),
            "username": GraphQLInputField(GraphQLString),
            "firstName": GraphQLInputField(GraphQLString),
            "lastName": GraphQLInputField(GraphQLString),
        },
    )
    key_type = _server_key_type_once(builder)
    created_key = GraphQLObjectType(
        "createServerApiKeyPayload",
        {
            "key": GraphQLField(GraphQLNonNull(key_type), resolve=lambda n, _: n[0]),
            "secret": GraphQLField(
                _TEXT, resolve=lambda n, _: n[1], description="Shown this once only."
            ),
        },
    )
    rotated_token = GraphQLObjectType(
        "rotateRootTokenPayload",
        {
            "name": GraphQLField(_TEXT),
            "token": GraphQLField(_TEXT, description="The new token, shown this once only."),
        },
    )

    async def create_user(_root: Any, info: Info, input: dict[str, Any]) -> Node:
        context, auth = _auth(info)
        new = NewUser(
            input["email"],
            input["password"],
            input.get("username"),
            input.get("firstName"),
            input.get("lastName"),
        )
        digest = await auth.accounts.hash_new_password(new.password, new.email)
        conn = await context.connection()
        user_id = await auth.accounts.create(conn, new, digest)
        await auth.audit.record(
            admin_action(_actor(context), "createUserWithPassword", user_id), conn
        )
        return (await context.store.reader.by_ids(conn, _USER, [user_id]))[user_id]

    async def create_server_key(_root: Any, info: Info, name: str) -> tuple[ServerKey, str]:
        context, auth = _auth(info)
        if not auth.logins.providers.api_key.enabled:
            raise BastionError(
                "The api-key provider is off: set auth.providers.api-key.enabled: true",
                Code.BAD_REQUEST,
            )
        new: NewApiKey = await auth.api_keys.create_server(name)
        server = next(s for s in await auth.api_keys.servers() if s.key.id == new.key.id)
        event = admin_action(
            _actor(context), "createServerApiKey", server.user_id, name=new.key.name
        )
        await auth.audit.record(event)
        return server, new.secret

    async def delete_server_key(_root: Any, info: Info, name: str) -> bool:
        context, auth = _auth(info)
        await auth.api_keys.delete_server(name)
        await auth.audit.record(admin_action(_actor(context), "deleteServerApiKey", name=name))
        return True

    async def rotate_root_token(_root: Any, info: Info, name: str) -> dict[str, str]:
        context, auth = _auth(info)
        if is_internal(name):
            raise NotFound(f"no root token named {name!r}")
        token = await auth.root_tokens.rotate(name)
        await auth.audit.record(admin_action(_actor(context), "rotateRootToken", name=name))
        return {"name": name, "token": token}

    async def rotate_signing_key(_root: Any, info: Info) -> KeyStatus:
        context, auth = _auth(info)
        key = await auth.keys.rotate(auth.config.signing.algorithm)
        await auth.audit.record(
            admin_action(_actor(context), "rotateSigningKey", kid=key.kid, algorithm=key.algorithm)
        )
        return next(s for s in auth.keys.statuses() if s.kid == key.kid)

    return {
        name: root_only(field)
        for name, field in {
            "createUserWithPassword": GraphQLField(
                GraphQLNonNull(builder.objects[_USER]),
                args={"input": GraphQLArgument(GraphQLNonNull(new_user))},
                resolve=create_user,
                description="Create a user with a password (root tokens only).",
            ),
            "createServerApiKey": GraphQLField(
                GraphQLNonNull(created_key), args={"name": GraphQLArgument(_TEXT)},
                resolve=create_server_key,
                description="A named server credential; its secret is answered once (root).",
            ),
            "deleteServerApiKey": GraphQLField(
                GraphQLNonNull(GraphQLBoolean), args={"name": GraphQLArgument(_TEXT)},
                resolve=delete_server_key,
                description="Revoke a server credential: its key, user and sessions (root).",
            ),
            "rotateRootToken": GraphQLField(
                GraphQLNonNull(rotated_token), args={"name": GraphQLArgument(_TEXT)},
                resolve=rotate_root_token,
                description="Issue a new root token; the old one stops working (root).",
            ),
            "rotateSigningKey": GraphQLField(
                GraphQLNonNull(_signing_key_type_once(builder)), resolve=rotate_signing_key,
                description="Publish a new signing key; it signs in a few minutes (root).",
            ),
        }.items()
    }  # fmt: skip


def _server_key_type_once(builder: SchemaBuilder) -> GraphQLObjectType:
    found: GraphQLObjectType = builder.shared.setdefault("ServerApiKey", _server_key_type())
    return found


def _signing_key_type_once(builder: SchemaBuilder) -> GraphQLObjectType:
    found: GraphQLObjectType = builder.shared.setdefault("SigningKeyStatus", _signing_key_type())
    return found
