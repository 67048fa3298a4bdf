"""Accounts by email: sign-up confirmation, password reset, login by emailed code or link,
and address changes confirmed by mail.

Each flow writes its token (:mod:`bastion.auth.email.tokens`) and its mail
(:mod:`bastion.mail.outbox`) in one transaction, so a request that returns has either queued
both or neither. The GraphQL fields (:mod:`bastion.graphql.auth.email`) and the Stitch
client routes (:mod:`bastion.http.stitch.userpass`) both come here.
"""

from typing import Any

from bastion.auth.email.change import EmailChanges
from bastion.auth.email.codes import EMAIL_CODE, CodeLogins
from bastion.auth.email.confirm_function import (
    ConfirmationRefused,
    ConfirmFunctions,
    RunConfirmFunction,
)
from bastion.auth.email.confirmation import EmailNotConfirmed
from bastion.auth.email.reset_function import ResetFunctions, ResetRefused, RunResetFunction
from bastion.auth.email.tokens import InvalidEmailToken


class EmailFlows(ConfirmFunctions, ResetFunctions, CodeLogins, EmailChanges):
    """Every flow by mail of one project."""

    def __init__(self, **services: Any) -> None:
        """See :class:`EmailFlowsBase`; the makers of the requested mails are registered with
        the outbox here."""
        super().__init__(**services)
        self.outbox.maker("reset_request", self._make_reset)
        self.outbox.maker("confirm_request", self._make_confirmation)
        self.outbox.maker("login_request", self._make_login)


__all__ = [
    "EMAIL_CODE",
    "ConfirmationRefused",
    "EmailFlows",
    "EmailNotConfirmed",
    "InvalidEmailToken",
    "ResetRefused",
    "RunConfirmFunction",
    "RunResetFunction",
]
