"""Resetting a forgotten password by mail.

Asking (:meth:`Resets.send_reset`) answers the same whether the address has an account or
not, and does the same work in both cases: the address is checked and a request row is
queued in the outbox. The sender then decides, off the request path, whether an account
holds the address and makes the token and its mail (:meth:`Resets._make_reset`), so neither
the answer nor its time tells which addresses have accounts. Using the token
(:meth:`Resets.reset`) sets the new password, confirms the address, forgets the account's
login failures and ends every session of the user, in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.auth.audit import AuditEvent, AuditType
from bastion.auth.email.base import EmailFlowsBase
from bastion.auth.email.tokens import InvalidEmailToken, Purpose
from bastion.auth.logins import LoginClient
from bastion.auth.sessions.values import refuse_after_write
from bastion.auth.throttle import LOGIN, SIGNUP, account_key


class Resets(EmailFlowsBase):
    """Password reset."""

    async def send_reset(
        self, email: str, client: LoginClient, languages: Sequence[str] = ()
    ) -> None:
        """Mail a reset link to the account holding ``email``, if there is one: the request
        is queued the same way in every case, and the sender decides (:meth:`_make_reset`)."""
        self.outbox.require()
        await self._throttle.attempt(client.ip, SIGNUP)
        address = self._store.emails.check(email)  # a malformed address: BAD_USER_INPUT
        await self._request(Purpose.RESET, address, client, languages)

    async def _make_reset(self, conn: AsyncConnection, address: str, data: dict[str, Any]) -> None:
        """The reset mail of a request, if an active account holds the address and its hourly
        cap is not reached."""
        user_id = await self._accounts.holder_of(conn, address)
        if user_id is None or not await self._accounts.is_active(conn, user_id):
            return
        sent = await self._tokens.sent_within_hour(conn, address, Purpose.RESET)
        if sent >= self._userpass.mails_per_address_per_hour:
            return
        client, languages = self._requester(data)
        lifetime = self._userpass.reset_lifetime
        issued = await self._tokens.issue(conn, Purpose.RESET, address, user_id, lifetime)
        wanted = await self._languages(conn, user_id, languages)
        await self._mail_token(conn, issued, lifetime, wanted, client)

    async def reset(
        self, token_id: object, token: object, password: str, client: LoginClient
    ) -> None:
        """Set a new password with the token of a reset mail; every session of the user ends.

        A password the rules refuse is refused before the token is spent: the user may try
        another with the same link.
        """
        refuse_after_write(self._store.db)
        await self._throttle.attempt(client.ip, LOGIN)
        try:
            async with self._store.db.read() as conn:
                row = await self._tokens.check(conn, Purpose.RESET, token_id, token)
            digest = await self._accounts.hash_new_password(password, row.email)
            async with self._store.db.write() as conn:
                row = await self._tokens.take(conn, Purpose.RESET, token_id, token)
                user_id = row.user_id
                assert user_id is not None  # a reset names its user
                if await self._accounts.email_of(conn, user_id) != row.email:
                    raise InvalidEmailToken()  # the address changed since the mail
                if await self._accounts.password_hash(conn, user_id) is None:
                    await self._accounts.add_password(conn, user_id, digest)
                else:
                    await self._accounts.set_digest(conn, user_id, digest)
                await self._pending.confirm(conn, user_id)
                await self._throttle.succeeded_in(conn, account_key(email=row.email))
                ended = await self._sessions.end_all_in(conn, user_id)
                event = AuditEvent(
                    AuditType.PASSWORD_RESET,
                    user_id=user_id,
                    ip=client.ip,
                    user_agent=client.user_agent,
                    detail={"sessions_ended": len(ended)},
                )
                await self._audit.record(event, conn)
        except InvalidEmailToken as error:
            raise await self._refused(error, Purpose.RESET, client) from None
        self._sessions.announce_ended(ended)
