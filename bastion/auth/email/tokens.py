"""Tokens sent by mail: random, single use, short-lived, bound to a purpose and an address.

A token has a public id (``tokenId``, as Stitch names it) and a secret (``token``) of 256
random bits from :mod:`secrets`; only the SHA-256 of id and secret together is stored. A
login mail also carries a short numeric code for the same token (one token, two forms): the
code is checked against the newest live login token of the address, in constant time, and
each wrong code spends one of a small budget of attempts, after which the token is dead.

Issuing a token retires the older live ones of the same purpose and address, so only the
newest mail works. Every refusal is the same :class:`InvalidEmailToken` (unknown id, wrong
secret, wrong purpose, expired, used): the answer tells nothing of which.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.errors import BastionError, Code
from bastion.store.auth.email_tokens import EmailTokenRow, EmailTokenRows
from bastion.store.ids import is_id, new_id
from bastion.tools.clock import Clock

MAX_TOKEN_LENGTH = 100  # a token is 43 characters; anything much longer is refused unread
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
_CODE = re.compile(r"^[0-9]{6,10}$")
_DUMMY = hashlib.sha256(b"no such token").hexdigest()


class Purpose(StrEnum):
    """What a token may be used for; a token of one purpose is refused by every other."""

    CONFIRM = "confirm"
    RESET = "reset"
    LOGIN = "login"
    EMAIL_CHANGE = "email_change"


class InvalidEmailToken(BastionError):
    """The one answer to a token or code that cannot be used."""

    code = Code.INVALID_EMAIL_TOKEN

    def __init__(self) -> None:
        super().__init__("The token is invalid or has expired; ask for a new mail")


@dataclass(frozen=True)
class Issued:
    """A token just made: what the mail carries (never stored as such)."""

    token_id: str
    token: str
    code: str | None
    row: EmailTokenRow


def _digest(token_id: str, kind: str, secret: str) -> str:
    # The id is part of the digest: a secret is bound to its row, and two rows never share one.
    return hashlib.sha256(f"{token_id}:{kind}:{secret}".encode()).hexdigest()


def _same(stored: str | None, token_id: str, kind: str, secret: str) -> bool:
    return hmac.compare_digest(stored or _DUMMY, _digest(token_id, kind, secret))


class EmailTokens:
    """Issue and take tokens over their rows."""

    def __init__(self, rows: EmailTokenRows, clock: Clock) -> None:
        self._rows = rows
        self._clock = clock

    async def issue(
        self,
        conn: AsyncConnection,
        purpose: Purpose,
        email: str,
        user_id: str | None,
        lifetime: int,
        code_digits: int | None = None,
    ) -> Issued:
        """A new token for ``email`` (in its normal form); older live ones of the purpose end."""
        now = self._clock()
        # Tokens a day past their end serve nobody (the hourly caps look back an hour).
        await self._rows.prune(conn, now - timedelta(days=1))
        await self._rows.retire(conn, email, purpose, now)
        token_id, token = new_id(), secrets.token_urlsafe(32)
        code = None
        if code_digits is not None:
            code = str(secrets.randbelow(10**code_digits)).zfill(code_digits)
        row = EmailTokenRow(
            id=token_id,
            purpose=purpose,
            email=email,
            user_id=user_id,
            token_hash=_digest(token_id, "token", token),
            code_hash=_digest(token_id, "code", code) if code is not None else None,
            created_at=now,
            expires_at=now + timedelta(seconds=lifetime),
            used_at=None,
            attempts=0,
        )
        await self._rows.add(conn, row)
        return Issued(token_id, token, code, row)

    async def sent_within_hour(self, conn: AsyncConnection, email: str, purpose: Purpose) -> int:
        """How many tokens of ``purpose`` went to ``email`` in the last hour."""
        since = self._clock() - timedelta(hours=1)
        return await self._rows.sent_since(conn, email, purpose, since)

    async def check(
        self, conn: AsyncConnection, purpose: Purpose, token_id: object, token: object
    ) -> EmailTokenRow:
        """The live token ``token_id`` of ``purpose`` whose secret is ``token``, unused yet;
        InvalidEmailToken otherwise. Nothing is written."""
        if not isinstance(token_id, str) or not isinstance(token, str):
            raise InvalidEmailToken()
        valid_shape = is_id(token_id) and _TOKEN.match(token) is not None
        row = await self._rows.get(conn, token_id) if valid_shape else None
        # Compared even when there is no row, so that an unknown id costs the same.
        matches = _same(row.token_hash if row else None, token_id, "token", token)
        if row is None or not matches or not self._live(row, purpose):
            raise InvalidEmailToken()
        return row

    async def take(
        self, conn: AsyncConnection, purpose: Purpose, token_id: object, token: object
    ) -> EmailTokenRow:
        """:meth:`check`, then mark the token used in the caller's transaction."""
        row = await self.check(conn, purpose, token_id, token)
        await self.use(conn, row)
        return row

    async def use(self, conn: AsyncConnection, row: EmailTokenRow) -> None:
        """Mark ``row`` used; InvalidEmailToken when a concurrent use came first."""
        if not await self._rows.use(conn, row.id, self._clock()):
            raise InvalidEmailToken()

    async def count_code_attempt(
        self, conn: AsyncConnection, email: str, budget: int
    ) -> EmailTokenRow | None:
        """Spend one attempt of the newest live login token of ``email``: the row while its
        budget lasts; None when there is none or the budget is spent (the token then ends)."""
        now = self._clock()
        row = await self._rows.latest(conn, email, Purpose.LOGIN, now)
        if row is None or row.code_hash is None:
            return None
        if await self._rows.count_attempt(conn, row.id) > budget:
            await self._rows.use(conn, row.id, now)
            return None
        return row

    @staticmethod
    def code_matches(row: EmailTokenRow | None, code: object) -> bool:
        """Whether ``code`` is the code of ``row``, compared in constant time."""
        if row is None or not isinstance(code, str) or _CODE.match(code) is None:
            _same(None, "", "code", "")  # the same work as a comparison
            return False
        return _same(row.code_hash, row.id, "code", code)

    def _live(self, row: EmailTokenRow, purpose: Purpose) -> bool:
        return row.purpose == purpose and row.used_at is None and row.expires_at > self._clock()
