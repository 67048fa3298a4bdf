"""Changing a user's address by mail: confirmed at the new address, told to the old one.

Asking (:meth:`EmailChanges.request_email_change`) needs the user's password, throttled and
audited like a login, and mails a link to the new address; nothing changes until the link is
followed (:meth:`EmailChanges.confirm_email_change`), which sets the address, confirms it and
queues a notice to the old address in the same transaction. The immediate ``changeEmail``
field stays for projects without mail.
"""

from __future__ import annotations

from collections.abc import Sequence

from bastion.auth.accounts import InvalidCredentials
from bastion.auth.audit import email_changed
from bastion.auth.email.base import EmailFlowsBase
from bastion.auth.email.tokens import InvalidEmailToken, Purpose
from bastion.auth.events import UserChanged
from bastion.auth.logins import LoginClient
from bastion.auth.sessions.values import refuse_after_write
from bastion.auth.throttle import LOGIN, account_key
from bastion.errors import Conflict


class EmailChanges(EmailFlowsBase):
    """Email change."""

    async def request_email_change(
        self,
        user_id: str,
        password: str,
        new_email: str,
        client: LoginClient,
        languages: Sequence[str] = (),
    ) -> None:
        """Mail a confirmation link to ``new_email``, proven by the user's password."""
        self.outbox.require()
        refuse_after_write(self._store.db)
        await self._throttle.attempt(client.ip, LOGIN)
        address = self._store.emails.check(new_email)  # a bad address costs no hashing
        async with self._store.db.read() as conn:
            current = await self._accounts.email_of(conn, user_id)
            stored = await self._accounts.password_hash(conn, user_id)
        account = account_key(email=current) if current else account_key(username=user_id)
        await self._throttle.gate(account)
        if not await self._accounts.passwords.verify(stored, password):
            await self._throttle.failed(account)
            raise InvalidCredentials()
        if address == current:
            return  # the address they have: nothing to confirm
        lifetime = self._userpass.email_change_lifetime
        async with self._store.db.write() as conn:
            if await self._accounts.holder_of(conn, address) is not None:
                raise Conflict("A User with this email already exists", field="email")
            sent = await self._tokens.sent_within_hour(conn, address, Purpose.EMAIL_CHANGE)
            if sent >= self._userpass.mails_per_address_per_hour:
                return
            issued = await self._tokens.issue(
                conn, Purpose.EMAIL_CHANGE, address, user_id, lifetime
            )
            wanted = await self._languages(conn, user_id, languages)
            await self._mail_token(conn, issued, lifetime, wanted, client)
        self.outbox.wake()

    async def confirm_email_change(
        self, token_id: object, token: object, client: LoginClient, languages: Sequence[str] = ()
    ) -> str:
        """Follow the link of the mail sent to the new address: the user's address is now
        that one, and the old one gets a notice. The user's id comes back."""
        refuse_after_write(self._store.db)
        await self._throttle.attempt(client.ip, LOGIN)
        try:
            async with self._store.db.write() as conn:
                row = await self._tokens.take(conn, Purpose.EMAIL_CHANGE, token_id, token)
                user_id = row.user_id
                assert user_id is not None  # a change names its user
                old = await self._accounts.email_of(conn, user_id)
                if await self._accounts.holder_of(conn, row.email) not in (None, user_id):
                    raise Conflict("A User with this email already exists", field="email")
                await self._store.writer.update(conn, "User", user_id, {"email": row.email})
                await self._pending.confirm(conn, user_id)
                # Cached session states hold the old address: every process must forget them.
                await self._event_log.record(conn, UserChanged(user_id))
                event = email_changed(user_id, "email", ip=client.ip, user_agent=client.user_agent)
                await self._audit.record(event, conn)
                if old and old != row.email:
                    wanted = await self._languages(conn, user_id, languages)
                    context = {"app": self.app_name, "email": old, "new_email": row.email}
                    notice = self.outbox.templates.render("email_changed", wanted, context)
                    await self.outbox.put(conn, "email_changed", old, notice)
        except InvalidEmailToken as error:
            raise await self._refused(error, Purpose.EMAIL_CHANGE, client) from None
        self._events.publish(UserChanged(user_id))
        self.outbox.wake()
        return user_id
