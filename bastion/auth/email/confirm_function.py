"""Confirming new accounts with a project function (Stitch's custom confirmation).

With a function marked ``auth: confirm_user``, registering an email/password account runs it
instead of mailing a link: Bastion makes a confirmation token (stored hashed, mailed to
nobody) and gives the function ``{token, tokenId, username}``. It answers a ``status``:
``success`` confirms the address at once (the token is used as by :meth:`Confirmation.confirm`),
``pending`` leaves the token to whatever the function did with it (a text message, a mail of
its own, a person who checks), ``fail`` leaves the address unconfirmed. A registration whose
function failed (or answered ``fail``) stays pending; realm-web's
``retryCustomConfirmation({email})`` (``confirm/call``) runs it again. An address without an
account awaiting confirmation answers like ``pending`` and runs nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.auth.accounts import NewUser
from bastion.auth.email.confirmation import Confirmation
from bastion.auth.email.tokens import Purpose
from bastion.auth.logins import LoggedIn, LoginClient
from bastion.auth.throttle import SIGNUP
from bastion.errors import BastionError, Code

RunConfirmFunction = Callable[[Mapping[str, Any]], Awaitable[Any]]
"""Runs the project's confirmation function with the confirmation's facts; what it returned."""

log = logging.getLogger("bastion.auth")


class ConfirmationRefused(BastionError):
    """The confirmation function answered ``fail`` (or something that is no status)."""

    code = Code.FORBIDDEN

    def __init__(self, detail: str = "the confirmation function did not confirm the user") -> None:
        super().__init__(detail)


class ConfirmFunctions(Confirmation):
    """Confirmation by the project's function."""

    confirm_function: RunConfirmFunction | None = None
    """Set by the composition root when the project marks a function ``auth: confirm_user``;
    registrations then run it instead of mailing a link."""

    async def register(
        self,
        new: NewUser,
        client: LoginClient,
        languages: Sequence[str] = (),
        *,
        log_in: bool = True,
    ) -> str | LoggedIn:
        """Register; with a confirmation function, the new account awaits confirmation and
        the function runs once the account is made (no mail goes)."""
        run = self.confirm_function
        if run is None or self.confirmation == "off":
            return await super().register(new, client, languages, log_in=log_in)
        made: dict[str, str] = {}

        async def pending(conn: AsyncConnection, user_id: str) -> None:
            await self._pending.add(conn, user_id, self._clock())
            made["address"] = await self._accounts.email_of(conn, user_id) or new.email

        log_in = log_in and self.confirmation == "optional"
        done = await self._logins.register(new, client, log_in=log_in, then=pending)
        user_id = done if isinstance(done, str) else done.user_id
        await self._after_registration(user_id, made["address"], client, run)
        return done

    async def _after_registration(
        self, user_id: str, address: str, client: LoginClient, run: RunConfirmFunction
    ) -> None:
        """Run the function for a new account; its failure leaves the account pending (the
        user has an account either way: ``confirm/call`` tries again)."""
        try:
            await self._run_confirmation(user_id, address, client, run)
        except ConfirmationRefused:
            log.info("the confirmation function did not confirm the new user %s", user_id)
        except Exception:
            # The registration is made; its answer must not depend on the function.
            log.exception("the confirmation function failed for a new user %s", user_id)

    async def confirm_by_function(
        self, email: str, client: LoginClient, run: RunConfirmFunction
    ) -> str:
        """Run the confirmation function again for the account of ``email`` awaiting
        confirmation; its status (``pending`` for any other address, and nothing run)."""
        await self._throttle.attempt(client.ip, SIGNUP)
        address = self._store.emails.check(email)  # a malformed address: BAD_USER_INPUT
        async with self._store.db.read() as conn:
            user_id = await self._accounts.holder_of(conn, address)
            waiting = (
                user_id is not None
                and await self._pending.holds(conn, user_id)
                and await self._accounts.is_active(conn, user_id)
            )
        if not waiting or user_id is None:
            return "pending"  # the same answer whoever holds the address
        return await self._run_confirmation(user_id, address, client, run)

    async def _run_confirmation(
        self, user_id: str, address: str, client: LoginClient, run: RunConfirmFunction
    ) -> str:
        lifetime = self._userpass.confirmation_lifetime
        async with self._store.db.write() as conn:
            issued = await self._tokens.issue(conn, Purpose.CONFIRM, address, user_id, lifetime)
        answer = await run({"token": issued.token, "tokenId": issued.token_id, "username": address})
        status = answer.get("status") if isinstance(answer, Mapping) else None
        if status == "success":
            await self._confirm_with(issued.token_id, issued.token, client)
            return "success"
        if status == "pending":
            return "pending"
        if status == "fail":
            raise ConfirmationRefused()
        raise ConfirmationRefused(
            'the confirmation function must answer {"status": "success|pending|fail"}'
        )
