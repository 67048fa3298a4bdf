"""The email/password routes of the Stitch client API beside login and register:
confirmation (``confirm``, ``confirm/send``) and reset (``reset/send``, ``reset``).

realm-web's ``app.emailPasswordAuth`` (``confirmUser``, ``resendConfirmationEmail``,
``sendResetPasswordEmail``, ``resetPassword``) and the Stitch SDKs' userpass client call them
with ``{"token", "tokenId"}``, ``{"email"}`` and ``{"token", "tokenId", "password"}``. The
rules are those of the GraphQL fields (:mod:`bastion.auth.email`); only the shapes differ.
Unlike the real service, asking for a mail answers the same whether or not the address has
an account. ``reset/call`` runs the project's function marked ``auth: reset_password``
(``callResetPasswordFunction``); ``confirm/call`` (a custom confirmation function) is not
offered: it answers 400 ``NotImplemented``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from bastion.auth import ANONYMOUS
from bastion.auth.assembly import AuthServices
from bastion.auth.logins import LoginClient
from bastion.functions import callable as callables
from bastion.functions.runtime import FunctionRuntime
from bastion.http.caller import caller_of
from bastion.http.stitch.ejson import EJSONError, decode
from bastion.http.stitch.errors import StitchError
from bastion.mail.locales import accepted


def _string(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str):
        raise StitchError(400, "InvalidParameter", f"{key} must be a string")
    return value


def _client(request: Request) -> LoginClient:
    caller = caller_of(request)
    return LoginClient(user_agent=caller.user_agent, ip=caller.ip, stitch=True)


def _languages(request: Request) -> list[str]:
    return accepted(request.headers.get("accept-language"))


class UserpassRoutes:
    """The handlers; each takes the request and its JSON body."""

    def __init__(self, auth: AuthServices, runtime: FunctionRuntime) -> None:
        self._auth = auth
        self._runtime = runtime

    async def confirm(self, request: Request, body: dict[str, Any]) -> None:
        """``confirmUser({token, tokenId})``."""
        token_id, token = _string(body, "tokenId"), _string(body, "token")
        await self._auth.email.confirm(token_id, token, _client(request))

    async def confirm_send(self, request: Request, body: dict[str, Any]) -> None:
        """``resendConfirmationEmail({email})``."""
        email = _string(body, "email")
        await self._auth.email.resend_confirmation(email, _client(request), _languages(request))

    async def reset_send(self, request: Request, body: dict[str, Any]) -> None:
        """``sendResetPasswordEmail({email})``."""
        email = _string(body, "email")
        await self._auth.email.send_reset(email, _client(request), _languages(request))

    async def reset(self, request: Request, body: dict[str, Any]) -> None:
        """``resetPassword({token, tokenId, password})``."""
        token_id, token = _string(body, "tokenId"), _string(body, "token")
        password = _string(body, "password")
        await self._auth.email.reset(token_id, token, password, _client(request))

    async def reset_call(self, request: Request, body: dict[str, Any]) -> None:
        """``callResetPasswordFunction({email, password}, ...args)``: the project's function
        marked ``auth: reset_password`` decides (see :mod:`bastion.auth.email.reset_function`)."""
        marked = [
            f
            for _, f in sorted(self._runtime.functions.items())
            if f.config.auth == "reset_password"
        ]
        if not marked:
            raise StitchError(
                400,
                "NotImplemented",
                "no reset function: mark one of the project's functions auth: reset_password, "
                "or use reset/send",
            )
        function = marked[0]
        email, password = _string(body, "email"), _string(body, "password")
        arguments = body.get("arguments", [])
        if not isinstance(arguments, list):
            raise StitchError(400, "InvalidParameter", "arguments must be a list")
        try:
            extra = decode(arguments)
        except EJSONError as error:
            raise StitchError(400, "InvalidParameter", f"arguments: {error}") from None

        async def run(facts: Mapping[str, Any]) -> Any:
            return await callables.call(self._runtime, function, [dict(facts), *extra], ANONYMOUS)

        await self._auth.email.reset_by_function(email, password, _client(request), run)

    async def not_offered(self, request: Request, body: dict[str, Any]) -> None:
        """``retryCustomConfirmation``: not offered."""
        raise StitchError(
            400,
            "NotImplemented",
            "custom confirmation functions are not offered; use confirm/send",
        )

    def actions(self) -> dict[str, Any]:
        """Path (under ``auth/providers/local-userpass/``) -> handler."""
        return {
            "confirm": self.confirm,
            "confirm/send": self.confirm_send,
            "confirm/call": self.not_offered,
            "reset": self.reset,
            "reset/send": self.reset_send,
            "reset/call": self.reset_call,
        }
