"""The values sessions take and give: how one starts, the pair a login answers, a session's
state, the refusal of a refresh token, and the digest tokens are stored under."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bastion.errors import BastionError, Code

if TYPE_CHECKING:
    from bastion.store.database import Database

MAX_REFRESH_TOKEN_LENGTH = 200
"""Longer than any refresh or session token Bastion makes: a longer one is refused unread."""


class RefreshRefused(BastionError):
    """A refresh token that cannot be used: unknown, expired, used, revoked."""

    code = Code.INVALID_REFRESH_TOKEN

    def __init__(self) -> None:
        super().__init__("Invalid refresh token")


class CredentialAfterWrite(BastionError):
    """A credential checked after the document wrote data, on SQLite: what its check must keep
    (a failure's count, the end of a session whose token was reused) would join the request's
    transaction and be undone with it; refused before the check."""

    code = Code.BAD_REQUEST

    def __init__(self) -> None:
        super().__init__("A credential field must come before any field that writes in a document")


def refuse_after_write(db: Database) -> None:
    """Raise :class:`CredentialAfterWrite` when the request this task serves wrote already on
    SQLite: the one rule every credential check (password, refresh token, emailed code or
    link) keeps before it looks at the credential."""
    if db.holds_request_write():
        raise CredentialAfterWrite()


@dataclass(frozen=True)
class TokenPair:
    """What a login or refresh answers."""

    access_token: str
    access_token_lifetime: int
    refresh_token: str
    refresh_token_lifetime: int
    session_id: str = ""
    device_id: str = ""


@dataclass(frozen=True)
class Start:
    """How a session begins: who, through which provider, from which client."""

    user_id: str
    provider: str
    user_agent: str | None = None
    # The id the client SDK gave its device (24 hex), or None to make one.
    device_id: str | None = None
    # The custom-token provider's `user_data`, carried into every access token.
    user_data: dict[str, Any] | None = None
    # The API key the user logged in with: deleting or disabling it ends the session.
    credential_id: str | None = None
    # A Stitch client API session: its refresh token is a multi-use session token.
    stitch: bool = False
    # The second factor proven before the session began ("totp", "webauthn"), if any.
    factor: str | None = None


@dataclass(frozen=True)
class SessionInfo:
    """A live session as its user sees it (``viewer { sessions }``)."""

    id: str
    provider: str
    created_at: datetime
    last_used_at: datetime
    user_agent: str | None
    device_id: str | None


@dataclass(frozen=True)
class SessionState:
    """Whether a session may be used, and until when at most."""

    user_id: str
    alive: bool
    expires_at: datetime
    # The user's row, so that `viewer { user }` costs no database round trip either.
    user: dict[str, Any] = field(default_factory=dict, compare=False)
    # Claims the session's access tokens carry for client SDKs (see `extra_claims`).
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    # Whether the session began with a second factor (`$viewer.mfa`).
    mfa: bool = False


def extra_claims(device_id: str | None, user_data: str | None) -> dict[str, Any]:
    """What the Stitch SDKs read from an access token: the device and the custom data."""
    extra: dict[str, Any] = {}
    if device_id:
        extra["baas_device_id"] = device_id
    if user_data:
        extra["user_data"] = json.loads(user_data)
    return extra


def plausible(token: str) -> bool:
    """Whether ``token`` could be a refresh or session token at all (not empty, not long)."""
    return 0 < len(token) <= MAX_REFRESH_TOKEN_LENGTH


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which a refresh token is stored."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
