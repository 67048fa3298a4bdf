"""The GraphQL side of the login providers: anonymous, API-key and custom-token logins,
linking an identity, and the viewer's API keys.

Each login answers ``loginEmailPasswordPayload``, like ``loginEmailPassword``; the provider's
rules live in :mod:`bastion.auth.logins` and :mod:`bastion.auth.providers.api_keys`, shared
with the Stitch client routes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLField,
    GraphQLID,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
)

from bastion.auth.events import UsersChanged
from bastion.auth.providers.api_keys import ApiKey
from bastion.graphql.auth.credentials import (
    STRING,
    as_payload,
    client_of,
    credential_context,
    input_type,
    login_payload,
    require_user,
    shared_type,
)
from bastion.graphql.build import FieldMap, SchemaBuilder
from bastion.graphql.context import Info
from bastion.graphql.scalars import DateTimeScalar

_ID = GraphQLNonNull(GraphQLID)


def _key_fields() -> dict[str, GraphQLField]:
    return {
        "id": GraphQLField(_ID),
        "name": GraphQLField(STRING),
        "disabled": GraphQLField(GraphQLNonNull(GraphQLBoolean)),
        "createdAt": GraphQLField(
            GraphQLNonNull(DateTimeScalar), resolve=lambda k, _: k.created_at
        ),
        "lastUsedAt": GraphQLField(DateTimeScalar, resolve=lambda k, _: k.last_used_at),
    }


def _api_key_type(builder: SchemaBuilder) -> GraphQLObjectType:
    kind: GraphQLObjectType = shared_type(
        builder,
        "ApiKey",
        lambda: GraphQLObjectType(
            "ApiKey", _key_fields(), description="A named key that logs in as its user."
        ),
    )
    return kind


@dataclass(frozen=True)
class _CreatedKey(ApiKey):
    """A key just made, flat with its secret, as ``createApiKeyPayload`` shows it."""

    key: str = ""


def _created_key_type() -> GraphQLObjectType:
    fields = _key_fields()
    fields["key"] = GraphQLField(
        STRING, description="The key itself: shown this once, never again."
    )
    return GraphQLObjectType("createApiKeyPayload", fields)


def _arg(kind: GraphQLInputObjectType) -> dict[str, GraphQLArgument]:
    return {"input": GraphQLArgument(GraphQLNonNull(kind))}


def query_fields(builder: SchemaBuilder) -> FieldMap:
    """``apiKeys``: the viewer's keys."""

    async def api_keys(_root: Any, info: Info) -> list[ApiKey]:
        _, auth, user_id = require_user(info)
        return await auth.api_keys.list_for(user_id)

    return {
        "apiKeys": GraphQLField(
            GraphQLNonNull(GraphQLList(GraphQLNonNull(_api_key_type(builder)))),
            resolve=api_keys,
        )
    }


def mutation_fields(builder: SchemaBuilder) -> FieldMap:
    """The provider logins, ``linkIdentity`` and the API key mutations."""
    login = login_payload(builder)
    key_type = GraphQLNonNull(_api_key_type(builder))

    async def login_anonymous(_root: Any, info: Info) -> dict[str, Any]:
        context, auth = credential_context(info)
        return as_payload((await auth.logins.anonymous(client_of(context))).tokens)

    async def login_api_key(_root: Any, info: Info, input: dict[str, str]) -> dict[str, Any]:
        context, auth = credential_context(info)
        return as_payload((await auth.logins.api_key(input["key"], client_of(context))).tokens)

    async def login_custom_token(_root: Any, info: Info, input: dict[str, str]) -> dict[str, Any]:
        context, auth = credential_context(info)
        logged_in = await auth.logins.custom_token(input["token"], client_of(context))
        return as_payload(logged_in.tokens)

    async def link_identity(_root: Any, info: Info, input: dict[str, Any]) -> bool:
        context, auth, user_id = require_user(info)
        credential_context(info)
        body = {
            "username": input.get("email") or input.get("username"),
            "password": input.get("password"),
            "token": input.get("token"),
        }
        await auth.logins.link(user_id, input["provider"], body, client_of(context))
        auth.events.publish(UsersChanged())  # the user's row (its email) may have changed
        return True

    async def create_api_key(_root: Any, info: Info, input: dict[str, str]) -> _CreatedKey:
        _, auth, user_id = require_user(info)
        new = await auth.api_keys.create_for(user_id, input["name"])
        return _CreatedKey(**asdict(new.key), key=new.secret)

    async def delete_api_key(_root: Any, info: Info, id: str) -> ApiKey:
        _, auth, user_id = require_user(info)
        return await auth.api_keys.delete_for(user_id, id)

    def set_disabled(disabled: bool) -> Any:
        async def resolve(_root: Any, info: Info, id: str) -> ApiKey:
            _, auth, user_id = require_user(info)
            return await auth.api_keys.set_disabled_for(user_id, id, disabled)

        return resolve

    by_id = {"id": GraphQLArgument(_ID)}
    return {
        "loginAnonymous": GraphQLField(login, resolve=login_anonymous),
        "loginApiKey": GraphQLField(
            login, args=_arg(input_type("loginApiKeyInput", ("key",))), resolve=login_api_key
        ),
        "loginCustomToken": GraphQLField(
            login,
            args=_arg(input_type("loginCustomTokenInput", ("token",))),
            resolve=login_custom_token,
        ),
        "linkIdentity": GraphQLField(
            GraphQLNonNull(GraphQLBoolean),
            args=_arg(
                input_type(
                    "linkIdentityInput",
                    ("provider",),
                    ("email", "username", "password", "token"),
                )
            ),
            resolve=link_identity,
            description="Add a way to log in to the viewer's user (Stitch's linkCredentials).",
        ),
        "createApiKey": GraphQLField(
            GraphQLNonNull(_created_key_type()),
            args=_arg(input_type("createApiKeyInput", ("name",))),
            resolve=create_api_key,
        ),
        "deleteApiKey": GraphQLField(key_type, args=by_id, resolve=delete_api_key),
        "disableApiKey": GraphQLField(key_type, args=by_id, resolve=set_disabled(True)),
        "enableApiKey": GraphQLField(key_type, args=by_id, resolve=set_disabled(False)),
    }
