"""The email/password routes of the Stitch client API beside login and register:
confirmation (``confirm``, ``confirm/send``) and reset (``reset/send``, ``reset``).

realm-web's ``app.emailPasswordAuth`` (``confirmUser``, ``resendConfirmationEmail``,
``sendResetPasswordEmail``, ``resetPassword``) and the Stitch SDKs' userpass client call them
with ``{"token", "tokenId"}``, ``{"email"}`` and ``{"token", "tokenId", "password"}``. The
rules are those of the GraphQL fields (:mod:`bastion.auth.email`); only the shapes differ.
Unlike the real service, asking for a mail answers the same whether or not the address has
an account. ``reset/call`` runs the project's function marked ``auth: reset_password``
(``callResetPasswordFunction``), ``confirm/call`` the one marked ``auth: confirm_user``
(``retryCustomConfirmation``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from bastion.auth.assembly import AuthServices
from bastion.auth.logins import LoginClient
from bastion.functions import callable as callables
from bastion.functions.runtime import FunctionRuntime
from bastion.http.caller import caller_of
from bastion.http.stitch.ejson import EJSONError, decode
from bastion.http.stitch.errors import StitchError
from bastion.mail.locales import accepted

NO_CONFIRM_FUNCTION = "Unknown"
"""The error code of ``confirm/call`` without a confirmation function: the SDKs built on
realm-core know the real service's code by no name (realm-swift's tests see ``.unknown``),
and the Stitch SDKs call any code they do not know ``Unknown``."""


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
        function = callables.auth_function(self._runtime, "reset_password")
        if function is None:
            raise StitchError(
                400,
                "NotImplemented",
                "no reset function: mark one of the project's functions auth: reset_password, "
                "or use reset/send",
            )
        email, password = _string(body, "email"), _string(body, "password")
        arguments = body.get("arguments", [])
        if not isinstance(arguments, list):
            raise StitchError(400, "InvalidParameter", "arguments must be a list")
        try:
            extra = decode(arguments)
        except EJSONError as error:
            raise StitchError(400, "InvalidParameter", f"arguments: {error}") from None
        run = callables.auth_runner(self._runtime, function, extra)
        await self._auth.email.reset_by_function(email, password, _client(request), run)

    async def confirm_call(self, request: Request, body: dict[str, Any]) -> None:
        """``retryCustomConfirmation({email})``: run the function marked ``auth:
        confirm_user`` again for the account of ``email`` awaiting confirmation (see
        :mod:`bastion.auth.email.confirm_function`)."""
        email = _string(body, "email")
        function = callables.auth_function(self._runtime, "confirm_user")
        if function is None:
            # The real service's answer when no confirmation function runs: the same for
            # every address, so it tells nothing about accounts.
            raise StitchError(
                400,
                NO_CONFIRM_FUNCTION,
                f"cannot run confirmation for {email[:320]}: automatic confirmation is enabled",
            )
        run = callables.auth_runner(self._runtime, function)
        await self._auth.email.confirm_by_function(email, _client(request), run)

    def actions(self) -> dict[str, Any]:
        """Path (under ``auth/providers/local-userpass/``) -> handler."""
        return {
            "confirm": self.confirm,
            "confirm/send": self.confirm_send,
            "confirm/call": self.confirm_call,
            "reset": self.reset,
            "reset/send": self.reset_send,
            "reset/call": self.reset_call,
        }
