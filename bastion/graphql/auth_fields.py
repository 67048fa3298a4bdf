"""The authentication fields of every schema: login, refresh, logout, viewer.

Their names and type names are public contracts (Slicknode's auth module and the widely used
``loginUser`` API); keep them exactly. Each credential field runs in its own write
transaction, so a refresh-token reuse that ends a session is committed even though the field
answers an error.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    default_field_resolver,
)

from bastion.auth.accounts import NewUser
from bastion.auth.services import AuthServices
from bastion.auth.sessions import TokenPair
from bastion.errors import BastionError, Code
from bastion.graphql.build import FieldMap, SchemaBuilder
from bastion.graphql.context import Info, RequestContext, context_of
from bastion.store import Node

_STRING = GraphQLNonNull(GraphQLString)
PROVIDER = "local-userpass"


class Unauthorized(BastionError):
    """A field that needs a logged-in user, asked by an anonymous caller."""

    code = Code.UNAUTHENTICATED

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def _payload(name: str) -> GraphQLObjectType:
    return GraphQLObjectType(
        name,
        {
            "accessToken": GraphQLField(_STRING),
            "accessTokenLifetime": GraphQLField(GraphQLNonNull(GraphQLInt)),
            "refreshToken": GraphQLField(_STRING),
            "refreshTokenLifetime": GraphQLField(GraphQLNonNull(GraphQLInt)),
        },
    )


def _input(
    name: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> GraphQLInputObjectType:
    fields = {f: GraphQLInputField(_STRING) for f in required}
    fields.update({f: GraphQLInputField(GraphQLString) for f in optional})
    return GraphQLInputObjectType(name, fields)


def _as_payload(pair: TokenPair) -> dict[str, Any]:
    return {
        "accessToken": pair.access_token,
        "accessTokenLifetime": pair.access_token_lifetime,
        "refreshToken": pair.refresh_token,
        "refreshTokenLifetime": pair.refresh_token_lifetime,
    }


def _credential_context(info: Info) -> tuple[RequestContext, AuthServices]:
    """The context of a credential field, refusing the shapes that must not carry one."""
    context = context_of(info)
    assert context.auth is not None
    if getattr(context.request, "method", "POST") != "POST":
        raise BastionError("Credentials must be sent with POST", Code.BAD_REQUEST)
    if context.transaction.is_open:
        # The document's own write transaction holds the database: a credential field
        # cannot run beside data mutations in one document.
        raise BastionError(
            "A credential field cannot share a document with data mutations", Code.BAD_REQUEST
        )
    return context, context.auth


def _user_agent(context: RequestContext) -> str | None:
    headers = getattr(context.request, "headers", None)
    return headers.get("user-agent") if headers is not None else None


async def _login(
    info: Info, password: str, email: str | None = None, username: str | None = None
) -> tuple[str, TokenPair]:
    context, auth = _credential_context(info)
    async with context.store.db.read() as conn:
        user_id, rehash = await auth.accounts.verify_login(
            conn, password, email=email, username=username
        )
    async with context.store.db.write() as conn:
        if rehash:
            await auth.accounts.set_password(conn, user_id, password)
        pair = await auth.sessions.start(conn, user_id, PROVIDER, _user_agent(context))
    return user_id, pair


def _require_user(info: Info) -> tuple[RequestContext, AuthServices, str]:
    context = context_of(info)
    assert context.auth is not None
    if context.viewer.user_id is None:
        raise Unauthorized()
    return context, context.auth, context.viewer.user_id


def query_fields(builder: SchemaBuilder) -> FieldMap:
    """``viewer`` and ``loginUser``."""
    user_type = builder.objects["User"]
    viewer_type = GraphQLObjectType(
        "Viewer",
        {
            "user": GraphQLField(user_type, resolve=_viewer_user),
        },
    )

    async def login_user(
        _root: Any, info: Info, password: str, email: str | None = None, username: str | None = None
    ) -> Node | None:
        user_id, pair = await _login(info, password, email=email, username=username)
        context = context_of(info)
        context.response_headers["Authorization"] = f"Bearer {pair.access_token}"
        context.response_headers["X-Authorization"] = f"Bearer {pair.access_token}"
        context.own_user_ids.add(user_id)
        # The caller just proved to be this user: no read rule stands between them.
        conn = await context.connection()
        return (await context.store.reader.by_ids(conn, "User", [user_id])).get(user_id)

    return {
        "viewer": GraphQLField(GraphQLNonNull(viewer_type), resolve=lambda *_: {}),
        "loginUser": GraphQLField(
            user_type,
            args={
                "email": GraphQLArgument(GraphQLString),
                "username": GraphQLArgument(GraphQLString),
                "password": GraphQLArgument(_STRING),
            },
            resolve=login_user,
        ),
    }


async def _viewer_user(_root: Any, info: Info) -> Node | None:
    context = context_of(info)
    if context.viewer.session_id is None or context.auth is None:
        return None
    # The session check of this request cached the user's row: no second round trip.
    state = await context.auth.sessions.state(context.viewer.session_id)
    return state.user if state is not None and state.alive else None


def mutation_fields(builder: SchemaBuilder) -> FieldMap:
    """Login, registration, refresh, logout and password change."""
    login_payload = _payload("loginEmailPasswordPayload")
    refresh_payload = _payload("refreshTokenPayload")
    refresh_input = _input("refreshTokenInput", ("refreshToken",))
    logout_payload = GraphQLObjectType(
        "logoutUserPayload",
        {
            "success": GraphQLField(GraphQLNonNull(GraphQLBoolean)),
        },
    )

    async def login_email_password(_root: Any, info: Info, input: dict[str, str]) -> dict[str, Any]:
        _, pair = await _login(info, input["password"], email=input["email"])
        return _as_payload(pair)

    async def register(_root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        context, auth = _credential_context(info)
        if not auth.config.email_password.signup:
            raise BastionError("Sign-up is disabled for this project", Code.FORBIDDEN)
        new = NewUser(
            email=input["email"],
            password=input["password"],
            username=input.get("username"),
            first_name=input.get("firstName"),
            last_name=input.get("lastName"),
        )
        digest = await auth.accounts.hash_new_password(new.password)
        async with context.store.db.write() as conn:
            user_id = await auth.accounts.create(conn, new, digest)
            pair = await auth.sessions.start(conn, user_id, PROVIDER, _user_agent(context))
        return _as_payload(pair)

    async def refresh(_root: Any, info: Info, input: dict[str, str]) -> dict[str, Any]:
        _, auth = _credential_context(info)
        return _as_payload(await auth.sessions.refresh(input["refreshToken"]))

    async def logout(_root: Any, info: Info, input: dict[str, str]) -> bool:
        _, auth = _credential_context(info)
        return await auth.sessions.end_by_refresh_token(input["refreshToken"])

    async def logout_user(root: Any, info: Info, input: dict[str, str]) -> dict[str, bool]:
        return {"success": await logout(root, info, input)}

    async def logout_all(_root: Any, info: Info) -> bool:
        _, auth, user_id = _require_user(info)
        await auth.sessions.end_all(user_id)
        return True

    async def change_password(_root: Any, info: Info, input: dict[str, str]) -> bool:
        context, auth, user_id = _require_user(info)
        _credential_context(info)
        async with context.store.db.write() as conn:
            await auth.accounts.change_password(
                conn, user_id, input["oldPassword"], input["newPassword"]
            )
        await auth.sessions.end_all(user_id, keep=context.viewer.session_id)
        return True

    def arg(kind: GraphQLInputObjectType) -> dict[str, GraphQLArgument]:
        return {"input": GraphQLArgument(GraphQLNonNull(kind))}

    refresh_field = GraphQLField(refresh_payload, args=arg(refresh_input), resolve=refresh)
    return {
        "loginEmailPassword": GraphQLField(
            login_payload,
            args=arg(_input("loginEmailPasswordInput", ("email", "password"))),
            resolve=login_email_password,
        ),
        "registerUserEmailPassword": GraphQLField(
            login_payload,
            args=arg(
                _input(
                    "registerUserEmailPasswordInput",
                    ("email", "password"),
                    ("firstName", "lastName", "username"),
                )
            ),
            resolve=register,
        ),
        "refreshToken": refresh_field,
        # Slicknode's server and clients call the same mutation refreshAuthToken.
        "refreshAuthToken": refresh_field,
        "logout": GraphQLField(
            GraphQLNonNull(GraphQLBoolean),
            args=arg(_input("logoutInput", ("refreshToken",))),
            resolve=logout,
        ),
        "logoutUser": GraphQLField(
            logout_payload,
            args=arg(_input("logoutUserInput", ("refreshToken",))),
            resolve=logout_user,
        ),
        "logoutAll": GraphQLField(GraphQLNonNull(GraphQLBoolean), resolve=logout_all),
        "changePassword": GraphQLField(
            GraphQLNonNull(GraphQLBoolean),
            args=arg(_input("changePasswordInput", ("oldPassword", "newPassword"))),
            resolve=change_password,
        ),
    }


# Fields anyone may call when `auth.require_login` is on: the ways to log in.
PUBLIC_FIELDS = frozenset(
    {
        "loginEmailPassword",
        "loginUser",
        "registerUserEmailPassword",
        "refreshToken",
        "refreshAuthToken",
        "logout",
        "logoutUser",
        "viewer",
    }
)


def require_login(schema: GraphQLSchema) -> None:
    """Make every root field but the login fields refuse anonymous callers (Stitch's mode)."""
    for root in (schema.query_type, schema.mutation_type):
        if root is None:
            continue
        for name, field in root.fields.items():
            if name not in PUBLIC_FIELDS:
                field.resolve = _logged_in(field.resolve)


def _logged_in(inner: Any) -> Any:
    def resolve(root: Any, info: Info, **args: Any) -> Any:
        if not context_of(info).viewer.is_authenticated:
            raise Unauthorized()
        return (inner or default_field_resolver)(root, info, **args)

    return resolve
