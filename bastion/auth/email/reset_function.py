"""A password reset decided by a project function (Stitch's ``reset/call``).

realm-web's ``callResetPasswordFunction({email, password}, ...args)`` asks the server to run
the app's reset function instead of mailing a link. Bastion makes a reset token (stored
hashed, mailed to nobody) and runs the project's function marked ``auth: reset_password``
with ``{token, tokenId, username, password,
currentPasswordValid}`` and the client's arguments. It answers a ``status``: ``success``
resets the password at once (the token is used as by :meth:`Resets.reset`), ``pending``
leaves the token to whatever the function did with it (a text message, a mail of its own),
``fail`` refuses. An address without an account answers like ``pending`` and runs nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bastion.auth.email.reset import Resets
from bastion.auth.email.tokens import Purpose
from bastion.auth.logins import LoginClient
from bastion.auth.throttle import SIGNUP
from bastion.errors import BastionError, Code

RunResetFunction = Callable[[Mapping[str, Any]], Awaitable[Any]]
"""Runs the project's reset function with the reset's facts; what it returned."""


class ResetRefused(BastionError):
    """The reset function answered ``fail`` (or something that is no status)."""

    code = Code.FORBIDDEN

    def __init__(self, detail: str = "the reset function refused the reset") -> None:
        super().__init__(detail)


class ResetFunctions(Resets):
    """Password reset by the project's function."""

    async def reset_by_function(
        self, email: str, password: str, client: LoginClient, run: RunResetFunction
    ) -> str:
        """Ask the reset function about a reset of ``email`` to ``password``; its status."""
        await self._throttle.attempt(client.ip, SIGNUP)
        address = self._store.emails.check(email)
        self._accounts.check_new_password(password, address)  # the rules, before anything
        async with self._store.db.read() as conn:
            user_id = await self._accounts.holder_of(conn, address)
            active = user_id is not None and await self._accounts.is_active(conn, user_id)
            stored = await self._accounts.password_hash(conn, user_id) if user_id else None
        current_valid = await self._accounts.passwords.verify(stored, password)
        if not active or user_id is None:
            return "pending"
        lifetime = self._userpass.reset_lifetime
        async with self._store.db.write() as conn:
            issued = await self._tokens.issue(conn, Purpose.RESET, address, user_id, lifetime)
        answer = await run(
            {
                "token": issued.token,
                "tokenId": issued.token_id,
                "username": address,
                "password": password,
                "currentPasswordValid": current_valid,
            }
        )
        status = answer.get("status") if isinstance(answer, Mapping) else None
        if status == "success":
            await self.reset(issued.token_id, issued.token, password, client)
            return "success"
        if status == "pending":
            return "pending"
        if status == "fail":
            raise ResetRefused()
        raise ResetRefused('the reset function must answer {"status": "success|pending|fail"}')
