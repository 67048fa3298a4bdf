"""The keys of a JWKS URL: fetched with httpx, parsed by PyJWT, cached, refetched sparingly.

The identity system publishes its public keys at ``jwks_url``; a token's ``kid`` and ``alg``
pick one of them. The set is fetched by the first token that needs it (never at start), kept
for ``jwks_refresh_interval`` seconds, and refetched early for an unknown ``kid`` (a key the
identity system just rotated in) at most every :data:`JWKS_MIN_REFETCH` seconds, so tokens
with made-up kids cannot become a flood of fetches. Concurrent tokens share one fetch. A failed
fetch keeps the previous set while it is fresh and waits as long before the next try, so an
outage of the identity system is not hammered. Only asymmetric public signing keys, for the
allowed algorithms, are ever kept: a symmetric key published in a JWKS is no key at all.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from bastion.auth.jwt_checks import JwtRefused
from bastion.auth.key_material import MIN_RSA_BITS
from bastion.auth.providers.custom_token.keys import ASYMMETRIC, PublicKey, algorithms_of
from bastion.tools.clock import Clock

JWKS_MIN_REFETCH = 30.0  # seconds between fetches caused by unknown kids or failures
JWKS_TIMEOUT = 5.0
MAX_JWKS_BYTES = 512 * 1024  # a key set is a few KB; never buffer an endless answer

log = logging.getLogger("bastion.auth")


@dataclass(frozen=True)
class _Jwk:
    """One usable key of a JWKS: its kid, the one algorithm it verifies, the key itself."""

    kid: str | None
    algorithm: str
    key: PublicKey


class _FetchFailed(Exception):
    """A JWKS fetch that gave no usable key set (the reason is logged)."""


class JwksKeys:
    """The keys published at one JWKS URL, as far as they verify the allowed algorithms."""

    def __init__(
        self,
        url: str,
        refresh_interval: float,
        algorithms: tuple[str, ...],
        clock: Clock,
        http: httpx.AsyncClient | None,
    ) -> None:
        """Nothing is fetched here. Without ``http``, one is made on the first fetch."""
        self._url = url
        self._refresh_interval = refresh_interval
        self._algorithms = algorithms
        self._clock = clock
        self.http = http
        # All times in clock seconds.
        self._jwks: tuple[_Jwk, ...] = ()
        self._loaded_at: float | None = None  # the last fetch that gave a usable set
        self._attempted_at: float | None = None  # the last fetch, whatever its outcome
        self._last_failed = False
        self._fetching: asyncio.Task[bool] | None = None

    async def key(self, kid: str | None, alg: str) -> PublicKey:
        """The key for a token's kid and alg, fetching the set when needed; else JwtRefused."""
        now = self._clock().timestamp()
        loaded = self._loaded_at
        if loaded is None or now - loaded >= self._refresh_interval:
            # Missing or stale: a key must come from a fresh set. After a failed fetch, wait
            # before the next one, so an outage of the identity system is not hammered.
            if self._recently_attempted(now) and self._last_failed:
                raise JwtRefused("JWKS unavailable (last fetch failed)")
            if not await self._refresh():
                raise JwtRefused("JWKS fetch failed")
        jwk = self._select(kid, alg)
        # An unknown kid may be a key the identity system just rotated in; but random kids
        # must not each cost a fetch, so at most one such fetch per JWKS_MIN_REFETCH.
        unknown = kid is not None and all(k.kid != kid for k in self._jwks)
        if (
            jwk is None
            and unknown
            and not self._recently_attempted(self._clock().timestamp())
            and await self._refresh()
        ):
            jwk = self._select(kid, alg)
        if jwk is None:
            raise JwtRefused("no key of the JWKS fits the token's kid and alg")
        return jwk.key

    def _recently_attempted(self, now: float) -> bool:
        return self._attempted_at is not None and now - self._attempted_at < JWKS_MIN_REFETCH

    def _select(self, kid: str | None, alg: str) -> _Jwk | None:
        if kid is None:
            # No kid: only unambiguous when the set has exactly one usable key.
            only = self._jwks[0] if len(self._jwks) == 1 else None
            return only if only is not None and only.algorithm == alg else None
        return next((k for k in self._jwks if k.kid == kid and k.algorithm == alg), None)

    async def _refresh(self) -> bool:
        """Fetch the JWKS; concurrent callers share one request. True when a set was loaded."""
        if self._fetching is None or self._fetching.done():
            # Counted from the start, so callers arriving during the fetch do not start another.
            self._attempted_at = self._clock().timestamp()
            self._fetching = asyncio.ensure_future(self._fetch())
        # Shielded: a caller that is cancelled does not cancel the others' shared fetch.
        return await asyncio.shield(self._fetching)

    async def _fetch(self) -> bool:
        url = self._url
        try:
            if self.http is None:
                self.http = httpx.AsyncClient(timeout=JWKS_TIMEOUT)
            keys = self._parse(await self._download(self.http, url))
        except Exception as error:
            # Any failure keeps the previous set (tokens with known kids keep working while it
            # is fresh) and refuses the token that needed the fetch. No token is logged.
            reason = str(error) if isinstance(error, _FetchFailed) else type(error).__name__
            log.warning("custom-token: cannot use the JWKS at %s: %s", url, reason)
            self._last_failed = True
            return False
        self._jwks = keys
        self._loaded_at = self._clock().timestamp()
        self._last_failed = False
        return True

    @staticmethod
    async def _download(http: httpx.AsyncClient, url: str) -> bytes:
        # No redirects: the configured URL is the one trusted place for keys.
        async with http.stream(
            "GET", url, timeout=JWKS_TIMEOUT, follow_redirects=False
        ) as response:
            if response.status_code != 200:
                raise _FetchFailed(f"HTTP status {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise _FetchFailed(f"the document is larger than {MAX_JWKS_BYTES} bytes")
        return bytes(body)

    def _parse(self, body: bytes) -> tuple[_Jwk, ...]:
        """The usable keys of a JWKS document: asymmetric public keys for allowed algorithms."""
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            raise _FetchFailed("not JSON") from None
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise _FetchFailed("not a JWK set (no 'keys' list)")
        # Drop before PyJWT sees them: symmetric keys (a shared secret published in a JWKS is
        # no key at all), keys for encryption, private keys, and algorithms we never verify
        # with (PyJWT would raise on "none" instead of skipping the key). A key that names no
        # alg passes this filter; PyJWT then gives it its key type's algorithm.
        candidates = [
            entry
            for entry in document["keys"]
            if isinstance(entry, dict)
            and entry.get("kty") in ("RSA", "EC", "OKP")
            and entry.get("use", "sig") == "sig"
            and "d" not in entry
            and entry.get("alg", ASYMMETRIC[0]) in ASYMMETRIC
        ]
        if not candidates:
            raise _FetchFailed("no asymmetric signing key")
        try:
            parsed = jwt.PyJWKSet.from_dict({"keys": candidates})
        except jwt.PyJWTError as error:
            raise _FetchFailed(f"no usable key ({type(error).__name__})") from None
        usable = []
        for jwk in parsed.keys:
            key, alg, kid = jwk.key, jwk.algorithm_name, jwk.key_id
            # The key object must really be a public key its algorithm verifies.
            if alg not in algorithms_of(key) or alg not in self._algorithms:
                continue
            if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
                continue
            if kid is not None and not isinstance(kid, str):
                continue
            usable.append(_Jwk(kid=kid, algorithm=alg, key=key))
        if not usable:
            raise _FetchFailed("no usable key for the allowed algorithms")
        return tuple(usable)
