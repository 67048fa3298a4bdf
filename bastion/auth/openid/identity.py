"""What a verified ID token (or a plain OAuth 2 provider's userinfo answer) says about the
person signing in."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PREFIX = "openid:"
"""Identity and session provider names of OpenID providers: ``openid:<name>``."""
MAX_CLAIMS_BYTES = 16_384


def provider_name(name: str) -> str:
    """The identity provider name of the configured provider ``name``."""
    return PREFIX + name


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The value at the dotted ``path`` of ``claims`` (None when any step is missing)."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


@dataclass(frozen=True)
class OpenIdIdentity:
    """A person as the provider vouches for them."""

    provider: str  # openid:<name>
    subject: str  # the ID token's `sub`, stable per provider
    # The address only when the provider says it verified it (`email_verified` true):
    # anything else is a string the person typed, and proves nothing.
    email: str | None
    claimed_email: str | None  # the address as given, verified or not (for messages)
    claims: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, provider: str, claims: Mapping[str, Any]) -> OpenIdIdentity:
        """The identity of verified ``claims``."""
        email = claims.get("email")
        email = email if isinstance(email, str) and 0 < len(email) <= 320 else None
        # Apple sends the flag as the string "true".
        verified = claims.get("email_verified") in (True, "true")
        kept = {k: v for k, v in claims.items() if k not in ("nonce", "at_hash", "c_hash")}
        if len(json.dumps(kept).encode()) > MAX_CLAIMS_BYTES:
            short = ("sub", "iss", "email", "email_verified", "name", "user")
            kept = {k: kept[k] for k in short if k in kept}
        return cls(provider, str(claims["sub"]), email if verified else None, email, kept)

    def fields(self, mapping: Mapping[str, str]) -> dict[str, Any]:
        """User field -> the scalar claim ``mapping`` names for it (others left out)."""
        values = {}
        for name, path in mapping.items():
            value = claim_at(self.claims, path)
            if isinstance(value, str | int | float | bool):
                values[name] = value
        return values

    def to_json(self) -> str:
        """The identity as stored with a one-time code."""
        return json.dumps(
            {
                "provider": self.provider,
                "subject": self.subject,
                "email": self.email,
                "claimed_email": self.claimed_email,
                "claims": self.claims,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> OpenIdIdentity:
        """An identity stored by :meth:`to_json`."""
        data = json.loads(text)
        return cls(
            data["provider"], data["subject"], data["email"], data["claimed_email"], data["claims"]
        )


MAX_USER_FIELD = 4096
_NAME_PARTS = ("firstName", "middleName", "lastName")


def apple_user(text: str) -> dict[str, Any] | None:
    """The name of Apple's ``user`` form field (JSON, sent on the first sign-in only).

    Only the name is kept: the field is not signed, so it is what the browser sent, good for
    a display name and nothing else. Its ``email`` is ignored (the ID token's counts).
    """
    if not 0 < len(text) <= MAX_USER_FIELD:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    name = data.get("name") if isinstance(data, dict) else None
    if not isinstance(name, dict):
        return None
    parts = {k: v for k in _NAME_PARTS if isinstance(v := name.get(k), str) and 0 < len(v) <= 200}
    return {"name": parts} if parts else None
