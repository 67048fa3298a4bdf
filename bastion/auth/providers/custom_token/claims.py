"""From a custom token's verified claims to the identity it names, with what PyJWT leaves to us.

PyJWT has checked the signature, ``aud``, ``iss`` and that the required claims are present.
Left to us: that every string is clean text and every number finite, the claims' types,
the time (read from the injected clock, with 30 s of leeway: ``exp`` and ``nbf``, ``iat``
when present, and ``exp`` at most ``max_lifetime`` after ``iat``), and sizes. Then the
identity: ``sub`` is the user's id in the app's identity system, ``user_data`` is kept as the
app's word on the user, and ``metadata_fields`` copy claims into User fields (checked against
the model by :mod:`bastion.auth.providers.user_fields`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bastion.auth.jwt_checks import JwtRefused
from bastion.auth.token_times import LEEWAY_SECONDS

MAX_USER_DATA_BYTES = 4096
MAX_SUBJECT_LENGTH = 255


@dataclass(frozen=True)
class CustomIdentity:
    """What a verified token says about its user."""

    subject: str
    """The ``sub`` claim: the user's id in the app's identity system."""
    fields: dict[str, Any]
    """User field -> value (str, int, float or bool) for the ``metadata_fields`` present."""
    user_data: dict[str, Any] | None
    """The ``user_data`` claim (a JSON object), or None when the token has none."""


def is_clean(value: Any) -> bool:
    """No lone surrogate in any string and no NaN/Infinity anywhere in a decoded JSON value.

    Iterative, so a deeply nested claim cannot exhaust the stack. Lone surrogates make the
    database and argon2 raise later; NaN and Infinity (which ``json.loads`` accepts) would make
    ``exp`` comparisons meaningless.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, float):
            if not math.isfinite(item):
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _is_number(value: Any) -> bool:
    """A JSON number (not a bool, not a numeric string)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _claim_at(claims: dict[str, Any], path: str) -> Any:
    """The value at a dotted path (``user_data.first``), or None when any step is missing."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def identity_of(
    claims: dict[str, Any],
    *,
    now: float,
    max_lifetime: int,
    metadata_fields: Mapping[str, str],
) -> CustomIdentity:
    """The identity of verified ``claims`` at ``now``; :class:`JwtRefused` when they do not do."""
    if not is_clean(claims):
        raise JwtRefused("claims hold a lone surrogate or a non-finite number")
    exp: Any = claims.get("exp")
    nbf: Any = claims.get("nbf")
    iat: Any = claims.get("iat")
    if not _is_number(exp) or now >= exp + LEEWAY_SECONDS:
        raise JwtRefused("expired or no numeric exp")
    if nbf is not None and (not _is_number(nbf) or nbf > now + LEEWAY_SECONDS):
        raise JwtRefused("not valid yet or non-numeric nbf")
    if iat is not None and (not _is_number(iat) or iat > now + LEEWAY_SECONDS):
        raise JwtRefused("issued in the future or non-numeric iat")
    start = iat if iat is not None else now
    if exp - start > max_lifetime + LEEWAY_SECONDS:
        raise JwtRefused("exp too far after iat (over max_lifetime)")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT_LENGTH:
        raise JwtRefused("sub is not a string of 1 to 255 characters")
    user_data = None
    if "user_data" in claims:
        user_data = claims["user_data"]
        if not isinstance(user_data, dict):
            raise JwtRefused("user_data is not a JSON object")
        if len(json.dumps(user_data).encode()) > MAX_USER_DATA_BYTES:
            raise JwtRefused("user_data is too big")
    fields: dict[str, Any] = {}
    for field, path in metadata_fields.items():
        value = _claim_at(claims, path)
        # Only scalars go into User fields; null, objects and lists are skipped.
        if isinstance(value, str | int | float | bool):
            fields[field] = value
    return CustomIdentity(subject=subject, fields=fields, user_data=user_data)
