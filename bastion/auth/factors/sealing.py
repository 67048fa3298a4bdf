"""Sealing second-factor secrets at rest: AES-256-GCM under a key derived from the server
secret for this project and this purpose (:mod:`bastion.auth.derived`).

A copy of the database alone gives no TOTP secret. The user's id is the associated data,
so a sealed secret moved to another user's row does not open.
"""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bastion.auth.derived import DerivedSecrets

_NONCE_BYTES = 12
_VERSION = b"\x01"


class Sealer:
    """Seals and opens small secrets bound to a user."""

    def __init__(self, derived: DerivedSecrets, purpose: str) -> None:
        self._derived = derived
        self._purpose = purpose

    def _aead(self) -> AESGCM:
        # Derived on use: the project's salt is known only once the service started.
        return AESGCM(self._derived.derive(self._purpose, b"sealing key"))

    def seal(self, user_id: str, secret: bytes) -> bytes:
        """``secret`` encrypted for ``user_id``'s row."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return _VERSION + nonce + self._aead().encrypt(nonce, secret, user_id.encode())

    def open(self, user_id: str, sealed: bytes) -> bytes | None:
        """The secret, or None when ``sealed`` is not one sealed for ``user_id`` here."""
        if sealed[:1] != _VERSION or len(sealed) < 1 + _NONCE_BYTES + 16:
            return None
        nonce, body = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return self._aead().decrypt(nonce, body, user_id.encode())
        except InvalidTag:
            return None
