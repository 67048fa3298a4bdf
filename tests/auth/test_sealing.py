"""TOTP secrets sealed at rest: AES-GCM bound to the user, under a derived key."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from bastion.auth.sealing import Sealer


class _Derived:
    def __init__(self, key: bytes) -> None:
        self.key = key

    def derive(self, purpose: str, message: bytes) -> bytes:
        return hmac.new(self.key + purpose.encode(), message, hashlib.sha256).digest()


def _sealer(key: bytes = b"k" * 32, purpose: str = "totp-secret") -> Sealer:
    derived: Any = _Derived(key)
    return Sealer(derived, purpose)


def test_a_sealed_secret_opens_for_its_user_only() -> None:
    sealer = _sealer()
    sealed = sealer.seal("user-1", b"JBSWY3DPEHPK3PXP")
    assert b"JBSWY3DPEHPK3PXP" not in sealed
    assert sealer.open("user-1", sealed) == b"JBSWY3DPEHPK3PXP"
    assert sealer.open("user-2", sealed) is None  # moved to another user's row


def test_another_key_or_purpose_opens_nothing() -> None:
    sealed = _sealer().seal("user-1", b"secret")
    assert _sealer(key=b"x" * 32).open("user-1", sealed) is None
    assert _sealer(purpose="other").open("user-1", sealed) is None


def test_damaged_or_short_values_open_nothing() -> None:
    sealer = _sealer()
    sealed = sealer.seal("user-1", b"secret")
    assert sealer.open("user-1", sealed[:-1] + bytes([sealed[-1] ^ 1])) is None
    assert sealer.open("user-1", b"\x01short") is None
    assert sealer.open("user-1", b"\x02" + sealed[1:]) is None
    assert sealer.seal("user-1", b"secret") != sealed  # a fresh nonce each time
