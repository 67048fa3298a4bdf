"""The TOTP authenticator (RFC 6238, through pyotp) and its recovery codes.

- Enrolling makes a secret, sealed at rest (:mod:`bastion.auth.sealing`) and shown
  once as an ``otpauth://`` URI; it counts only once a code from the app confirms it, which
  answers the recovery codes, shown once too and kept as keyed digests.
- A code is accepted for its 30-second step and one step either side (clocks drift), and
  never twice: the step it matched must be later than the last one taken, in one UPDATE.
- A recovery code stands in for a code once.
- Turning the factor off takes a valid code (or recovery code): a stolen session alone
  cannot remove it.

Every check is throttled per user (the login throttle's lock and delays) by the caller.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import pyotp
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.auth.derived import DerivedSecrets
from bastion.auth.sealing import Sealer
from bastion.errors import BadUserInput, BastionError, Code, Conflict
from bastion.store.auth.factors import RecoveryCodeRows, TotpRows
from bastion.store.database import Database
from bastion.tools.clock import Clock

TOTP = "totp"
"""The factor's name, in challenges and on sessions."""
STEP_SECONDS = 30
DIGITS = 6
MAX_CODE_LENGTH = 64
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
_RECOVERY_GROUPS = 3
_RECOVERY_GROUP_LENGTH = 4


class InvalidCode(BastionError):
    """A code that is wrong, expired, or used already."""

    code = Code.INVALID_CREDENTIALS

    def __init__(self) -> None:
        super().__init__("Invalid code")


@dataclass(frozen=True)
class Enrolment:
    """A new authenticator's secret, to be typed or scanned into the app."""

    secret: str  # base32, as apps take it typed
    uri: str  # otpauth://totp/..., what a QR code holds


@dataclass(frozen=True)
class TotpStatus:
    """What the user sees of their authenticator."""

    enrolled: bool
    confirmed: bool
    recovery_codes_left: int


def _normal_code(code: str) -> str:
    if len(code) > MAX_CODE_LENGTH:
        raise BadUserInput("A code is at most 64 characters", field="code")
    return re.sub(r"[\s-]", "", code).lower()


def _new_recovery_code() -> str:
    groups = (
        "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_GROUP_LENGTH))
        for _ in range(_RECOVERY_GROUPS)
    )
    return "-".join(groups)


class Totp:
    """The authenticators and recovery codes of one project."""

    def __init__(
        self,
        db: Database,
        rows: TotpRows,
        codes: RecoveryCodeRows,
        derived: DerivedSecrets,
        clock: Clock,
        issuer: str,
        recovery_count: int,
    ) -> None:
        self._db = db
        self._rows = rows
        self._codes = codes
        self._derived = derived
        self._sealer = Sealer(derived, "totp-secret")
        self._clock = clock
        self._issuer = issuer
        self._recovery_count = recovery_count

    # -- state ------------------------------------------------------------------------------

    async def confirmed(self, conn: AsyncConnection, user_id: str) -> bool:
        """Whether the user has a confirmed authenticator (their logins need a code)."""
        row = await self._rows.get(conn, user_id)
        return row is not None and row.confirmed_at is not None

    async def status(self, conn: AsyncConnection, user_id: str) -> TotpStatus:
        """The user's authenticator as they see it."""
        row = await self._rows.get(conn, user_id)
        left = await self._codes.count(conn, user_id)
        return TotpStatus(row is not None, row is not None and row.confirmed_at is not None, left)

    # -- enrolling --------------------------------------------------------------------------

    async def enrol(self, user_id: str, account: str) -> Enrolment:
        """A new secret for the user (replacing one not yet confirmed)."""
        secret = pyotp.random_base32()
        async with self._db.write() as conn:
            row = await self._rows.get(conn, user_id)
            if row is not None and row.confirmed_at is not None:
                raise Conflict("An authenticator is set up already; disable it first")
            sealed = self._sealer.seal(user_id, secret.encode())
            await self._rows.replace(conn, user_id, sealed, self._clock())
        uri = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
            name=account, issuer_name=self._issuer
        )
        return Enrolment(secret, uri)

    async def confirm(self, user_id: str, code: str) -> list[str]:
        """Confirm the enrolled secret with a code from the app; the new recovery codes."""
        async with self._db.write() as conn:
            row = await self._rows.get(conn, user_id)
            if row is None:
                raise BastionError("Enrol an authenticator first", Code.BAD_REQUEST)
            if row.confirmed_at is not None:
                raise Conflict("The authenticator is confirmed already")
            if not await self._take_totp(conn, user_id, row.sealed_secret, code):
                raise InvalidCode()
            await self._rows.confirm(conn, user_id, self._clock())
            return await self._new_recovery_codes(conn, user_id)

    async def new_recovery_codes(self, user_id: str, code: str) -> list[str]:
        """Replace the recovery codes, proven by a current code."""
        async with self._db.write() as conn:
            if not await self.check(conn, user_id, code, recovery=False):
                raise InvalidCode()
            return await self._new_recovery_codes(conn, user_id)

    async def disable(self, user_id: str, code: str) -> None:
        """Remove the authenticator and its recovery codes, proven by a code or recovery code."""
        async with self._db.write() as conn:
            if not await self.check(conn, user_id, code):
                raise InvalidCode()
            await self._rows.remove(conn, user_id)
            await self._codes.remove(conn, user_id)

    # -- checking ---------------------------------------------------------------------------

    async def check(
        self, conn: AsyncConnection, user_id: str, code: str, *, recovery: bool = True
    ) -> bool:
        """Whether ``code`` is a current code of the user's confirmed authenticator (taking
        its step) or, when ``recovery``, one of their recovery codes (using it up)."""
        normal = _normal_code(code)
        row = await self._rows.get(conn, user_id)
        if row is None or row.confirmed_at is None:
            return False
        if normal.isdigit() and len(normal) == DIGITS:
            return await self._take_totp(conn, user_id, row.sealed_secret, normal)
        if recovery:
            return await self._codes.take(conn, user_id, self._digest(user_id, normal))
        return False

    async def _take_totp(
        self, conn: AsyncConnection, user_id: str, sealed: bytes, code: str
    ) -> bool:
        secret = self._sealer.open(user_id, sealed)
        if secret is None:
            return False  # sealed under another server secret: the factor cannot be checked
        totp = pyotp.TOTP(secret.decode(), digits=DIGITS, interval=STEP_SECONDS)
        now_step = int(self._clock().timestamp()) // STEP_SECONDS
        code = _normal_code(code)
        matched = [
            step
            for step in (now_step - 1, now_step, now_step + 1)
            if hmac.compare_digest(totp.generate_otp(step), code)
        ]
        # Each step is compared, matched or not, so the time taken tells nothing.
        return bool(matched) and await self._rows.take_step(conn, user_id, matched[-1])

    async def _new_recovery_codes(self, conn: AsyncConnection, user_id: str) -> list[str]:
        codes = [_new_recovery_code() for _ in range(self._recovery_count)]
        digests = [self._digest(user_id, _normal_code(c)) for c in codes]
        await self._codes.replace(conn, user_id, digests, self._clock())
        return codes

    def _digest(self, user_id: str, normal_code: str) -> str:
        # Keyed and bound to the user: a copy of the table cannot be searched offline.
        message = f"{user_id}\0{normal_code}".encode("utf-8", "surrogatepass")
        return hashlib.sha256(self._derived.derive("recovery-code", message)).hexdigest()
