"""Password rules and argon2id hashing (argon2-cffi).

Hashing runs in a worker thread so a login does not stall the event loop for its ~20 ms.
An unknown account is verified against a dummy hash, so that "no such user" takes as long
as "wrong password".
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from bastion.auth.settings import PasswordHashConfig
from bastion.errors import BadUserInput

MAX_PASSWORD_BYTES = 1024


def check_password_rules(password: str, min_length: int) -> None:
    """Refuse a new password that is too short or too long; any Unicode is fine."""
    try:
        size = len(password.encode("utf-8"))
    except UnicodeEncodeError:
        raise BadUserInput("The password is not valid Unicode text") from None
    if size > MAX_PASSWORD_BYTES:
        raise BadUserInput(f"The password must be at most {MAX_PASSWORD_BYTES} bytes")
    if len(password) < min_length:
        raise BadUserInput(f"The password must be at least {min_length} characters")


class Passwords:
    """Hash and verify passwords with one set of argon2id parameters."""

    def __init__(self, config: PasswordHashConfig) -> None:
        self._hasher = PasswordHasher(
            time_cost=config.time_cost,
            memory_cost=config.memory_cost,
            parallelism=config.parallelism,
            type=Type.ID,
        )
        self._dummy = self._hasher.hash("bastion-dummy-password")

    async def hash(self, password: str) -> str:
        """A new argon2id hash of ``password``."""
        return await asyncio.to_thread(self._hasher.hash, password)

    def _verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored``; None (no account) still costs a hash."""
        try:
            too_long = len(password.encode("utf-8")) > MAX_PASSWORD_BYTES
        except UnicodeEncodeError:  # lone surrogates: no stored password can match
            too_long = True
        if too_long:
            # Never hash oversized input; run the dummy so the timing stays the same.
            await asyncio.to_thread(self._verify, None, "x")
            return False
        return await asyncio.to_thread(self._verify, stored, password)

    def needs_rehash(self, stored: str) -> bool:
        """True when ``stored`` was made with other parameters than the current ones."""
        return self._hasher.check_needs_rehash(stored)
