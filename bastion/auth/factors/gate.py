"""Where a login meets the second factor: who needs one, and completing the challenge.

:class:`bastion.auth.logins.Logins` asks :meth:`SecondFactors.required` before it starts a
session of a provider that proves only a first factor (a password, an OpenID identity); an
API key, a custom token (the app's own login decides) and an anonymous login start at once.
"""

from __future__ import annotations

import hashlib

from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.auth.factors.challenge import Challenges, MfaRequired, Pending
from bastion.auth.factors.passkeys import WEBAUTHN, Passkeys
from bastion.auth.factors.totp import TOTP, InvalidCode, Totp
from bastion.auth.throttle import Throttle
from bastion.store.database import Database


def factor_account(user_id: str) -> str:
    """The throttle's key for the second-factor attempts on one user."""
    return hashlib.sha256(f"second-factor:{user_id}".encode()).hexdigest()


class SecondFactors:
    """The second factors of one project, as logins see them."""

    def __init__(
        self,
        db: Database,
        totp: Totp,
        challenges: Challenges,
        throttle: Throttle,
        passkeys: Passkeys | None = None,
    ) -> None:
        self._db = db
        self.totp = totp
        self.passkeys = passkeys  # when auth.passkeys is enabled
        self.challenges = challenges
        self._throttle = throttle

    async def of(self, conn: AsyncConnection, user_id: str) -> list[str]:
        """The confirmed factors of the user (empty: none)."""
        totp = await self.totp.confirmed(conn, user_id)
        return self.counted(
            totp, self.passkeys is not None and await self.passkeys.has_any(conn, user_id)
        )

    def counted(self, totp: bool, passkey: bool) -> list[str]:
        """The factors that count, of a user with a confirmed authenticator app (``totp``)
        and with a passkey (``passkey``), as read beforehand (a password login's read)."""
        found = [TOTP] if totp else []
        if passkey and self.passkeys is not None:
            found.append(WEBAUTHN)
        return found

    async def require(self, conn: AsyncConnection, pending: Pending) -> None:
        """Answer a challenge instead of a session when the user has a second factor."""
        self.challenge(pending, await self.of(conn, pending.user_id))

    def challenge(self, pending: Pending, factors: list[str]) -> None:
        """:meth:`require` with the user's ``factors`` read beforehand (by :meth:`of`)."""
        if factors:
            raise MfaRequired(self.challenges.issue(pending), factors)

    async def complete(self, challenge: str, code: str) -> Pending:
        """The login ``challenge`` waits for, once ``code`` proves its user's factor.

        Each attempt counts as a failure of the user's factor before it is checked (so
        parallel guesses meet the lock together), and a success forgets them.
        """
        pending = self.challenges.read(challenge)
        account = factor_account(pending.user_id)
        await self._throttle.reserve(account)
        async with self._db.write() as conn:
            if not await self.totp.check(conn, pending.user_id, code):
                raise InvalidCode()
            await self._throttle.succeeded_in(conn, account)
        return pending

    async def confirm(self, user_id: str, code: str) -> list[str]:
        """Confirm the user's new authenticator (throttled); their recovery codes."""
        await self._throttle.reserve(factor_account(user_id))
        codes = await self.totp.confirm(user_id, code)
        await self._throttle.succeeded(factor_account(user_id))
        return codes

    async def new_recovery_codes(self, user_id: str, code: str) -> list[str]:
        """New recovery codes, proven by a current code (throttled)."""
        await self._throttle.reserve(factor_account(user_id))
        codes = await self.totp.new_recovery_codes(user_id, code)
        await self._throttle.succeeded(factor_account(user_id))
        return codes

    async def disable_totp(self, user_id: str, code: str) -> None:
        """Remove the authenticator, proven by a code or a recovery code (throttled)."""
        await self._throttle.reserve(factor_account(user_id))
        await self.totp.disable(user_id, code)
        await self._throttle.succeeded(factor_account(user_id))
