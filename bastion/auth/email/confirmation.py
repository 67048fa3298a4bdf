"""Confirming the address of a new email/password account, and sending the mail again.

``auth.providers.local-userpass.confirmation``: ``required`` keeps the password login shut
(``EMAIL_NOT_CONFIRMED``) until the link of the mail is followed; ``optional`` sends the mail
and lets the user in meanwhile; ``off`` sends nothing. An address awaiting confirmation has a
row in ``_bastion_email_pending``; users made before confirmations (or with them off) have
none, so turning confirmations on never locks out existing users. A password reset or a
login by emailed code proves the address too, and confirms it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.auth.accounts import NewUser
from bastion.auth.audit import AuditEvent, AuditType
from bastion.auth.email.base import EmailFlowsBase
from bastion.auth.email.tokens import InvalidEmailToken, Purpose
from bastion.auth.logins import LoggedIn, LoginClient
from bastion.auth.sessions.values import refuse_after_write
from bastion.auth.throttle import LOGIN, SIGNUP
from bastion.errors import BastionError, Code


class EmailNotConfirmed(BastionError):
    """A password login of an account whose address awaits a required confirmation."""

    code = Code.EMAIL_NOT_CONFIRMED

    def __init__(self, *, registered: bool = False) -> None:
        super().__init__(
            "The account is made: follow the link mailed to its address, then log in"
            if registered
            else "Confirm your email address first: follow the link of the mail sent to it"
        )


class Confirmation(EmailFlowsBase):
    """Sign-up confirmation."""

    @property
    def confirmation(self) -> str:
        """``required``, ``optional`` or ``off``."""
        return self._userpass.confirmation

    async def gate(self, conn: AsyncConnection, user_id: str) -> None:
        """Refuse a password login while a required confirmation is pending."""
        if self.confirmation == "required" and await self._pending.holds(conn, user_id):
            raise EmailNotConfirmed()

    async def register(
        self,
        new: NewUser,
        client: LoginClient,
        languages: Sequence[str] = (),
        *,
        log_in: bool = True,
    ) -> str | LoggedIn:
        """Register (:meth:`Logins.register`), queuing the confirmation mail in the same
        transaction; with confirmation required nobody is logged in (the user's id comes
        back)."""
        if self.confirmation == "off":
            return await self._logins.register(new, client, log_in=log_in)
        self.outbox.require()

        async def confirm_later(conn: AsyncConnection, user_id: str) -> None:
            await self._pending.add(conn, user_id, self._clock())
            await self._send_confirmation(conn, user_id, new.email, client, languages)

        log_in = log_in and self.confirmation == "optional"
        done = await self._logins.register(new, client, log_in=log_in, then=confirm_later)
        self.outbox.wake()
        return done

    async def _send_confirmation(
        self,
        conn: AsyncConnection,
        user_id: str,
        email: str,
        client: LoginClient,
        languages: Sequence[str],
    ) -> None:
        address = await self._accounts.email_of(conn, user_id) or email
        lifetime = self._userpass.confirmation_lifetime
        issued = await self._tokens.issue(conn, Purpose.CONFIRM, address, user_id, lifetime)
        wanted = await self._languages(conn, user_id, languages)
        await self._mail_token(conn, issued, lifetime, wanted, client)

    async def resend_confirmation(
        self, email: str, client: LoginClient, languages: Sequence[str] = ()
    ) -> None:
        """Send the confirmation mail again; the same answer whoever holds the address (the
        sender decides: :meth:`_make_confirmation`)."""
        self.outbox.require()
        await self._throttle.attempt(client.ip, SIGNUP)
        address = self._store.emails.check(email)  # a malformed address: BAD_USER_INPUT
        await self._request(Purpose.CONFIRM, address, client, languages)

    async def _make_confirmation(
        self, conn: AsyncConnection, address: str, data: dict[str, Any]
    ) -> None:
        """The confirmation mail of a request, if the address awaits a confirmation and its
        hourly cap is not reached."""
        user_id = await self._accounts.holder_of(conn, address)
        if user_id is None or not await self._pending.holds(conn, user_id):
            return
        sent = await self._tokens.sent_within_hour(conn, address, Purpose.CONFIRM)
        if sent >= self._userpass.mails_per_address_per_hour:
            return
        client, languages = self._requester(data)
        await self._send_confirmation(conn, user_id, address, client, languages)

    async def confirm(self, token_id: object, token: object, client: LoginClient) -> None:
        """Follow the link of a confirmation mail: the address is confirmed."""
        refuse_after_write(self._store.db)
        await self._throttle.attempt(client.ip, LOGIN)
        await self._confirm_with(token_id, token, client)

    async def _confirm_with(self, token_id: object, token: object, client: LoginClient) -> None:
        """Use a confirmation token (mailed, or given to the confirmation function)."""
        try:
            async with self._store.db.write() as conn:
                row = await self._tokens.take(conn, Purpose.CONFIRM, token_id, token)
                assert row.user_id is not None  # a confirmation names its user
                if await self._accounts.email_of(conn, row.user_id) != row.email:
                    raise InvalidEmailToken()  # the address changed since the mail
                await self._pending.confirm(conn, row.user_id)
                event = AuditEvent(
                    AuditType.EMAIL_CONFIRMED,
                    user_id=row.user_id,
                    ip=client.ip,
                    user_agent=client.user_agent,
                    detail={"purpose": Purpose.CONFIRM.value},
                )
                await self._audit.record(event, conn)
        except InvalidEmailToken as error:
            raise await self._refused(error, Purpose.CONFIRM, client) from None
