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
    GraphQLInputObjectType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    default_field_resolver,
)

from bastion.auth.accounts import NewUser
from bastion.auth.audit import AuditType
from bastion.auth.email import EmailNotConfirmed
from bastion.auth.events import UserChanged
from bastion.auth.logins import LoggedIn
from bastion.auth.throttle import LOGIN
from bastion.graphql.auth.credentials import (
    STRING,
    Unauthorized,
    as_payload,
    client_of,
    credential_context,
    input_type,
    login_payload,
    refresh_payload,
    require_user,
)
from bastion.graphql.build import FieldMap, SchemaBuilder
from bastion.graphql.context import Info, context_of
from bastion.graphql.credential_limit import is_credential, mark_credential
from bastion.graphql.own_proof import mark_own_proof
from bastion.graphql.single_field import answerable
from bastion.mail.locales import accepted
from bastion.model.auth_names import CREDENTIAL_FIELDS, OWN_PROOF_FIELDS, PUBLIC_FIELDS
from bastion.store import Node


async def _login(
    info: Info, password: str, email: str | None = None, username: str | None = None
) -> LoggedIn:
    context, auth = credential_context(info)
    return await auth.logins.password(password, client_of(context), email=email, username=username)


def query_fields(builder: SchemaBuilder) -> FieldMap:
    """``loginUser``, the login that answers the user and puts the token in headers."""
    user_type = builder.objects["User"]

    async def login_user(
        _root: Any, info: Info, password: str, email: str | None = None, username: str | None = None
    ) -> Node | None:
        logged_in = await _login(info, password, email=email, username=username)
        user_id, token = logged_in.user_id, logged_in.tokens.access_token
        context = context_of(info)
        context.response_headers["Authorization"] = f"Bearer {token}"
        context.response_headers["X-Authorization"] = f"Bearer {token}"
        context.own_user_ids.add(user_id)
        # The caller just proved to be this user: no read rule stands between them.
        conn = await context.connection()
        return (await context.store.reader.by_ids(conn, "User", [user_id])).get(user_id)

    return {
        "loginUser": GraphQLField(
            user_type,
            args={
                "email": GraphQLArgument(GraphQLString),
                "username": GraphQLArgument(GraphQLString),
                "password": GraphQLArgument(STRING),
            },
            resolve=login_user,
        ),
    }


def mutation_fields(builder: SchemaBuilder) -> FieldMap:
    """Login, registration, refresh, logout, and changing the password or the email."""
    login = login_payload(builder)
    # Optional, as Slicknode declares it (its token may come from a cookie); a refresh without
    # one is refused like a wrong one.
    refresh_input = input_type("refreshTokenInput", (), ("refreshToken",))
    logout_payload = GraphQLObjectType(
        "logoutUserPayload",
        {
            "success": GraphQLField(GraphQLNonNull(GraphQLBoolean)),
        },
    )

    @answerable
    async def login_email_password(_root: Any, info: Info, input: dict[str, str]) -> dict[str, Any]:
        logged_in = await _login(info, input["password"], email=input["email"])
        return as_payload(logged_in.tokens)

    async def register(_root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        context, auth = credential_context(info)
        new = NewUser(
            email=input["email"],
            password=input["password"],
            username=input.get("username"),
            first_name=input.get("firstName"),
            last_name=input.get("lastName"),
        )
        languages = accepted(context.caller.accept_language)
        logged_in = await auth.email.register(new, client_of(context), languages)
        if not isinstance(logged_in, LoggedIn):
            # Made, with its confirmation mail queued: no session until it is confirmed.
            raise EmailNotConfirmed(registered=True)
        return as_payload(logged_in.tokens)

    @answerable
    async def refresh(_root: Any, info: Info, input: dict[str, str]) -> dict[str, Any]:
        context, auth = credential_context(info)
        ip = context.caller.ip
        await auth.throttle.attempt(ip, LOGIN)
        return as_payload(await auth.sessions.refresh(input.get("refreshToken") or "", ip))

    async def logout(_root: Any, info: Info, input: dict[str, str | None]) -> bool:
        context, auth = credential_context(info)
        token = input.get("refreshToken")
        if token:
            return await auth.session_tokens.end_any(token)
        # No refresh token (Slicknode's clients send null once theirs has expired): the
        # session of the access token sent, if it is a live one.
        session_id = context.viewer.session_id
        if not session_id:  # anonymous, root or a node token: no session to end
            return False
        return await auth.sessions.end(session_id)

    async def logout_user(root: Any, info: Info, input: dict[str, str | None]) -> dict[str, bool]:
        return {"success": await logout(root, info, input)}

    async def logout_all(_root: Any, info: Info) -> bool:
        _, auth, user_id = require_user(info)
        await auth.sessions.end_all(user_id, reason=AuditType.LOGOUT)
        return True

    async def change_password(_root: Any, info: Info, input: dict[str, str]) -> bool:
        context, auth, user_id = require_user(info)
        credential_context(info)
        await auth.throttle.attempt(context.caller.ip, LOGIN)
        async with context.store.db.write() as conn:
            await auth.accounts.change_password(
                conn, user_id, input["oldPassword"], input["newPassword"]
            )
        await auth.sessions.end_all(user_id, keep=context.viewer.session_id)
        return True

    async def change_email(_root: Any, info: Info, input: dict[str, str]) -> Node | None:
        context, auth, user_id = require_user(info)
        credential_context(info)
        await auth.logins.change_email(
            user_id, input["password"], input["newEmail"], client_of(context)
        )
        # A credential change, as a new password is: every other session ends.
        await auth.sessions.end_all(user_id, keep=context.viewer.session_id)
        auth.events.publish(UserChanged(user_id))  # this session's cached row holds the old address
        conn = await context.connection()
        return (await context.store.reader.by_ids(conn, "User", [user_id])).get(user_id)

    def arg(kind: GraphQLInputObjectType) -> dict[str, GraphQLArgument]:
        return {"input": GraphQLArgument(GraphQLNonNull(kind))}

    refresh_field = GraphQLField(refresh_payload(builder), args=arg(refresh_input), resolve=refresh)
    return {
        "loginEmailPassword": GraphQLField(
            login,
            args=arg(input_type("loginEmailPasswordInput", ("email", "password"))),
            resolve=login_email_password,
        ),
        "registerUserEmailPassword": GraphQLField(
            login,
            args=arg(
                input_type(
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
            args=arg(input_type("logoutInput", (), ("refreshToken",))),
            resolve=logout,
        ),
        "logoutUser": GraphQLField(
            logout_payload,
            args=arg(input_type("logoutUserInput", (), ("refreshToken",))),
            resolve=logout_user,
        ),
        "logoutAll": GraphQLField(GraphQLNonNull(GraphQLBoolean), resolve=logout_all),
        "changePassword": GraphQLField(
            GraphQLNonNull(GraphQLBoolean),
            args=arg(input_type("changePasswordInput", ("oldPassword", "newPassword"))),
            resolve=change_password,
        ),
        "changeEmail": GraphQLField(
            GraphQLNonNull(builder.objects["User"]),
            args=arg(input_type("changeEmailInput", ("password", "newEmail"))),
            resolve=change_email,
            description="Give the viewer another email address, proven by their password.",
        ),
    }


def mark_credential_fields(schema: GraphQLSchema) -> None:
    """Mark the built-in credential fields for :mod:`bastion.graphql.credential_limit`, and
    those that carry their own proof for :mod:`bastion.graphql.own_proof`."""
    for root in (schema.query_type, schema.mutation_type):
        for name, field in (root.fields if root is not None else {}).items():
            if name in CREDENTIAL_FIELDS:
                mark_credential(field)
            if name in OWN_PROOF_FIELDS:
                mark_own_proof(field)


def require_login(schema: GraphQLSchema) -> None:
    """Make every root field but the login fields refuse anonymous callers (Stitch's mode).

    Functions marked ``credential: true`` are login fields too. The meta fields that have no
    resolver to wrap (``__typename``, ``__schema``, ``__type``) are refused by the executor,
    through :func:`names_meta_field`.
    """
    for root in (schema.query_type, schema.mutation_type):
        if root is None:
            continue
        for name, field in root.fields.items():
            # A function's credential field is a way to log in; the built-in ones that are
            # not (changePassword, linkIdentity) stay for logged-in users.
            function_login = is_credential(field) and name not in CREDENTIAL_FIELDS
            if name not in PUBLIC_FIELDS and not function_login:
                field.resolve = _logged_in(field.resolve)


def _logged_in(inner: Any) -> Any:
    def resolve(root: Any, info: Info, **args: Any) -> Any:
        if not context_of(info).viewer.is_authenticated:
            raise Unauthorized()
        return (inner or default_field_resolver)(root, info, **args)

    return resolve
