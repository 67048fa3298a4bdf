"""The custom-token provider: JWTs signed by the app's own identity system.

The app already has users and signs a JWT for each; Bastion checks the signature and the
claims and maps the token's ``sub`` to a user (the login itself, which makes or updates that
user, is :meth:`bastion.auth.logins.Logins.custom_token`). One job per module:

- :mod:`.verifier`: :class:`CustomTokenVerifier`, the one door: the token through the steps
  every JWT takes, against the project's key, to a :class:`CustomIdentity` or a
  :class:`CustomTokenRefused`;
- :mod:`.keys`: the key source (HS256 secret, PEM public key or JWKS URL) resolved and checked
  at start, and the algorithms each key may verify;
- :mod:`.jwks`: the JWKS fetcher: HTTP, cache and rate-limited refetch;
- :mod:`.claims`: what PyJWT leaves to us (types, time, sizes) and the identity the claims name.
"""

from bastion.auth.providers.custom_token.claims import (
    MAX_SUBJECT_LENGTH,
    MAX_USER_DATA_BYTES,
    CustomIdentity,
)
from bastion.auth.providers.custom_token.jwks import JWKS_MIN_REFETCH, JWKS_TIMEOUT, MAX_JWKS_BYTES
from bastion.auth.providers.custom_token.verifier import CustomTokenRefused, CustomTokenVerifier

__all__ = [
    "JWKS_MIN_REFETCH",
    "JWKS_TIMEOUT",
    "MAX_JWKS_BYTES",
    "MAX_SUBJECT_LENGTH",
    "MAX_USER_DATA_BYTES",
    "CustomIdentity",
    "CustomTokenRefused",
    "CustomTokenVerifier",
]
