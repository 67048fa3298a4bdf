"""The GraphQL fields of accounts by email: confirmation, reset, login codes, email change.

Each asks :mod:`bastion.auth.email` (shared with the Stitch client routes) and answers
``true`` or a login payload. The fields that send a mail answer ``true`` whether or not a mail
went out, so that they tell nothing of which addresses have accounts.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLArgument, GraphQLBoolean, GraphQLField, GraphQLNonNull

from bastion.graphql.auth.credentials import (
    as_payload,
    client_of,
    credential_context,
    input_type,
    login_payload,
    require_user,
)
from bastion.graphql.build import FieldMap, SchemaBuilder
from bastion.graphql.context import Info, RequestContext
from bastion.mail.locales import accepted

_TRUE = GraphQLNonNull(GraphQLBoolean)


def _languages(context: RequestContext) -> list[str]:
    return accepted(context.caller.accept_language)


def _field(
    kind: Any,
    input_name: str,
    required: tuple[str, ...],
    resolve: Any,
    optional: tuple[str, ...] = (),
) -> GraphQLField:
    arg = input_type(input_name, required, optional)
    return GraphQLField(kind, args={"input": GraphQLArgument(GraphQLNonNull(arg))}, resolve=resolve)


def mutation_fields(builder: SchemaBuilder) -> FieldMap:
    """The mutations of the email flows."""
    login = login_payload(builder)

    async def resend_confirmation(_root: Any, info: Info, input: dict[str, str]) -> bool:
        context, auth = credential_context(info)
        await auth.email.resend_confirmation(
            input["email"], client_of(context), _languages(context)
        )
        return True

    async def confirm_email(_root: Any, info: Info, input: dict[str, str]) -> bool:
        context, auth = credential_context(info)
        await auth.email.confirm(input["tokenId"], input["token"], client_of(context))
        return True

    async def send_reset(_root: Any, info: Info, input: dict[str, str]) -> bool:
        context, auth = credential_context(info)
        await auth.email.send_reset(input["email"], client_of(context), _languages(context))
        return True

    async def reset_password(_root: Any, info: Info, input: dict[str, str]) -> bool:
        context, auth = credential_context(info)
        await auth.email.reset(
            input["tokenId"], input["token"], input["password"], client_of(context)
        )
        return True

    async def send_login_code(_root: Any, info: Info, input: dict[str, str]) -> bool:
        context, auth = credential_context(info)
        await auth.email.send_login_code(input["email"], client_of(context), _languages(context))
        return True

    async def login_email_code(_root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        context, auth = credential_context(info)
        logged_in = await auth.email.login_with_code(
            client_of(context),
            email=input.get("email"),
            code=input.get("code"),
            token_id=input.get("tokenId"),
            token=input.get("token"),
        )
        return as_payload(logged_in.tokens)

    async def request_email_change(_root: Any, info: Info, input: dict[str, str]) -> bool:
        context, auth, user_id = require_user(info)
        credential_context(info)
        await auth.email.request_email_change(
            user_id, input["password"], input["newEmail"], client_of(context), _languages(context)
        )
        return True

    async def confirm_email_change(_root: Any, info: Info, input: dict[str, str]) -> bool:
        context, auth = credential_context(info)
        # The flow tells the session caches once the new address is committed.
        await auth.email.confirm_email_change(
            input["tokenId"], input["token"], client_of(context), _languages(context)
        )
        return True

    return {
        "resendConfirmationEmail": _field(
            _TRUE, "resendConfirmationEmailInput", ("email",), resend_confirmation
        ),
        "confirmEmail": _field(_TRUE, "confirmEmailInput", ("tokenId", "token"), confirm_email),
        "sendPasswordResetEmail": _field(
            _TRUE, "sendPasswordResetEmailInput", ("email",), send_reset
        ),
        "resetPassword": _field(
            _TRUE, "resetPasswordInput", ("tokenId", "token", "password"), reset_password
        ),
        "sendLoginCode": _field(_TRUE, "sendLoginCodeInput", ("email",), send_login_code),
        "loginEmailCode": _field(
            login,
            "loginEmailCodeInput",
            (),
            login_email_code,
            ("email", "code", "tokenId", "token"),
        ),
        "requestEmailChange": _field(
            _TRUE, "requestEmailChangeInput", ("password", "newEmail"), request_email_change
        ),
        "confirmEmailChange": _field(
            _TRUE, "confirmEmailChangeInput", ("tokenId", "token"), confirm_email_change
        ),
    }
