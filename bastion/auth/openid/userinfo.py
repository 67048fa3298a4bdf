"""Who a plain OAuth 2 provider says the person is: its userinfo answer, read with the access
token of the code exchange, as OpenID-style claims (``sub``, ``email``, ``email_verified``,
``name``).

There is no ID token, so nothing here is signed: the answer is trusted because Bastion asked
the configured endpoint itself, over the connection it opened, with a token it got from the
token endpoint for its own client (a code issued to another client does not exchange). The
subject is required; an address counts as verified only when the provider says so, in the
place ``userinfo_claims`` names, or (GitHub) in the ``verified`` flag of the primary entry of
``emails_endpoint``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from bastion.auth.openid.identity import claim_at
from bastion.auth.openid_settings import STANDARD_CLAIMS, OpenIdProviderConfig, StandardClaim
from bastion.errors import BastionError, Code

MAX_USERINFO_BYTES = 256 * 1024
MAX_SUBJECT = 255


class UserinfoRefused(BastionError):
    """A userinfo answer that does not say who the person is; ``reason`` says why."""

    code = Code.INVALID_CREDENTIALS

    def __init__(self, reason: str) -> None:
        super().__init__("The provider did not say who signed in", reason=reason)
        self.reason = reason


async def _get(http: httpx.AsyncClient, url: str, access_token: str, what: str) -> Any:
    headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
    try:
        response = await http.get(url, headers=headers)
    except httpx.HTTPError as error:
        raise UserinfoRefused(f"{what}: {type(error).__name__}") from error
    if response.status_code != 200:
        raise UserinfoRefused(f"{what} answered {response.status_code}")
    if len(response.content) > MAX_USERINFO_BYTES:
        raise UserinfoRefused(f"{what} answer too large")
    try:
        return response.json()
    except ValueError as error:
        raise UserinfoRefused(f"{what} is not JSON") from error


def _subject(value: Any) -> str:
    # GitHub and Discord number their users; a bool is no id (and True == 1 in Python).
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise UserinfoRefused("no subject")
    subject = str(value)
    if not 0 < len(subject) <= MAX_SUBJECT:
        raise UserinfoRefused("no subject")
    return subject


def primary_email(entries: Any) -> tuple[str | None, bool]:
    """The primary address of an emails answer (``[{email, primary, verified}]``)."""
    if not isinstance(entries, list):
        raise UserinfoRefused("emails answer is not a list")
    for entry in entries:
        if isinstance(entry, Mapping) and entry.get("primary") is True:
            email = entry.get("email")
            return (email if isinstance(email, str) else None), entry.get("verified") is True
    return None, False


def standard_claims(info: Mapping[str, Any], paths: Mapping[StandardClaim, str]) -> dict[str, Any]:
    """``info`` with ``sub``, ``email``, ``email_verified`` and ``name`` taken from where
    ``paths`` says (the answer's own keys stay, for ``claims`` mappings)."""
    claims = dict(info)
    for name in STANDARD_CLAIMS:
        claims.pop(name, None)  # only the mapped place speaks for a standard claim
        value = claim_at(info, paths[name]) if name in paths else None
        if value is not None:
            claims[name] = value
    claims["sub"] = _subject(claims.get("sub"))
    return claims


async def read_userinfo(
    http: httpx.AsyncClient, config: OpenIdProviderConfig, access_token: str
) -> dict[str, Any]:
    """The person's claims, from the provider's userinfo (and emails) endpoints."""
    assert config.userinfo_endpoint is not None  # the settings make sure
    info = await _get(http, config.userinfo_endpoint, access_token, "userinfo")
    if not isinstance(info, Mapping):
        raise UserinfoRefused("userinfo answer is not an object")
    claims = standard_claims(info, config.userinfo_claims)
    if config.emails_endpoint is not None:
        entries = await _get(http, config.emails_endpoint, access_token, "emails")
        email, verified = primary_email(entries)
        claims.pop("email", None)
        claims.pop("email_verified", None)
        if email is not None:
            claims.update(email=email, email_verified=verified)
    return claims
