"""The hardening every JWT Bastion verifies goes through, whoever signed it.

PyJWT is not safe with its defaults (SECURITY-NOTES.md): no claim is required, so a token
without ``exp`` lives forever; a string ``exp`` passes; a token with an ``=`` appended still
verifies; a short HMAC key only warns. Both verifiers, Bastion's own access tokens
(:mod:`bastion.auth.access_tokens`) and the app's custom tokens
(:mod:`bastion.auth.providers.custom_token`), therefore take the same steps, from here:

1. :func:`unverified_header`: the compact form is checked before PyJWT sees the token (three
   base64url parts, at most :data:`MAX_TOKEN_LENGTH` characters), then the header is read,
   not yet trusted.
2. The header only chooses among what we already hold: :func:`header_kid` (a string or
   nothing) picks a key of our own key set, and :func:`header_alg` must name exactly one of the
   algorithms of that key, case-sensitively, so ``alg: none`` in any casing, HS256 over a
   public key (the public PEM used as an HMAC secret) or RS256 over an Ed25519 key stop
   before any library call. Headers that name other keys (``jku``, ``x5u``, ``jwk``,
   ``x5c``) are never read.
3. :func:`decode` verifies with that one algorithm, the issuer and the audience, requires
   every claim the caller relies on, and enforces the minimum key length. Time claims are the
   caller's to check, against its injected clock, with their types (PyJWT would read the
   system clock and accept a string ``exp``).

Each caller keeps its own policy: which claims it requires, and its audience rule (Bastion's
own tokens carry exactly one ``aud``, so ``strict_aud``; an identity system may list several
audiences, so a custom token's ``aud`` may be a list that contains ours).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import Any

import jwt

MAX_TOKEN_LENGTH = 8192
"""The longest token handed to PyJWT; Bastion's own are far shorter."""
_COMPACT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
# What PyJWT (or the JSON and base64 beneath it) raises on a hostile token: all are refusals.
_UNREADABLE = (jwt.PyJWTError, ValueError, TypeError, RecursionError)


class JwtRefused(Exception):
    """A token refused by one of these checks; ``reason`` is for logs and never quotes it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def looks_like_jwt(token: str) -> bool:
    """Three base64url parts within the length cap: worth handing to the JWT library."""
    return len(token) <= MAX_TOKEN_LENGTH and _COMPACT.match(token) is not None


def unverified_header(token: str) -> dict[str, Any]:
    """The header of a token in compact form, read but not trusted; else :class:`JwtRefused`."""
    if not isinstance(token, str) or not looks_like_jwt(token):
        raise JwtRefused("not a compact JWT within the length cap")
    try:
        return jwt.get_unverified_header(token)
    except _UNREADABLE:
        raise JwtRefused("unreadable header") from None


def header_kid(header: dict[str, Any]) -> str | None:
    """The header's ``kid``, which may only pick among keys we hold; a non-string is refused."""
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise JwtRefused("kid is not a string")
    return kid


def header_alg(header: dict[str, Any], allowed: Collection[str]) -> str:
    """The header's ``alg`` when it is exactly one of ``allowed``, the algorithms of the key."""
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in allowed:
        raise JwtRefused("algorithm not allowed for this key")
    return alg


def decode(
    token: str,
    key: Any,
    algorithm: str,
    *,
    audience: str,
    issuer: str | None,
    require: Sequence[str],
    strict_aud: bool,
) -> dict[str, Any]:
    """The claims of a token whose signature, ``aud``, ``iss`` and required claims check out.

    ``algorithm`` is the one :func:`header_alg` allowed; ``issuer`` None leaves ``iss``
    unchecked (require it in ``require`` when it matters). ``exp``, ``nbf`` and ``iat`` are
    not checked here: the caller checks them against its clock.
    """
    try:
        return jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=audience,
            issuer=issuer,
            options={
                "require": list(require),
                "strict_aud": strict_aud,
                # Time is checked by the caller, against the injected clock and with types.
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "enforce_minimum_key_length": True,
            },
        )
    except _UNREADABLE as error:
        raise JwtRefused(f"rejected by PyJWT: {type(error).__name__}") from None
