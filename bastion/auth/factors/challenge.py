"""The challenge a login answers when its user has a second factor.

The first factor (a password, an OpenID identity) was proven; tokens wait for the second.
The challenge is a short-lived token that names the user, the provider and the kind of
session to start, signed with a key derived from the server secret for this project and
purpose, so it needs no row. It proves nothing alone: completing it takes a code that is
single use (:mod:`bastion.auth.factors.totp`) and is throttled per user.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from dataclasses import dataclass

from bastion.auth.derived import DerivedSecrets
from bastion.errors import BastionError, Code
from bastion.tools.clock import Clock

PURPOSE = "mfa-challenge"
MAX_CHALLENGE_LENGTH = 1000


class MfaRequired(BastionError):
    """The login is proven but for its second factor: complete ``challenge`` with a code."""

    code = Code.MFA_REQUIRED

    def __init__(self, challenge: str, factors: list[str]) -> None:
        super().__init__(
            "A second factor is required: complete the login with completeMfaLogin",
            challenge=challenge,
            factors=factors,
        )
        self.challenge = challenge
        self.factors = factors


class ChallengeRefused(BastionError):
    """A challenge that is not one of ours, or expired: log in again."""

    code = Code.INVALID_CREDENTIALS

    def __init__(self) -> None:
        super().__init__("Invalid or expired challenge; log in again")


@dataclass(frozen=True)
class Pending:
    """A login waiting for its second factor."""

    user_id: str
    provider: str
    stitch: bool = False
    device_id: str | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Challenges:
    """Issues and reads the challenges of one project."""

    def __init__(self, derived: DerivedSecrets, clock: Clock, lifetime: int) -> None:
        self._derived = derived
        self._clock = clock
        self._lifetime = lifetime

    def issue(self, pending: Pending) -> str:
        """A challenge for ``pending``, valid for the configured lifetime."""
        expires = int(self._clock().timestamp()) + self._lifetime
        body = json.dumps(
            [pending.user_id, pending.provider, pending.stitch, pending.device_id, expires],
            separators=(",", ":"),
        ).encode()
        return f"{_b64(body)}.{_b64(self._derived.derive(PURPOSE, body))}"

    def read(self, challenge: str) -> Pending:
        """The login ``challenge`` waits for; refused when forged, damaged or expired."""
        if not 0 < len(challenge) <= MAX_CHALLENGE_LENGTH or challenge.count(".") != 1:
            raise ChallengeRefused()
        encoded, _, signature = challenge.partition(".")
        try:
            body, given = _unb64(encoded), _unb64(signature)
        except (binascii.Error, ValueError) as error:
            raise ChallengeRefused() from error
        if not hmac.compare_digest(self._derived.derive(PURPOSE, body), given):
            raise ChallengeRefused()
        user_id, provider, stitch, device_id, expires = json.loads(body)
        if expires <= self._clock().timestamp():
            raise ChallengeRefused()
        return Pending(user_id, provider, bool(stitch), device_id)
