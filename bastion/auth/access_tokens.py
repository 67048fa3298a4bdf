"""Access tokens: JWTs signed by PyJWT with the project's signing key, verified strictly.

Verification takes the steps every JWT takes (:mod:`bastion.auth.jwt_checks`: the compact
form and length cap first, the header only choosing, PyJWT with every claim required), with
this module's policy: the header's ``kid`` is looked up in the in-memory key set only
(:mod:`bastion.auth.keys`) and its ``alg`` must be that key's one algorithm, so an RSA public
key can never be used as an HMAC secret; ``aud`` is strict (exactly ours). Beyond what PyJWT
checks, the claims' types are checked and the time is read from the injected clock (30 s of
skew allowed): ``iat`` and ``nbf`` (when present) may not be ahead of it, and ``exp`` may not
lie further after ``iat`` than the lifetime of the token's kind (the configured access-token
lifetime; a year for node tokens), so a token signed with a leaked or legacy key cannot be
made to last.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bastion.auth.jws_signing import Signer
from bastion.auth.jwt_checks import (
    JwtRefused,
    decode,
    header_alg,
    header_kid,
    unverified_header,
)
from bastion.auth.key_material import SigningKey
from bastion.auth.keys import KeySet
from bastion.auth.token_times import LEEWAY_SECONDS, LONGEST_LIFETIME
from bastion.tools.clock import Clock

VERIFIED_CACHE_SIZE = 10_000
_REQUIRED = ["iss", "aud", "sub", "iat", "exp", "jti", "typ"]
ACCESS = "access"
NODE = "node"  # a temporary token bound to a node of the model (generate_auth_token)


class TokenRefused(Exception):
    """An access token that cannot be used; ``code`` says why (expired or invalid)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


EXPIRED = "ACCESS_TOKEN_EXPIRED"
INVALID = "ACCESS_TOKEN_INVALID"


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token says."""

    user_id: str  # the subject: a user's id, or for a node token the node's id
    session_id: str  # "" for a node token, which belongs to no session
    issued_at: int
    expires_at: int
    token_id: str
    node_type: str | None = None  # the type of a node token's node
    not_before: int | None = None  # ``nbf``: Bastion signs none, but honours one it finds


@dataclass(frozen=True)
class SignedAhead:
    """An access token signed, not yet handed out (see :meth:`AccessTokens.sign_ahead`)."""

    token: str
    claims: AccessClaims
    key: SigningKey


class AccessTokens:
    """Issues and verifies the access tokens of one project."""

    def __init__(
        self, keys: KeySet, issuer: str, audience: str, lifetime: int, clock: Clock
    ) -> None:
        self._keys = keys
        self.issuer = issuer
        self.audience = audience
        self.lifetime = lifetime
        self._clock = clock
        self._signer = Signer()
        # Tokens whose signature and claims were checked already, with their key's kid: a
        # token is sent with every request of a client, and checking its signature again each
        # time is most of the cost.
        self._verified: dict[str, tuple[str | None, AccessClaims]] = {}

    def _sign(self, payload: dict[str, Any]) -> str:
        key = self._keys.signing_key()
        token = self._signer.sign(key, payload)
        self._keys.signed(key, payload["exp"])
        return token

    def issue(
        self,
        user_id: str,
        session_id: str,
        *,
        issued_at: datetime | None = None,
        token_id: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> tuple[str, AccessClaims]:
        """A new access token; ``issued_at``/``token_id`` make a token reproducible.

        ``extra`` claims are for client SDKs, which read them without verifying
        (``user_data``, ``baas_device_id``); verification never relies on them.
        """
        ahead = self.sign_ahead(
            user_id, session_id, issued_at=issued_at, token_id=token_id, extra=extra
        )
        self.given(ahead)
        return ahead.token, ahead.claims

    def sign_ahead(
        self,
        user_id: str,
        session_id: str,
        *,
        issued_at: datetime | None = None,
        token_id: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> SignedAhead:
        """:meth:`issue`'s token, signed before it is known to be handed out (a login signs
        it while its password hash runs): :meth:`given` notes it once it is."""
        iat = int((issued_at or self._clock()).timestamp())
        claims = AccessClaims(
            user_id=user_id,
            session_id=session_id,
            issued_at=iat,
            expires_at=iat + self.lifetime,
            token_id=token_id or secrets.token_hex(16),
        )
        payload: dict[str, Any] = {
            **(extra or {}),
            "iss": self.issuer,
            "aud": self.audience,
            "sub": user_id,
            "iat": claims.issued_at,
            "exp": claims.expires_at,
            "jti": claims.token_id,
            "sid": session_id,
            "typ": ACCESS,
        }
        key = self._keys.signing_key()
        return SignedAhead(self._signer.sign(key, payload), claims, key)

    def given(self, ahead: SignedAhead) -> None:
        """Note that a token signed ahead is handed out: its key may not be pruned before the
        token expires. A token never given leaves no trace."""
        self._keys.signed(ahead.key, ahead.claims.expires_at)

    def issue_for_node(self, node_id: str, type_name: str, lifetime: int) -> str:
        """A token bound to a node, with its own lifetime and no session."""
        iat = int(self._clock().timestamp())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": node_id,
            "iat": iat,
            "exp": iat + lifetime,
            "jti": secrets.token_hex(16),
            "typ": NODE,
            "ntp": type_name,
        }
        return self._sign(payload)

    def keys_due(self, now: float | None = None) -> bool:
        """Whether :meth:`refresh_keys` has anything to do (see :meth:`KeySet.wants_refresh`);
        ``now``: the caller's reading of the clock, a timestamp."""
        return self._keys.wants_refresh(now)

    async def refresh_keys(self) -> None:
        """Read the key set again if it is due (see :meth:`KeySet.refresh`)."""
        await self._keys.refresh()

    async def verify_current(self, token: str, now: float | None = None) -> AccessClaims:
        """:meth:`verify`, once the key set was read again if the token names a kid it does
        not hold yet (a key another process just published)."""
        if token not in self._verified:
            try:
                kid = header_kid(unverified_header(token))
            except JwtRefused:
                kid = None  # refused by verify, with the same answer
            await self._keys.learn(kid)
        return self.verify(token, now)

    def knows(self, token: str) -> bool:
        """Whether ``token`` was verified before (:meth:`verify` needs no :meth:`verify_current`
        then: its kid was known)."""
        return token in self._verified

    def verify(self, token: str, now: float | None = None) -> AccessClaims:
        """The claims of a valid token; raises :class:`TokenRefused` otherwise. ``now`` is the
        caller's reading of the clock (a timestamp), read here when not given."""
        cached = self._verified.get(token)
        if cached is not None and not self._keys.holds(cached[0]):
            # Its key was pruned: the cache must not keep the token alive.
            del self._verified[token]
            raise TokenRefused(INVALID)
        if cached is None:
            cached = self._verify_signed(token)
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.pop(next(iter(self._verified)))
            self._verified[token] = cached
        claims = cached[1]
        # Time moves on: check it on every use, cached or not.
        if now is None:
            now = self._clock().timestamp()
        if claims.issued_at > now + LEEWAY_SECONDS:
            raise TokenRefused(INVALID)
        if claims.not_before is not None and claims.not_before > now + LEEWAY_SECONDS:
            raise TokenRefused(INVALID)
        if now >= claims.expires_at + LEEWAY_SECONDS:
            raise TokenRefused(EXPIRED)
        return claims

    def _verify_signed(self, token: str) -> tuple[str | None, AccessClaims]:
        """Check form, key, signature and claims (all but time) of a token not seen before."""
        try:
            header = unverified_header(token)
            kid = header_kid(header)
            key = self._keys.verifying_key(kid)
            if key is None:
                raise TokenRefused(INVALID)
            # Exact match with the key's one algorithm: "none" in any casing, HS256 over an
            # asymmetric key, RS256 over an Ed25519 one all stop here.
            header_alg(header, (key.algorithm,))
            payload = decode(
                token,
                key.verifier,
                key.algorithm,
                audience=self.audience,
                issuer=self.issuer,
                require=_REQUIRED,
                strict_aud=True,  # our tokens name exactly one audience: ours
            )
        except JwtRefused:
            raise TokenRefused(INVALID) from None
        exp, iat, kind = payload.get("exp"), payload.get("iat"), payload.get("typ")
        nbf = payload.get("nbf")
        if type(exp) is not int or type(iat) is not int or kind not in (ACCESS, NODE):
            raise TokenRefused(INVALID)
        if nbf is not None and type(nbf) is not int:
            raise TokenRefused(INVALID)
        # No token of this kind is signed to live longer: one that claims to was not ours.
        longest = self.lifetime if kind == ACCESS else LONGEST_LIFETIME
        if exp - iat > longest + LEEWAY_SECONDS:
            raise TokenRefused(INVALID)
        # The legacy key verifies only what it signed before keys took over.
        retired = key.retired_at if key.kid is None else None
        if retired is not None and iat > retired.timestamp() + LEEWAY_SECONDS:
            raise TokenRefused(INVALID)
        # An access token names its session; a node token its node's type.
        extra = "sid" if kind == ACCESS else "ntp"
        for claim in ("sub", "jti", extra):
            if not isinstance(payload.get(claim), str) or not payload[claim]:
                raise TokenRefused(INVALID)
        return kid, AccessClaims(
            user_id=payload["sub"],
            session_id=payload["sid"] if kind == ACCESS else "",
            issued_at=iat,
            expires_at=exp,
            token_id=payload["jti"],
            node_type=payload["ntp"] if kind == NODE else None,
            not_before=nbf,
        )
