"""The email/password routes of the Stitch client API beside login and register:
confirmation (``confirm``, ``confirm/send``) and reset (``reset/send``, ``reset``).

realm-web's ``app.emailPasswordAuth`` (``confirmUser``, ``resendConfirmationEmail``,
``sendResetPasswordEmail``, ``resetPassword``) and the Stitch SDKs' userpass client call them
with ``{"token", "tokenId"}``, ``{"email"}`` and ``{"token", "tokenId", "password"}``. The
rules are those of the GraphQL fields (:mod:`bastion.auth.email`); only the shapes differ.
Unlike the real service, asking for a mail answers the same whether or not the address has
an account. ``confirm/call`` and ``reset/call`` (custom confirmation and reset functions) are
not offered: they answer 400 ``NotImplemented``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from bastion.auth.assembly import AuthServices
from bastion.auth.logins import LoginClient
from bastion.http.caller import caller_of
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

    def __init__(self, auth: AuthServices) -> None:
        self._auth = auth

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

    async def not_offered(self, request: Request, body: dict[str, Any]) -> None:
        """``retryCustomConfirmation`` and ``callResetPasswordFunction``: not offered."""
        raise StitchError(
            400,
            "NotImplemented",
            "custom confirmation and reset functions are not offered; use confirm/send and "
            "reset/send",
        )

    def actions(self) -> dict[str, Any]:
        """Path (under ``auth/providers/local-userpass/``) -> handler."""
        return {
            "confirm": self.confirm,
            "confirm/send": self.confirm_send,
            "confirm/call": self.not_offered,
            "reset": self.reset,
            "reset/send": self.reset_send,
            "reset/call": self.not_offered,
        }
