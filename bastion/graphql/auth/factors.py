"""The GraphQL side of second factors: enrolling a TOTP authenticator, completing a login's
challenge, recovery codes, and ``auth.mfa.required``.

A login of a user with a second factor answers the error ``MFA_REQUIRED`` whose
``extensions.challenge`` is completed by ``completeMfaLogin`` with a code (see
``docs/signin/totp.md``); the rules live in :mod:`bastion.auth.factors`.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    default_field_resolver,
)

from bastion.auth.factors.totp import Enrolment
from bastion.auth.viewer import ViewerKind
from bastion.errors import BastionError, Code
from bastion.graphql.auth.credentials import (
    STRING,
    as_payload,
    client_of,
    credential_context,
    input_type,
    login_payload,
    require_user,
)
from bastion.graphql.build import FieldMap, SchemaBuilder
from bastion.graphql.context import Info, context_of
from bastion.model.auth_names import AUTH_ROOT_FIELDS

_CODES = GraphQLNonNull(GraphQLList(STRING))


def _arg(kind: GraphQLInputObjectType) -> dict[str, GraphQLArgument]:
    return {"input": GraphQLArgument(GraphQLNonNull(kind))}


def query_fields(builder: SchemaBuilder) -> FieldMap:
    """``mfaStatus``: the viewer's second factors and whether this session proved one."""
    status_type = GraphQLObjectType(
        "MfaStatus",
        {
            "totpEnrolled": GraphQLField(GraphQLNonNull(GraphQLBoolean)),
            "totpConfirmed": GraphQLField(GraphQLNonNull(GraphQLBoolean)),
            "recoveryCodesLeft": GraphQLField(GraphQLNonNull(GraphQLInt)),
            "sessionMfa": GraphQLField(
                GraphQLNonNull(GraphQLBoolean),
                description="Whether this session was opened with a second factor.",
            ),
        },
    )

    async def mfa_status(_root: Any, info: Info) -> dict[str, Any]:
        context, auth, user_id = require_user(info)
        conn = await context.connection()
        status = await auth.factors.totp.status(conn, user_id)
        return {
            "totpEnrolled": status.enrolled,
            "totpConfirmed": status.confirmed,
            "recoveryCodesLeft": status.recovery_codes_left,
            "sessionMfa": context.viewer.mfa,
        }

    return {"mfaStatus": GraphQLField(GraphQLNonNull(status_type), resolve=mfa_status)}


def mutation_fields(builder: SchemaBuilder) -> FieldMap:
    """``completeMfaLogin`` and the TOTP authenticator's mutations."""
    enrolment_type = GraphQLObjectType(
        "TotpEnrolment",
        {
            "secret": GraphQLField(STRING, description="Base32, for typing into the app."),
            "uri": GraphQLField(STRING, description="The otpauth:// URI a QR code holds."),
        },
    )

    async def complete_mfa_login(_root: Any, info: Info, input: dict[str, str]) -> dict[str, Any]:
        context, auth = credential_context(info)
        logged_in = await auth.logins.complete_mfa(
            input["challenge"], input["code"], client_of(context)
        )
        return as_payload(logged_in.tokens)

    async def enrol_totp(_root: Any, info: Info, input: dict[str, str | None]) -> Enrolment:
        context, auth, user_id = require_user(info)
        credential_context(info)
        account = await auth.logins.reauthenticate(
            user_id, input.get("password"), client_of(context)
        )
        return await auth.factors.totp.enrol(user_id, account)

    async def confirm_totp(_root: Any, info: Info, input: dict[str, str]) -> list[str]:
        _, auth, user_id = require_user(info)
        credential_context(info)
        return await auth.factors.confirm(user_id, input["code"])

    async def new_recovery_codes(_root: Any, info: Info, input: dict[str, str]) -> list[str]:
        _, auth, user_id = require_user(info)
        credential_context(info)
        return await auth.factors.new_recovery_codes(user_id, input["code"])

    async def disable_totp(_root: Any, info: Info, input: dict[str, str]) -> bool:
        _, auth, user_id = require_user(info)
        credential_context(info)
        await auth.factors.disable_totp(user_id, input["code"])
        return True

    return {
        "completeMfaLogin": GraphQLField(
            login_payload(builder),
            args=_arg(input_type("completeMfaLoginInput", ("challenge", "code"))),
            resolve=complete_mfa_login,
            description="Finish a login that answered MFA_REQUIRED: its challenge and a code.",
        ),
        "enrolTotp": GraphQLField(
            GraphQLNonNull(enrolment_type),
            args=_arg(input_type("enrolTotpInput", (), ("password",))),
            resolve=enrol_totp,
            description="A new authenticator secret; the password is asked when the user has one.",
        ),
        "confirmTotp": GraphQLField(
            _CODES,
            args=_arg(input_type("confirmTotpInput", ("code",))),
            resolve=confirm_totp,
            description="Turn the authenticator on with a code from it; the recovery codes.",
        ),
        "newRecoveryCodes": GraphQLField(
            _CODES,
            args=_arg(input_type("newRecoveryCodesInput", ("code",))),
            resolve=new_recovery_codes,
        ),
        "disableTotp": GraphQLField(
            GraphQLNonNull(GraphQLBoolean),
            args=_arg(input_type("disableTotpInput", ("code",))),
            resolve=disable_totp,
            description="Turn the authenticator off, proven by a code or a recovery code.",
        ),
    }


class SecondFactorNeeded(BastionError):
    """``auth.mfa.required``: this session was opened without a second factor."""

    code = Code.MFA_REQUIRED

    def __init__(self) -> None:
        super().__init__(
            "This project requires a second factor: set one up (enrolTotp) and log in with it"
        )


def require_mfa(schema: GraphQLSchema) -> None:
    """Make every root field but the auth fields refuse a user whose session proved no second
    factor (``auth.mfa.required``); root and node tokens, and anonymous callers (whose
    access the rules decide), pass."""
    for root in (schema.query_type, schema.mutation_type):
        if root is None:
            continue
        for name, field in root.fields.items():
            if name not in AUTH_ROOT_FIELDS:
                field.resolve = _with_mfa(field.resolve)


def _with_mfa(inner: Any) -> Any:
    def resolve(root: Any, info: Info, **args: Any) -> Any:
        viewer = context_of(info).viewer
        if viewer.kind is ViewerKind.USER and not viewer.mfa:
            raise SecondFactorNeeded()
        return (inner or default_field_resolver)(root, info, **args)

    return resolve
