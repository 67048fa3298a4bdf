"""Verifying an ID token (OpenID Connect Core 3.1.3.7) with joserfc.

The signature with a key of the issuer's JWKS, in one of the configured algorithms (never
``none``, never an HMAC: Bastion holds no shared key); ``iss`` exactly the issuer; ``aud`` the
client id (or one of ``audiences``), with ``azp`` one of them when several are named; ``exp``
in the future and ``iat`` not in it (a minute of skew); ``nonce`` exactly the one this sign-in
sent; and ``sub`` present.
"""

from __future__ import annotations

from typing import Any

from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError

from bastion.auth.openid.metadata import ProviderMetadata
from bastion.errors import BastionError, Code
from bastion.tools.clock import Clock

MAX_ID_TOKEN_LENGTH = 16_384
LEEWAY_SECONDS = 60
_ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class IdTokenRefused(BastionError):
    """An ID token that does not prove the sign-in; ``reason`` says which check failed."""

    code = Code.INVALID_CREDENTIALS

    def __init__(self, reason: str) -> None:
        super().__init__("Invalid ID token", reason=reason)
        self.reason = reason


async def verify_id_token(
    token: str, metadata: ProviderMetadata, nonce: str, clock: Clock
) -> dict[str, Any]:
    """The claims of ``token``, every check passed."""
    if not 0 < len(token) <= MAX_ID_TOKEN_LENGTH or token.count(".") != 2:
        raise IdTokenRefused("malformed")
    config = metadata.config
    algorithms = [a for a in config.algorithms if a in _ASYMMETRIC]
    decoded = None
    for fresh in (False, True):  # a key id we lack: the provider may have rotated
        keys = await metadata.keys(fresh=fresh)
        try:
            decoded = jwt.decode(token, keys, algorithms=algorithms)
            break
        except InvalidKeyIdError as error:
            if fresh:
                raise IdTokenRefused("unknown key") from error
        except (JoseError, ValueError) as error:
            raise IdTokenRefused(f"signature: {getattr(error, 'error', 'invalid')}") from error
    assert decoded is not None
    claims: dict[str, Any] = dict(decoded.claims)
    audiences = [config.client_id, *config.audiences]
    assert config.issuer is not None  # the settings make sure
    registry = jwt.JWTClaimsRegistry(
        now=lambda: int(clock().timestamp()),
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": config.issuer},
        aud={"essential": True, "values": audiences},
        exp={"essential": True},
        sub={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
    except JoseError as error:
        claim = getattr(error, "claim", "") or ""
        raise IdTokenRefused(f"{error.error} {claim}".strip()) from error
    named = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(named) > 1 and claims.get("azp") not in audiences:
        raise IdTokenRefused("azp")
    if not isinstance(claims["sub"], str) or not 0 < len(claims["sub"]) <= 255:
        raise IdTokenRefused("sub")
    return claims
