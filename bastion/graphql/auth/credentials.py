"""What the authentication fields share: payload types, and the checks of credential fields.

A credential field (a login, a refresh, a registration) is refused over GET, where the secret
would land in URLs and logs, and beside data mutations in one document, whose write
transaction would hold the database while the password is hashed.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from bastion.auth.assembly import AuthServices
from bastion.auth.logins import LoginClient
from bastion.auth.sessions import TokenPair
from bastion.errors import BastionError, Code
from bastion.graphql.build import SchemaBuilder
from bastion.graphql.context import Info, RequestContext, context_of

STRING = GraphQLNonNull(GraphQLString)


class Unauthorized(BastionError):
    """A field that needs a logged-in user, asked by an anonymous caller."""

    code = Code.UNAUTHENTICATED

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def _token_payload(name: str) -> GraphQLObjectType:
    return GraphQLObjectType(
        name,
        {
            "accessToken": GraphQLField(STRING),
            "accessTokenLifetime": GraphQLField(GraphQLNonNull(GraphQLInt)),
            "refreshToken": GraphQLField(STRING),
            "refreshTokenLifetime": GraphQLField(GraphQLNonNull(GraphQLInt)),
        },
    )


def shared_type(builder: SchemaBuilder, name: str, make: Any) -> Any:
    """The type ``name`` of this schema, made by ``make()`` the first time it is asked for."""
    if name not in builder.shared:
        builder.shared[name] = make()
    return builder.shared[name]


def login_payload(builder: SchemaBuilder) -> GraphQLObjectType:
    """``loginEmailPasswordPayload``: what every login field answers."""
    name = "loginEmailPasswordPayload"
    payload: GraphQLObjectType = shared_type(builder, name, lambda: _token_payload(name))
    return payload


def refresh_payload(builder: SchemaBuilder) -> GraphQLObjectType:
    """``refreshTokenPayload``."""
    name = "refreshTokenPayload"
    payload: GraphQLObjectType = shared_type(builder, name, lambda: _token_payload(name))
    return payload


def input_type(
    name: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> GraphQLInputObjectType:
    """An input object of string fields."""
    fields = {f: GraphQLInputField(STRING) for f in required}
    fields.update({f: GraphQLInputField(GraphQLString) for f in optional})
    return GraphQLInputObjectType(name, fields)


def as_payload(pair: TokenPair) -> dict[str, Any]:
    """A token pair as the login payload."""
    return {
        "accessToken": pair.access_token,
        "accessTokenLifetime": pair.access_token_lifetime,
        "refreshToken": pair.refresh_token,
        "refreshTokenLifetime": pair.refresh_token_lifetime,
    }


def credential_context(info: Info) -> tuple[RequestContext, AuthServices]:
    """The context of a credential field, refusing the shapes that must not carry one."""
    context = context_of(info)
    assert context.auth is not None
    if context.caller.method not in (None, "POST"):  # None: in-process, no URL to leak into
        raise BastionError("Credentials must be sent with POST", Code.BAD_REQUEST)
    if context.transaction.is_open:
        # The document's own write transaction holds the database: a credential field
        # cannot run beside data mutations in one document.
        raise BastionError(
            "A credential field cannot share a document with data mutations", Code.BAD_REQUEST
        )
    return context, context.auth


def client_of(context: RequestContext) -> LoginClient:
    """The client facts a login records (its user agent) and is counted by (its address)."""
    caller = context.caller
    return LoginClient(user_agent=caller.user_agent, ip=caller.ip)


def require_user(info: Info) -> tuple[RequestContext, AuthServices, str]:
    """The context of a field that needs a logged-in user, and that user's id."""
    context = context_of(info)
    assert context.auth is not None
    if context.viewer.user_id is None:
        raise Unauthorized()
    return context, context.auth, context.viewer.user_id
