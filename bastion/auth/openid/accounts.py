"""Which user an OpenID identity signs in as, and when it may join an existing one.

- An identity seen before signs in as its user.
- A caller already logged in (an access token) adds the identity to their user: they proved
  that account. The provider must vouch for the email (``email_verified``), or the identity
  is refused: an address nobody checked proves nothing. An anonymous user keeps their id and
  data, and gets the address if nobody holds it.
- Otherwise a new user is made with the verified address, unless someone holds it: then the
  sign-in is refused with ``CONFLICT`` (``reason: ACCOUNT_EXISTS``), and the person logs in to
  that account and links the provider from there. An unverified address is never used: the
  new user has no email, and no existing account is touched.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.auth.accounts import Accounts, InvalidCredentials
from bastion.auth.identities import ANONYMOUS, Identities
from bastion.auth.openid.identity import OpenIdIdentity
from bastion.auth.providers.user_fields import UserFields
from bastion.errors import BastionError, Code, Conflict
from bastion.store import Store


class AccountExists(Conflict):
    """The verified address belongs to an account this identity is not linked to."""

    def __init__(self) -> None:
        super().__init__(
            "An account with this email exists: log in to it, then link this provider",
            reason="ACCOUNT_EXISTS",
        )


class EmailNotVerified(BastionError):
    """Linking an identity whose provider does not vouch for its address."""

    code = Code.FORBIDDEN

    def __init__(self) -> None:
        super().__init__(
            "The provider has not verified this email: it cannot be linked", reason="UNVERIFIED"
        )


class OpenIdAccounts:
    """The users OpenID identities sign in as."""

    def __init__(self, store: Store, accounts: Accounts, identities: Identities) -> None:
        self._store = store
        self._accounts = accounts
        self._identities = identities

    async def resolve(
        self,
        conn: AsyncConnection,
        identity: OpenIdIdentity,
        fields: UserFields,
        mapping: dict[str, str],
        *,
        viewer_user_id: str | None,
        link: bool,
        signup: bool,
    ) -> str:
        """The user ``identity`` signs in as (made or linked as the rules say).

        ``link``: the logged-in viewer asks to add the identity to their user. Without it, an
        anonymous viewer's user takes a new identity (keeping their id and data), and any
        other viewer is ignored.
        """
        values = fields.fit(identity.fields(mapping))
        owner = await self._identities.owner(conn, identity.provider, identity.subject)
        upgrade = (
            not link
            and viewer_user_id is not None
            and await self._is_anonymous(conn, viewer_user_id)
        )
        if owner is not None:
            if link and viewer_user_id != owner:
                raise Conflict("This identity belongs to another user")
            if not await self._accounts.is_active(conn, owner):
                raise InvalidCredentials()
            await self._identities.set_data(
                conn, identity.provider, identity.subject, _data(identity)
            )
            if values:
                await self._store.writer.update(conn, "User", owner, values)
            return owner
        email = self._store.emails.check(identity.email) if identity.email else None
        holder = await self._accounts.holder_of(conn, email) if email else None
        if viewer_user_id is not None and (link or upgrade):
            if email is None and link:
                raise EmailNotVerified()
            if holder not in (None, viewer_user_id):
                raise AccountExists()
            mine = await self._accounts.email_of(conn, viewer_user_id)
            if email is not None and holder is None and mine is None:
                values["email"] = email  # an anonymous user gets the address
            await self._identities.add(
                conn, viewer_user_id, identity.provider, identity.subject, _data(identity)
            )
            if values:
                await self._store.writer.update(conn, "User", viewer_user_id, values)
            return viewer_user_id
        if holder is not None:
            raise AccountExists()
        if not signup:
            raise BastionError("Sign-up is disabled for this provider", Code.FORBIDDEN)
        if email is not None:
            values["email"] = email
        user_id = await self._store.writer.create(conn, "User", values)
        await self._identities.add(
            conn, user_id, identity.provider, identity.subject, _data(identity)
        )
        return user_id

    async def _is_anonymous(self, conn: AsyncConnection, user_id: str) -> bool:
        """Whether the user has nothing but an anonymous login (no password, no address)."""
        found = {i.provider for i in await self._identities.of(conn, user_id)}
        if found != {ANONYMOUS}:
            return False
        return await self._accounts.email_of(conn, user_id) is None


def _data(identity: OpenIdIdentity) -> dict[str, Any]:
    return {"claims": identity.claims}
