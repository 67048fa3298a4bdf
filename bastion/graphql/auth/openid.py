"""The GraphQL side of OpenID sign-in: ``loginOpenIdCode`` (the browser flow's one-time code)
and ``loginOpenId`` (an ID token, or an authorization code, the app got itself; a plain OAuth 2
provider takes only a code, and no nonce).

Both answer ``loginEmailPasswordPayload`` (or ``MFA_REQUIRED`` for a user with a second
factor). With ``link: true`` and an access token, the identity is added to the viewer's user;
an anonymous viewer's user takes it without asking (see :mod:`bastion.auth.openid.accounts`).
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLNonNull,
    GraphQLString,
)

from bastion.auth.logins import ProviderDisabled
from bastion.auth.openid.signin import OpenIdSignIn
from bastion.auth.viewer import ViewerKind
from bastion.graphql.auth.credentials import (
    STRING,
    as_payload,
    client_of,
    credential_context,
    login_payload,
)
from bastion.graphql.build import FieldMap, SchemaBuilder
from bastion.graphql.context import Info, RequestContext


def _openid(context: RequestContext) -> OpenIdSignIn:
    assert context.auth is not None
    if context.auth.openid is None:
        raise ProviderDisabled("openid")
    return context.auth.openid


def _viewer_user(context: RequestContext) -> str | None:
    viewer = context.viewer
    return viewer.user_id if viewer.kind is ViewerKind.USER else None


def _input(name: str, required: tuple[str, ...], optional: tuple[str, ...]) -> Any:
    fields = {f: GraphQLInputField(STRING) for f in required}
    fields.update({f: GraphQLInputField(GraphQLString) for f in optional})
    fields["link"] = GraphQLInputField(
        GraphQLBoolean,
        default_value=False,
        description="Add the identity to the logged-in viewer's user.",
    )
    return {"input": GraphQLArgument(GraphQLNonNull(GraphQLInputObjectType(name, fields)))}


def mutation_fields(builder: SchemaBuilder) -> FieldMap:
    """``loginOpenIdCode`` and ``loginOpenId``."""
    login = login_payload(builder)

    async def login_code(_root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        context, _ = credential_context(info)
        logged_in = await _openid(context).exchange(
            input["code"],
            input["codeVerifier"],
            client_of(context),
            _viewer_user(context),
            link=bool(input.get("link")),
        )
        return as_payload(logged_in.tokens)

    async def login_openid(_root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        context, _ = credential_context(info)
        logged_in = await _openid(context).login(
            input["provider"],
            client_of(context),
            _viewer_user(context),
            nonce=input.get("nonce"),
            link=bool(input.get("link")),
            id_token=input.get("idToken"),
            code=input.get("code"),
            code_verifier=input.get("codeVerifier"),
            redirect_uri=input.get("redirectUri"),
        )
        return as_payload(logged_in.tokens)

    return {
        "loginOpenIdCode": GraphQLField(
            login,
            args=_input("loginOpenIdCodeInput", ("code", "codeVerifier"), ()),
            resolve=login_code,
            description="Finish the browser flow: its one-time code and the app's verifier.",
        ),
        "loginOpenId": GraphQLField(
            login,
            args=_input(
                "loginOpenIdInput",
                ("provider",),
                ("nonce", "idToken", "code", "codeVerifier", "redirectUri"),
            ),
            resolve=login_openid,
            description=(
                "Sign in with an ID token, or an authorization code and its verifier"
                " (an OpenID Connect provider needs the nonce; an OAuth 2 one takes a code)."
            ),
        ),
    }
