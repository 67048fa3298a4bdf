"""The email flows' tests: a project with sign-up on, mail sent to a real SMTP server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bastion.project import Project
from tests.auth.conftest import Auth
from tests.smtp_server import SmtpServer, smtp

__all__ = ["smtp"]

SEND_RESET = "mutation ($email: String!) { sendPasswordResetEmail(input: {email: $email}) }"
RESET = """mutation ($id: String!, $token: String!, $password: String!) {
  resetPassword(input: {tokenId: $id, token: $token, password: $password}) }"""
CONFIRM = """mutation ($id: String!, $token: String!) {
  confirmEmail(input: {tokenId: $id, token: $token}) }"""
RESEND = "mutation ($email: String!) { resendConfirmationEmail(input: {email: $email}) }"
SEND_CODE = "mutation ($email: String!) { sendLoginCode(input: {email: $email}) }"
LOGIN_CODE = """mutation ($email: String, $code: String, $id: String, $token: String) {
  loginEmailCode(input: {email: $email, code: $code, tokenId: $id, token: $token}) {
    accessToken refreshToken } }"""
REQUEST_CHANGE = """mutation ($password: String!, $email: String!) {
  requestEmailChange(input: {password: $password, newEmail: $email}) }"""
CONFIRM_CHANGE = """mutation ($id: String!, $token: String!) {
  confirmEmailChange(input: {tokenId: $id, token: $token}) }"""


@pytest.fixture
def mail_app(
    smtp: SmtpServer, make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> Callable[..., Any]:
    """Start a project with sign-up on, mail to ``smtp`` and the given ``auth:`` settings
    (``userpass`` and ``email_code`` go to their providers). The SMTP server is asked for
    first, so that it stops after the app (whose sender may be saying goodbye to it)."""

    async def start(
        userpass: dict[str, Any] | None = None,
        email_code: dict[str, Any] | None = None,
        schema: str | None = None,
        **mail: Any,
    ) -> Auth:
        providers = {
            "local-userpass": {"signup": True, **(userpass or {})},
            "email-code": email_code or {"enabled": False},
        }
        extra = {"schema": schema} if schema else {}
        project = make_project(
            **extra, auth={"providers": providers}, mail={**smtp.settings, **mail}
        )
        return Auth(await client_for(project))

    return start
