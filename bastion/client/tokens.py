"""The tokens a client holds, and when its access token is due for a refresh.

The expiry is kept on the client's own clock: a token's lifetime (``accessTokenLifetime``, or
its ``exp - iat``) counted from the moment it arrived. Comparing the server's ``exp`` with the
local clock instead would refresh too late, or in a loop, on a machine whose clock is off.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

MIN_MARGIN_SECONDS = 2.0
"""Refresh at least this long before expiry: time for the refresh's own round trip."""

MARGIN_SHARE = 0.1
"""Refresh when this share of the lifetime is left (3 minutes of the default 30)."""


def refresh_margin(lifetime: float) -> float:
    """Seconds before expiry at which a token of ``lifetime`` seconds is refreshed.

    A tenth of the lifetime, at least :data:`MIN_MARGIN_SECONDS`, but never more than half of
    it: past half, the server renews the token in ``X-Authorization`` on its own, so a busy
    client rarely has to refresh at all, and a very short token is not refreshed at once.
    """
    return min(max(MARGIN_SHARE * lifetime, MIN_MARGIN_SECONDS), lifetime / 2)


def jwt_claims(token: str) -> dict[str, Any] | None:
    """The claims of a JWT, read without checking the signature (the client has no key).

    Used only to learn a token's lifetime; None when ``token`` is not a JWT (a root token).
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (binascii.Error, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def token_lifetime(token: str) -> float | None:
    """``exp - iat`` of a JWT, in seconds; None when it has no such claims."""
    claims = jwt_claims(token) or {}
    exp, iat = claims.get("exp"), claims.get("iat")
    if isinstance(exp, int | float) and isinstance(iat, int | float) and exp > iat:
        return float(exp - iat)
    return None


@dataclass(frozen=True)
class TokenSet:
    """An access token, the refresh token that renews it, and when the access token expires.

    The tokens are left out of ``repr`` so that logging a TokenSet never logs a secret.
    """

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None
    """When the access token expires, on the client's clock; None: never (a root token)."""
    lifetime: float | None = None
    """The access token's lifetime in seconds, which sets the refresh margin."""
    root: bool = False
    """A root token: static, never refreshed, never dropped when the server refuses it."""

    @classmethod
    def issued(
        cls,
        access_token: str,
        now: datetime,
        refresh_token: str | None = None,
        lifetime: float | None = None,
    ) -> TokenSet:
        """Tokens the server just answered; ``lifetime`` defaults to the token's own."""
        lifetime = lifetime if lifetime is not None else token_lifetime(access_token)
        expires_at = now + timedelta(seconds=lifetime) if lifetime is not None else None
        return cls(access_token, refresh_token, expires_at, lifetime)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], now: datetime) -> TokenSet:
        """Tokens from a login or refresh payload (``accessToken``, ``refreshToken``, ...)."""
        lifetime = payload.get("accessTokenLifetime")
        return cls.issued(
            str(payload["accessToken"]),
            now,
            refresh_token=payload.get("refreshToken"),
            lifetime=float(lifetime) if isinstance(lifetime, int | float) else None,
        )

    @classmethod
    def root_token(cls, token: str) -> TokenSet:
        """A permanent root token of the project (server-side code)."""
        return cls(token, root=True)

    def renewed(self, access_token: str, now: datetime) -> TokenSet:
        """The same session with the access token the server renewed in a response header."""
        lifetime = token_lifetime(access_token) or self.lifetime
        expires_at = now + timedelta(seconds=lifetime) if lifetime is not None else None
        return replace(self, access_token=access_token, expires_at=expires_at, lifetime=lifetime)

    @property
    def refreshable(self) -> bool:
        """Whether a refresh token can renew this set."""
        return self.refresh_token is not None and not self.root

    def needs_refresh(self, now: datetime) -> bool:
        """Whether the access token is within its refresh margin (or past its expiry)."""
        if not self.refreshable or self.expires_at is None or self.lifetime is None:
            return False
        return now >= self.expires_at - timedelta(seconds=refresh_margin(self.lifetime))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, for stores that write files or rows."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "lifetime": self.lifetime,
            "root": self.root,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenSet:
        """The inverse of :meth:`to_dict`; raises ValueError or KeyError on a bad record."""
        expires_at = data.get("expires_at")
        lifetime = data.get("lifetime")
        return cls(
            access_token=str(data["access_token"]),
            refresh_token=data.get("refresh_token"),
            expires_at=datetime.fromisoformat(expires_at) if expires_at else None,
            lifetime=float(lifetime) if lifetime is not None else None,
            root=bool(data.get("root", False)),
        )
