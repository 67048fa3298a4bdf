"""The custom-token provider: JWTs signed by the app's own identity system.

The app already has users and signs a JWT for each; Bastion checks the signature and the
claims and maps the token's ``sub`` to a user. A forged token here is a login as anyone, so
the verifier trusts nothing the token says about how to verify it:

- The key is the project's (an HS256 secret, a PEM public key, or a JWKS URL) and the
  algorithm follows from the key, never from the token. ``alg: none`` in any casing, or HS256
  where a public key is configured (the HS/RS confusion: the public PEM used as an HMAC
  secret), is refused before PyJWT sees the token.
- Headers that name other keys (``jku``, ``x5u``, ``jwk``, ``x5c``) are ignored; ``kid``
  only picks among keys we already hold.
- PyJWT's defaults are unsafe (see SECURITY-NOTES.md): every claim we rely on is required,
  its type is checked, and time is read from the injected clock with 30 s of leeway: ``exp``
  and ``nbf``, ``iat`` when present, and ``exp`` at most ``max_lifetime`` after ``iat``.
- A JWKS is fetched with httpx, parsed by PyJWT's ``PyJWKSet``, cached for
  ``jwks_refresh_interval`` seconds, and refetched for an unknown ``kid`` at most every
  ``JWKS_MIN_REFETCH`` seconds, so tokens with made-up kids cannot become a flood of fetches.

Every refusal is the same :class:`CustomTokenRefused` ("Invalid custom token"), whatever the
cause, so a caller never answers a hostile token with a 500 and never says which check failed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from bastion.auth.jwt_checks import (
    JwtRefused,
    decode,
    header_alg,
    header_kid,
    unverified_header,
)
from bastion.auth.secret import MIN_SECRET_BYTES
from bastion.auth.settings import CustomTokenConfig
from bastion.auth.token_times import LEEWAY_SECONDS
from bastion.errors import BastionError, Code, ProjectError
from bastion.tools.clock import Clock

MAX_USER_DATA_BYTES = 4096
MAX_SUBJECT_LENGTH = 255
MIN_RSA_BITS = 2048  # PyJWT's own floor with enforce_minimum_key_length
JWKS_MIN_REFETCH = 30.0  # seconds between fetches caused by unknown kids or failures
JWKS_TIMEOUT = 5.0
MAX_JWKS_BYTES = 512 * 1024  # a key set is a few KB; never buffer an endless answer

_HMAC = "HS256"
_RSA = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
_EC = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
_ASYMMETRIC = (*_RSA, *_EC.values(), "EdDSA")
_WHERE = "bastion.yml: auth.providers.custom-token"

PublicKey = (
    rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
)

log = logging.getLogger("bastion.auth")


class CustomTokenRefused(BastionError):
    """The one answer to every refused custom token; ``reason`` is for logs and audit only."""

    code = Code.INVALID_CREDENTIALS

    def __init__(self, reason: str) -> None:
        # The client learns nothing about which check failed; reasons never quote the token.
        super().__init__("Invalid custom token")
        self.reason = reason


@dataclass(frozen=True)
class CustomIdentity:
    """What a verified token says about its user."""

    subject: str
    """The ``sub`` claim: the user's id in the app's identity system."""
    fields: dict[str, Any]
    """User field -> value (str, int, float or bool) for the ``metadata_fields`` present."""
    user_data: dict[str, Any] | None
    """The ``user_data`` claim (a JSON object), or None when the token has none."""


@dataclass(frozen=True)
class _Jwk:
    """One usable key of a JWKS: its kid, the one algorithm it verifies, the key itself."""

    kid: str | None
    algorithm: str
    key: PublicKey


class _FetchFailed(Exception):
    """A JWKS fetch that gave no usable key set (the reason is logged)."""


def _algorithms_of(key: object) -> tuple[str, ...]:
    """The algorithms a public key can verify; empty for private keys and other key types."""
    if isinstance(key, rsa.RSAPublicKey):
        return _RSA
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in _EC:
        return (_EC[key.curve.name],)
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return ("EdDSA",)
    return ()


def _describe(key: PublicKey) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return "an RSA public key"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"an EC {key.curve.name} public key"
    return "an EdDSA public key"


def _is_clean(value: Any) -> bool:
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


def _secret_bytes(text: str, where: str) -> bytes:
    try:
        # surrogateescape gives back the raw bytes of an environment value that is not UTF-8.
        secret = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise ProjectError([f"{where}: the secret is not valid text"]) from None
    if len(secret) < MIN_SECRET_BYTES:
        raise ProjectError(
            [
                f"{where}: the secret must be at least {MIN_SECRET_BYTES} bytes "
                f"(got {len(secret)}); a short HMAC key makes tokens forgeable"
            ]
        )
    return secret


def _load_public_key(config: CustomTokenConfig, root: Path) -> PublicKey:
    if config.public_key_file is not None:
        path = root / config.public_key_file
        where = f"{_WHERE}.public_key_file ({path})"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ProjectError([f"{where}: file not found"]) from None
        except OSError as error:
            raise ProjectError([f"{where}: cannot read it ({error.strerror})"]) from None
    else:
        assert config.public_key is not None
        where = f"{_WHERE}.public_key"
        data = config.public_key.encode("utf-8", "replace")
    try:
        key = load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        hint = " (this is a private key: give only the public key)" if b"PRIVATE" in data else ""
        raise ProjectError([f"{where}: not a PEM public key{hint}"]) from None
    if not _algorithms_of(key):
        raise ProjectError(
            [f"{where}: use an RSA, EC (P-256, P-384, P-521), Ed25519 or Ed448 public key"]
        )
    assert isinstance(key, PublicKey)
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise ProjectError(
            [f"{where}: the RSA key has {key.key_size} bits; at least {MIN_RSA_BITS} are needed"]
        )
    return key


def _check_jwks_url(url: str) -> None:
    # Keys fetched over plain http can be swapped on the way, which forges every login:
    # only https, or http to this machine (a sidecar identity service, tests).
    where = f"{_WHERE}.jwks_url"
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        raise ProjectError([f"{where}: not a URL"]) from None
    local = parsed.host in ("localhost", "127.0.0.1", "::1")
    if not parsed.host or not (parsed.scheme == "https" or (parsed.scheme == "http" and local)):
        raise ProjectError([f"{where}: use an https:// URL (plain http only to localhost)"])


class CustomTokenVerifier:
    """Verifies the custom tokens of one project against its one key source."""

    def __init__(
        self,
        config: CustomTokenConfig,
        root: Path,
        clock: Clock,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        """Resolve the key source now, so a bad one stops the start with a :class:`ProjectError`.

        ``root`` is the project folder (``public_key_file`` is relative to it). ``http`` is
        used for the JWKS; without one the verifier makes its own and :meth:`aclose` closes
        it. Nothing is fetched here: the JWKS is fetched by the first verification.
        """
        if config.audience is None:  # pragma: no cover - CustomTokenConfig requires one
            raise ProjectError([f"{_WHERE}.audience: required, or any app's tokens would do"])
        self._config = config
        self._audience = config.audience
        self._clock = clock
        self._http = http
        self._own_http = http is None
        self._key: bytes | PublicKey | None = None  # the one key of a secret or a PEM
        # The algorithms a token's header may name; with a JWKS each key narrows it to one.
        self._algorithms: tuple[str, ...]
        # JWKS state, all times in clock seconds.
        self._jwks: tuple[_Jwk, ...] = ()
        self._loaded_at: float | None = None  # the last fetch that gave a usable set
        self._attempted_at: float | None = None  # the last fetch, whatever its outcome
        self._last_failed = False
        self._fetching: asyncio.Task[bool] | None = None

        if config.secret is not None:
            self._key = _secret_bytes(config.secret, f"{_WHERE}.secret")
            self._algorithms = self._allowed((_HMAC,), "an HS256 secret")
        elif config.secret_env is not None:
            where = f"{_WHERE}.secret_env"
            value = os.environ.get(config.secret_env)
            if value is None:
                raise ProjectError(
                    [f"{where}: the environment variable {config.secret_env} is not set"]
                )
            self._key = _secret_bytes(value, f"{where} (environment variable {config.secret_env})")
            self._algorithms = self._allowed((_HMAC,), "an HS256 secret")
        elif config.public_key is not None or config.public_key_file is not None:
            key = _load_public_key(config, root)
            self._key = key
            fits = _algorithms_of(key)
            # RSA keys default to RS256; `algorithms` may name others the key type fits.
            self._algorithms = self._allowed(fits, _describe(key), default=fits[:1])
        elif config.jwks_url is not None:
            _check_jwks_url(config.jwks_url)
            self._algorithms = self._allowed(_ASYMMETRIC, "a JWKS (asymmetric keys only)")
        else:  # pragma: no cover - CustomTokenConfig requires one key source when enabled
            raise ProjectError([f"{_WHERE}: no key source (secret, public_key or jwks_url)"])

    def _allowed(
        self, fits: tuple[str, ...], what: str, default: tuple[str, ...] | None = None
    ) -> tuple[str, ...]:
        """``config.algorithms`` when every entry fits the key, else a ProjectError."""
        wanted = self._config.algorithms
        if wanted is None:
            return default or fits
        wrong = [name for name in wanted if name not in fits]
        if not wanted or wrong:
            raise ProjectError(
                [
                    f"{_WHERE}.algorithms: {', '.join(wrong) or 'an empty list'} cannot be used "
                    f"with {what} (it takes {', '.join(fits)})"
                ]
            )
        return tuple(dict.fromkeys(wanted))

    async def aclose(self) -> None:
        """Close the HTTP client this verifier made (never one it was given)."""
        if self._own_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    # -- verification -----------------------------------------------------------------------

    async def verify(self, token: str) -> CustomIdentity:
        """The identity a valid token names; raises :class:`CustomTokenRefused` otherwise."""
        try:
            return await self._verify(token)
        except CustomTokenRefused:
            raise
        except Exception as error:
            # A hostile token must never become a 500: whatever it trips is a refusal.
            log.warning("custom-token: unexpected %s while verifying a token", type(error).__name__)
            raise CustomTokenRefused(f"unexpected {type(error).__name__}") from None

    async def _verify(self, token: str) -> CustomIdentity:
        try:
            header = unverified_header(token)
            if not _is_clean(header):
                raise CustomTokenRefused("header is not clean text")
            # Exact, case-sensitive match against the key's algorithms: "none", "NONE" and HS256
            # with a public key all stop here, before any key is fetched or any library call.
            alg = header_alg(header, self._algorithms)
            key = self._key
            if key is None:
                key = await self._jwks_key(header_kid(header), alg)
            config = self._config
            claims = decode(
                token,
                key,
                alg,
                audience=self._audience,
                issuer=config.issuer,
                require=["exp", "sub", "aud"] + (["iss"] if config.issuer is not None else []),
                # An identity system may name several audiences: ours among them is enough.
                strict_aud=False,
            )
        except JwtRefused as refused:
            raise CustomTokenRefused(refused.reason) from None
        return self._identity(claims)

    def _identity(self, claims: dict[str, Any]) -> CustomIdentity:
        """Check what PyJWT leaves to us (types, time, sizes) and build the identity."""
        if not _is_clean(claims):
            raise CustomTokenRefused("claims hold a lone surrogate or a non-finite number")
        now = self._clock().timestamp()
        exp: Any = claims.get("exp")
        nbf: Any = claims.get("nbf")
        iat: Any = claims.get("iat")
        if not _is_number(exp) or now >= exp + LEEWAY_SECONDS:
            raise CustomTokenRefused("expired or no numeric exp")
        if nbf is not None and (not _is_number(nbf) or nbf > now + LEEWAY_SECONDS):
            raise CustomTokenRefused("not valid yet or non-numeric nbf")
        if iat is not None and (not _is_number(iat) or iat > now + LEEWAY_SECONDS):
            raise CustomTokenRefused("issued in the future or non-numeric iat")
        start = iat if iat is not None else now
        if exp - start > self._config.max_lifetime + LEEWAY_SECONDS:
            raise CustomTokenRefused("exp too far after iat (over max_lifetime)")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT_LENGTH:
            raise CustomTokenRefused("sub is not a string of 1 to 255 characters")
        user_data = None
        if "user_data" in claims:
            user_data = claims["user_data"]
            if not isinstance(user_data, dict):
                raise CustomTokenRefused("user_data is not a JSON object")
            if len(json.dumps(user_data).encode()) > MAX_USER_DATA_BYTES:
                raise CustomTokenRefused("user_data is too big")
        fields: dict[str, Any] = {}
        for field, path in self._config.metadata_fields.items():
            value = _claim_at(claims, path)
            # Only scalars go into User fields; null, objects and lists are skipped.
            if isinstance(value, str | int | float | bool):
                fields[field] = value
        return CustomIdentity(subject=subject, fields=fields, user_data=user_data)

    # -- JWKS -------------------------------------------------------------------------------

    async def _jwks_key(self, kid: str | None, alg: str) -> PublicKey:
        """The key of the JWKS for this token's kid and alg, fetching the set when needed."""
        now = self._clock().timestamp()
        loaded = self._loaded_at
        if loaded is None or now - loaded >= self._config.jwks_refresh_interval:
            # Missing or stale: a key must come from a fresh set. After a failed fetch, wait
            # before the next one, so an outage of the identity system is not hammered.
            if self._recently_attempted(now) and self._last_failed:
                raise CustomTokenRefused("JWKS unavailable (last fetch failed)")
            if not await self._refresh():
                raise CustomTokenRefused("JWKS fetch failed")
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
            raise CustomTokenRefused("no key of the JWKS fits the token's kid and alg")
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
        url = self._config.jwks_url
        assert url is not None
        try:
            if self._http is None:
                self._http = httpx.AsyncClient(timeout=JWKS_TIMEOUT)
            keys = self._parse(await self._download(self._http, url))
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
        # with (PyJWT would raise on "none" instead of skipping the key).
        candidates = [
            entry
            for entry in document["keys"]
            if isinstance(entry, dict)
            and entry.get("kty") in ("RSA", "EC", "OKP")
            and entry.get("use", "sig") == "sig"
            and "d" not in entry
            and entry.get("alg", _ASYMMETRIC[0]) in _ASYMMETRIC
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
            if alg not in _algorithms_of(key) or alg not in self._algorithms:
                continue
            if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
                continue
            if kid is not None and not isinstance(kid, str):
                continue
            usable.append(_Jwk(kid=kid, algorithm=alg, key=key))
        if not usable:
            raise _FetchFailed("no usable key for the allowed algorithms")
        return tuple(usable)
