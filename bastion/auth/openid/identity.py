"""What a verified ID token says about the person signing in."""

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


def _claim_at(claims: Mapping[str, Any], path: str) -> Any:
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
            kept = {k: kept[k] for k in ("sub", "iss", "email", "email_verified") if k in kept}
        return cls(provider, str(claims["sub"]), email if verified else None, email, kept)

    def fields(self, mapping: Mapping[str, str]) -> dict[str, Any]:
        """User field -> the scalar claim ``mapping`` names for it (others left out)."""
        values = {}
        for name, path in mapping.items():
            value = _claim_at(self.claims, path)
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
