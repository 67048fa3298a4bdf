"""The GraphQL side of passkeys: the ceremonies' options, registering, logging in (alone or
as a login's second factor), and the viewer's passkeys.

Options and credentials travel as JSON strings: the options as py_webauthn writes them (for
``PublicKeyCredential.parseCreationOptionsFromJSON`` and ``parseRequestOptionsFromJSON``),
the credential as ``PublicKeyCredential.toJSON()`` gives it. See ``docs/signin/passkeys.md``.
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
)

from bastion.auth.assembly import AuthServices
from bastion.auth.factors.passkeys import PASSKEY, Passkeys
from bastion.auth.logins import ProviderDisabled
from bastion.auth.throttle import LOGIN
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
from bastion.graphql.context import Info, context_of
from bastion.graphql.scalars import DateTimeScalar


def _passkeys(auth: AuthServices) -> Passkeys:
    if auth.factors.passkeys is None:
        raise ProviderDisabled(PASSKEY)
    return auth.factors.passkeys


def _passkey_type() -> GraphQLObjectType:
    return GraphQLObjectType(
        "Passkey",
        {
            "id": GraphQLField(GraphQLNonNull(GraphQLID)),
            "name": GraphQLField(STRING),
            "createdAt": GraphQLField(
                GraphQLNonNull(DateTimeScalar), resolve=lambda p, _: p.created_at
            ),
            "lastUsedAt": GraphQLField(DateTimeScalar, resolve=lambda p, _: p.last_used_at),
        },
        description="A passkey of the viewer's: a WebAuthn credential on one of their devices.",
    )


def _arg(*args: Any) -> dict[str, GraphQLArgument]:
    return {"input": GraphQLArgument(GraphQLNonNull(input_type(*args)))}


def fields(builder: SchemaBuilder) -> tuple[FieldMap, FieldMap]:
    """(query fields, mutation fields) of passkeys."""
    passkey: GraphQLObjectType = shared_type(builder, "Passkey", _passkey_type)

    async def passkeys(_root: Any, info: Info) -> list[Any]:
        _, auth, user_id = require_user(info)
        return await _passkeys(auth).of(user_id)

    async def registration_options(_root: Any, info: Info) -> str:
        context, auth, user_id = require_user(info)
        conn = await context.connection()
        email = await auth.accounts.email_of(conn, user_id)
        return await _passkeys(auth).registration_options(user_id, email or user_id)

    async def register(_root: Any, info: Info, input: dict[str, str | None]) -> Any:
        _, auth, user_id = require_user(info)
        credential_context(info)
        credential = input["credential"]
        assert credential is not None
        return await _passkeys(auth).register(user_id, credential, input.get("name"))

    async def login_options(_root: Any, info: Info, input: dict[str, str | None]) -> str:
        context = context_of(info)
        assert context.auth is not None
        # Each call stores a challenge: counted per address like a login attempt.
        await context.auth.throttle.attempt(context.caller.ip, LOGIN)
        challenge = input.get("mfaChallenge")
        user_id = context.auth.factors.challenges.read(challenge).user_id if challenge else None
        return await _passkeys(context.auth).login_options(user_id)

    async def login(_root: Any, info: Info, input: dict[str, str | None]) -> dict[str, Any]:
        context, auth = credential_context(info)
        credential = input["credential"]
        assert credential is not None
        logged_in = await auth.logins.passkey(
            credential, client_of(context), input.get("mfaChallenge")
        )
        return as_payload(logged_in.tokens)

    async def delete(_root: Any, info: Info, id: str) -> bool:
        _, auth, user_id = require_user(info)
        await _passkeys(auth).delete(user_id, id)
        return True

    queries: FieldMap = {
        "passkeys": GraphQLField(
            GraphQLNonNull(GraphQLList(GraphQLNonNull(passkey))), resolve=passkeys
        )
    }
    mutations: FieldMap = {
        "passkeyRegistrationOptions": GraphQLField(
            STRING,
            resolve=registration_options,
            description="The options of navigator.credentials.create(), as JSON.",
        ),
        "registerPasskey": GraphQLField(
            GraphQLNonNull(passkey),
            args=_arg("registerPasskeyInput", ("credential",), ("name",)),
            resolve=register,
        ),
        "passkeyLoginOptions": GraphQLField(
            STRING,
            args={
                "input": GraphQLArgument(
                    input_type("passkeyLoginOptionsInput", (), ("mfaChallenge",))
                )
            },
            resolve=lambda root, info, input=None: login_options(root, info, input or {}),
            description="The options of navigator.credentials.get(), as JSON: any passkey, "
            "or one of the user's for a login's MFA challenge.",
        ),
        "loginPasskey": GraphQLField(
            login_payload(builder),
            args=_arg("loginPasskeyInput", ("credential",), ("mfaChallenge",)),
            resolve=login,
            description="Log in with a passkey, or complete a login's MFA challenge with one.",
        ),
        "deletePasskey": GraphQLField(
            GraphQLNonNull(GraphQLBoolean),
            args={"id": GraphQLArgument(GraphQLNonNull(GraphQLID))},
            resolve=delete,
        ),
    }
    return queries, mutations


def query_fields(builder: SchemaBuilder) -> FieldMap:
    """``passkeys``."""
    return fields(builder)[0]


def mutation_fields(builder: SchemaBuilder) -> FieldMap:
    """The passkey ceremonies and ``deletePasskey``."""
    return fields(builder)[1]
