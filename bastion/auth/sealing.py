"""Sealing secrets at rest: AES-256-GCM under a key derived from the server secret for this
project and this purpose (:mod:`bastion.auth.derived`).

A copy of the database alone gives no TOTP secret (purpose ``totp-secret``, bound to the
user's id) and no private signing key (``signing-key``, bound to its kid). What a value is
bound to is the associated data, so a sealed value moved to another row does not open.
"""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bastion.auth.derived import DerivedSecrets

_NONCE_BYTES = 12
_VERSION = b"\x01"


class Sealer:
    """Seals and opens small secrets, each bound to the row that holds it."""

    def __init__(self, derived: DerivedSecrets, purpose: str) -> None:
        self._derived = derived
        self._purpose = purpose

    def _aead(self) -> AESGCM:
        # Derived on use: the project's salt is known only once the service started.
        return AESGCM(self._derived.derive(self._purpose, b"sealing key"))

    def seal(self, bound_to: str, secret: bytes) -> bytes:
        """``secret`` encrypted for the row named ``bound_to`` (a user's id, a kid)."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return _VERSION + nonce + self._aead().encrypt(nonce, secret, bound_to.encode())

    def open(self, bound_to: str, sealed: bytes) -> bytes | None:
        """The secret, or None when ``sealed`` is not one sealed for ``bound_to`` here."""
        if sealed[:1] != _VERSION or len(sealed) < 1 + _NONCE_BYTES + 16:
            return None
        nonce, body = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return self._aead().decrypt(nonce, body, bound_to.encode())
        except InvalidTag:
            return None
