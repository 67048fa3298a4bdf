"""Logging in with a code or a link sent by mail (``auth.providers.email-code``).

One mail carries one token in two forms: a short numeric code to type, and a link holding
the token's id and secret. Asking for a mail answers the same whether the address has an
account or not; with ``signup`` on, the first login of an address nobody holds makes its
user. A wrong code spends one attempt of the mail's small budget and counts as a failure of
the account in the throttle (:mod:`bastion.auth.throttle`), like a wrong password; codes are
compared in constant time. A login by mail proves the address, so it also confirms it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.auth.accounts import InvalidCredentials
from bastion.auth.audit import AuditEvent, AuditType
from bastion.auth.email.base import EmailFlowsBase
from bastion.auth.email.tokens import InvalidEmailToken, Purpose
from bastion.auth.logins import LoggedIn, LoginClient, ProviderDisabled
from bastion.auth.sessions import Start
from bastion.auth.sessions.values import refuse_after_write
from bastion.auth.throttle import LOGIN, SIGNUP, account_key
from bastion.errors import BadUserInput

EMAIL_CODE = "email-code"
"""The provider's name, in ``auth.providers`` and in sessions and audit events."""


class CodeLogins(EmailFlowsBase):
    """Login by emailed code or link."""

    def _require_codes(self) -> None:
        if not self.providers.email_code.enabled:
            raise ProviderDisabled(EMAIL_CODE)
        self.outbox.require()

    async def send_login_code(
        self, email: str, client: LoginClient, languages: Sequence[str] = ()
    ) -> None:
        """Mail a login code and link to ``email``: to its user, or to make one at the first
        login when sign-up is on; otherwise nothing is sent. The request is queued the same
        way in every case; the sender decides (:meth:`_make_login`)."""
        self._require_codes()
        await self._throttle.attempt(client.ip, SIGNUP)
        address = self._store.emails.check(email)  # a malformed address: BAD_USER_INPUT
        await self._request(Purpose.LOGIN, address, client, languages)

    async def _make_login(self, conn: AsyncConnection, address: str, data: dict[str, Any]) -> None:
        config = self.providers.email_code
        user_id = await self._accounts.holder_of(conn, address)
        if user_id is None:
            allowed = config.signup
        else:
            allowed = await self._accounts.is_active(conn, user_id)
        sent = await self._tokens.sent_within_hour(conn, address, Purpose.LOGIN)
        if not allowed or sent >= self._userpass.mails_per_address_per_hour:
            return
        client, languages = self._requester(data)
        issued = await self._tokens.issue(
            conn, Purpose.LOGIN, address, user_id, config.lifetime, config.code_digits
        )
        wanted = await self._languages(conn, user_id, languages)
        await self._mail_token(conn, issued, config.lifetime, wanted, client)

    async def login_with_code(
        self,
        client: LoginClient,
        *,
        email: str | None = None,
        code: str | None = None,
        token_id: str | None = None,
        token: str | None = None,
    ) -> LoggedIn:
        """Log in with the code typed (``email`` and ``code``) or the link followed
        (``token_id`` and ``token``)."""
        self._require_codes()
        refuse_after_write(self._store.db)
        await self._throttle.attempt(client.ip, LOGIN)
        try:
            if token_id is not None or token is not None:
                return await self._login_by_link(client, token_id, token)
            if email is None or code is None:
                raise BadUserInput("Give email and code, or tokenId and token")
            return await self._login_by_code(client, email, code)
        except InvalidEmailToken as error:
            raise await self._refused(error, Purpose.LOGIN, client) from None

    async def _login_by_code(self, client: LoginClient, email: str, code: str) -> LoggedIn:
        address = self._store.emails.check(email)
        account = account_key(email=address)
        await self._throttle.gate(account)
        # The attempt is counted in a transaction of its own, committed whatever the answer.
        async with self._store.db.write() as conn:
            row = await self._tokens.count_code_attempt(
                conn, address, self.providers.email_code.code_attempts
            )
        if not self._tokens.code_matches(row, code):
            await self._throttle.failed(account)
            raise InvalidEmailToken()
        assert row is not None
        async with self._store.db.write() as conn:
            await self._tokens.use(conn, row)
            await self._throttle.succeeded_in(conn, account)
            return await self._start_for(conn, row.email, client)

    async def _login_by_link(
        self, client: LoginClient, token_id: str | None, token: str | None
    ) -> LoggedIn:
        async with self._store.db.write() as conn:
            row = await self._tokens.take(conn, Purpose.LOGIN, token_id, token)
            return await self._start_for(conn, row.email, client)

    async def _start_for(self, conn: AsyncConnection, email: str, client: LoginClient) -> LoggedIn:
        user_id = await self._accounts.holder_of(conn, email)
        if user_id is None:
            if not self.providers.email_code.signup:
                raise InvalidEmailToken()  # the user went since the mail
            user_id = await self._store.writer.create(conn, "User", {"email": email})
            await self._identities.add(conn, user_id, EMAIL_CODE, user_id)
        elif not await self._accounts.is_active(conn, user_id):
            raise InvalidCredentials()
        await self._pending.confirm(conn, user_id)
        event = AuditEvent(
            AuditType.EMAIL_CONFIRMED,
            user_id=user_id,
            ip=client.ip,
            user_agent=client.user_agent,
            detail={"purpose": Purpose.LOGIN.value},
        )
        await self._audit.record(event, conn)
        return await self._logins.start_in(conn, Start(user_id, EMAIL_CODE), client)
