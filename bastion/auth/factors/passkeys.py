"""Passkeys (WebAuthn, with py_webauthn): registering one, and the assertions that log in.

- Registration asks for a discoverable credential (a resident key) and user verification
  (a PIN or a biometric on the device), so one passkey is two factors and needs no email
  typed to log in.
- Each ceremony's challenge is random, stored as a digest, answered once, within
  ``auth.passkeys.challenge_lifetime``; the answer is found by the challenge the browser
  signed (in its clientDataJSON).
- The answer must come from one of ``auth.passkeys.origins`` for ``rp_id`` (the library
  checks the signed origin and the relying party's hash), with the user verified, and the
  signature counter must move forward (a cloned authenticator shows an old one).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from bastion.auth.passkey_settings import PasskeyConfig
from bastion.errors import BadUserInput, BastionError, Code, Conflict, NotFound
from bastion.store.auth.passkey_rows import ChallengeRow, PasskeyRow, PasskeyRows
from bastion.store.database import Database
from bastion.tools.clock import Clock

WEBAUTHN = "webauthn"
"""The factor's name, on sessions and in challenges."""
PASSKEY = "passkey"
"""The provider name of a passkey login (its session's provider)."""
MAX_CREDENTIAL_LENGTH = 32_768
REGISTER, LOGIN, MFA = "register", "login", "mfa"


class PasskeyRefused(BastionError):
    """An answer that does not prove the passkey: wrong origin, challenge, signature..."""

    code = Code.INVALID_CREDENTIALS

    def __init__(self, reason: str) -> None:
        super().__init__("Invalid passkey", reason=reason)
        self.reason = reason


@dataclass(frozen=True)
class Passkey:
    """A passkey as its user sees it."""

    id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _digest(challenge: bytes) -> str:
    return hashlib.sha256(challenge).hexdigest()


def _parsed(credential: str) -> dict[str, Any]:
    """The credential JSON (``PublicKeyCredential.toJSON()``), size-checked."""
    if not 0 < len(credential) <= MAX_CREDENTIAL_LENGTH:
        raise BadUserInput(
            "credential must be the JSON of a PublicKeyCredential", field="credential"
        )
    try:
        parsed = json.loads(credential)
        client_data = json.loads(_unb64(parsed["response"]["clientDataJSON"]))
        parsed["_challenge"] = _unb64(client_data["challenge"])
        parsed["_raw_id"] = str(parsed["rawId"])
    except (ValueError, KeyError, TypeError) as error:
        raise PasskeyRefused("malformed") from error
    if not isinstance(parsed, dict):
        raise PasskeyRefused("malformed")
    return parsed


def _public(row: PasskeyRow) -> Passkey:
    return Passkey(row.id, row.name, row.created_at, row.last_used_at)


class Passkeys:
    """The passkeys of one project."""

    def __init__(
        self, config: PasskeyConfig, db: Database, rows: PasskeyRows, clock: Clock, rp_name: str
    ) -> None:
        assert config.rp_id is not None  # the settings make sure when enabled
        self._config = config
        self._rp_id = config.rp_id
        self._rp_name = config.rp_name or rp_name
        self._db = db
        self._rows = rows
        self._clock = clock

    async def _challenge(self, conn: AsyncConnection, purpose: str, user_id: str | None) -> bytes:
        challenge = secrets.token_bytes(32)
        now = self._clock()
        expires = now + timedelta(seconds=self._config.challenge_lifetime)
        await self._rows.add_challenge(
            conn, ChallengeRow(_digest(challenge), purpose, user_id, expires), now
        )
        return challenge

    async def _take(self, challenge: bytes, purpose: str) -> ChallengeRow:
        async with self._db.write() as conn:
            row = await self._rows.take_challenge(conn, _digest(challenge))
        if row is None or row.purpose != purpose or row.expires_at <= self._clock():
            raise PasskeyRefused("unknown or expired challenge")
        return row

    # -- the user's passkeys ------------------------------------------------------------------

    async def has_any(self, conn: AsyncConnection, user_id: str) -> bool:
        """Whether the user holds a passkey (then it is one of their second factors)."""
        return await self._rows.count(conn, user_id) > 0

    async def of(self, user_id: str) -> list[Passkey]:
        """The user's passkeys."""
        async with self._db.read() as conn:
            return [_public(r) for r in await self._rows.of(conn, user_id)]

    async def delete(self, user_id: str, credential_id: str) -> None:
        """Remove one of the user's passkeys (another user's answers NOT_FOUND)."""
        async with self._db.write() as conn:
            if not await self._rows.remove(conn, user_id, credential_id):
                raise NotFound("No such passkey")

    # -- registering ----------------------------------------------------------------------------

    async def registration_options(self, user_id: str, user_name: str) -> str:
        """The options of ``navigator.credentials.create()`` (JSON), for the user."""
        async with self._db.write() as conn:
            held = await self._rows.of(conn, user_id)
            if len(held) >= self._config.max_per_user:
                raise Conflict("This user holds as many passkeys as allowed")
            challenge = await self._challenge(conn, REGISTER, user_id)
        options = generate_registration_options(
            rp_id=self._rp_id,
            rp_name=self._rp_name,
            user_id=user_id.encode(),
            user_name=user_name,
            user_display_name=user_name,
            challenge=challenge,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            exclude_credentials=[PublicKeyCredentialDescriptor(id=_unb64(r.id)) for r in held],
        )
        return options_to_json(options)

    async def register(self, user_id: str, credential: str, name: str | None) -> Passkey:
        """Store the passkey ``credential`` (the answer to the user's options) proves."""
        parsed = _parsed(credential)
        row = await self._take(parsed["_challenge"], REGISTER)
        if row.user_id != user_id:
            raise PasskeyRefused("challenge of another user")
        try:
            verified = verify_registration_response(
                credential=credential,
                expected_challenge=parsed["_challenge"],
                expected_rp_id=self._rp_id,
                expected_origin=self._config.origins,
                require_user_verification=True,
            )
        except WebAuthnException as error:
            raise PasskeyRefused(str(error)[:200]) from error
        transports = parsed.get("response", {}).get("transports") or []
        now = self._clock()
        passkey = PasskeyRow(
            id=_b64(verified.credential_id),
            user_id=user_id,
            name=(name or "Passkey")[:100],
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            transports=[str(t) for t in transports][:10],
            created_at=now,
            last_used_at=None,
        )
        async with self._db.write() as conn:
            if await self._rows.get(conn, passkey.id) is not None:
                raise Conflict("This passkey is registered already")
            await self._rows.add(conn, passkey)
        return _public(passkey)

    # -- logging in -----------------------------------------------------------------------------

    async def login_options(self, user_id: str | None = None) -> str:
        """The options of ``navigator.credentials.get()`` (JSON): any discoverable passkey,
        or, as the second factor of ``user_id``'s login, one of theirs."""
        async with self._db.write() as conn:
            allowed = await self._rows.of(conn, user_id) if user_id else []
            challenge = await self._challenge(conn, MFA if user_id else LOGIN, user_id)
        options = generate_authentication_options(
            rp_id=self._rp_id,
            challenge=challenge,
            allow_credentials=[
                PublicKeyCredentialDescriptor(
                    id=_unb64(r.id),
                    transports=[AuthenticatorTransport(t) for t in r.transports if t in _KNOWN],
                )
                for r in allowed
            ],
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        return options_to_json(options)

    async def verify(self, credential: str, user_id: str | None = None) -> str:
        """The user a passkey assertion proves (for ``user_id``'s second factor, when given)."""
        parsed = _parsed(credential)
        row = await self._take(parsed["_challenge"], MFA if user_id else LOGIN)
        if row.user_id != user_id:
            raise PasskeyRefused("challenge of another login")
        async with self._db.read() as conn:
            passkey = await self._rows.get(conn, parsed["_raw_id"])
        if passkey is None or (user_id is not None and passkey.user_id != user_id):
            raise PasskeyRefused("unknown passkey")
        handle = parsed.get("response", {}).get("userHandle")
        if handle and _unb64(handle) != passkey.user_id.encode():
            raise PasskeyRefused("user handle")
        try:
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=parsed["_challenge"],
                expected_rp_id=self._rp_id,
                expected_origin=self._config.origins,
                credential_public_key=passkey.public_key,
                credential_current_sign_count=passkey.sign_count,
                require_user_verification=True,
            )
        except WebAuthnException as error:
            raise PasskeyRefused(str(error)[:200]) from error
        async with self._db.write() as conn:
            moved = await self._rows.used(
                conn, passkey.id, passkey.sign_count, verified.new_sign_count, self._clock()
            )
        if not moved:
            raise PasskeyRefused("used concurrently")
        return passkey.user_id


_KNOWN = {t.value for t in AuthenticatorTransport}
