"""The custom-token provider: JWTs signed by the app's own identity system.

The key is the project's choice (an HS256 secret, a PEM public key, or a JWKS URL), and the
algorithm follows from the key, never from the token: a token that says ``alg: none``, or
HS256 where a public key is configured (the HS/RS confusion), is refused. Headers that point
at other keys (``jku``, ``x5u``, ``jwk``, ``x5c``) are ignored; ``kid`` only picks among the
keys we already hold. PyJWT checks signatures and claims; time is checked against the
injected clock. JWKS documents are fetched with httpx and parsed by PyJWT's ``PyJWKSet``,
cached for ``jwks_refresh_interval``, and refetched for an unknown ``kid`` at most every
``JWKS_MIN_REFETCH`` seconds, so made-up kids cannot turn into a flood of fetches.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from bastion.auth.secret import MIN_SECRET_BYTES
from bastion.auth.settings import CustomTokenConfig
from bastion.auth.tokens import LEEWAY_SECONDS, looks_like_jwt
from bastion.clock import Clock
from bastion.errors import BastionError, Code, ProjectError

MAX_USER_DATA_BYTES = 4096
MAX_SUBJECT_LENGTH = 255
JWKS_MIN_REFETCH = 30.0
JWKS_TIMEOUT = 5.0
_RSA = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
_EC = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
_ASYMMETRIC = frozenset({*_RSA, "ES256", "ES384", "ES512", "EdDSA"})

log = logging.getLogger("bastion.auth")


class CustomTokenRefused(BastionError):
    """The one answer to every refused custom token; ``reason`` is for logs only."""

    code = Code.INVALID_CREDENTIALS

    def __init__(self, reason: str) -> None:
        super().__init__("Invalid custom token")
        self.reason = reason


@dataclass(frozen=True)
class CustomIdentity:
    """What a verified token says about its user."""

    subject: str
    fields: dict[str, Any]
    user_data: dict[str, Any] | None


def _algorithms_for_key(key: Any) -> tuple[str, ...]:
    if isinstance(key, rsa.RSAPublicKey):
        return _RSA
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in _EC:
        return (_EC[key.curve.name],)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return ("EdDSA",)
    return ()


def _is_text(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_is_text(k) and _is_text(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_is_text(v) for v in value)
    return True


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class CustomTokenVerifier:
    """Verifies the custom tokens of one project."""

    def __init__(
        self,
        config: CustomTokenConfig,
        root: Path,
        clock: Clock,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._http = http
        self._own_http = http is None
        self._secret: bytes | None = None
        self._public: tuple[Any, tuple[str, ...]] | None = None
        self._jwks: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None  # clock seconds of the last fetch attempt
        self._loaded_at: float | None = None  # clock seconds of the last good fetch
        self._fetching: asyncio.Task[None] | None = None
        where = "bastion.yml: auth.providers.custom-token"
        if config.secret is not None:
            self._secret = config.secret.encode()
        elif config.secret_env is not None:
            value = os.environ.get(config.secret_env)
            if value is None or len(value.encode()) < MIN_SECRET_BYTES:
                raise ProjectError(
                    [
                        f"{where}.secret_env: the variable {config.secret_env} must hold a "
                        f"secret of at least {MIN_SECRET_BYTES} bytes"
                        + (" (it is not set)" if value is None else "")
                    ]
                )
            self._secret = value.encode()
        elif config.public_key is not None or config.public_key_file is not None:
            text = config.public_key
            if config.public_key_file is not None:
                path = root / config.public_key_file
                if not path.is_file():
                    raise ProjectError([f"{where}.public_key_file: {path} not found"])
                text = path.read_text(encoding="utf-8")
            try:
                key = load_pem_public_key((text or "").encode())
            except (ValueError, TypeError):
                raise ProjectError([f"{where}: the public key is not a PEM public key"]) from None
            fits = _algorithms_for_key(key)
            if not fits:
                raise ProjectError([f"{where}: use an RSA, EC (P-256/384/521) or Ed25519 key"])
            self._public = (key, self._allowed(fits, where, default=fits[:1]))
        if self._secret is not None:
            self._allowed(("HS256",), where, default=("HS256",))

    def _allowed(
        self, fits: tuple[str, ...], where: str, default: tuple[str, ...]
    ) -> tuple[str, ...]:
        wanted = self._config.algorithms
        if wanted is None:
            return default
        wrong = [a for a in wanted if a not in fits]
        if wrong or not wanted:
            raise ProjectError(
                [
                    f"{where}.algorithms: {', '.join(wrong) or '[]'} cannot be used with this "
                    f"key (it fits {', '.join(fits)})"
                ]
            )
        return tuple(wanted)

    async def aclose(self) -> None:
        """Close the HTTP client this verifier made."""
        if self._own_http and self._http is not None:
            await self._http.aclose()

    # -- verification -----------------------------------------------------------------------

    async def verify(self, token: str) -> CustomIdentity:
        """The identity a valid token names; raises :class:`CustomTokenRefused`."""
        if not isinstance(token, str) or not looks_like_jwt(token):
            raise CustomTokenRefused("not a compact JWT")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise CustomTokenRefused("unreadable header") from None
        key, algorithms = await self._key_for(header)
        if header.get("alg") not in algorithms:
            raise CustomTokenRefused(f"algorithm {header.get('alg')!r} not allowed")
        config = self._config
        required = ["exp", "sub", "aud"] + (["iss"] if config.issuer else [])
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(algorithms),
                audience=config.audience,
                issuer=config.issuer,
                options={
                    "require": required,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "enforce_minimum_key_length": True,
                },
            )
        except (jwt.PyJWTError, ValueError, TypeError) as error:
            raise CustomTokenRefused(type(error).__name__) from None
        return self._identity(claims)

    def _identity(self, claims: dict[str, Any]) -> CustomIdentity:
        if not _is_text(claims):
            raise CustomTokenRefused("claims are not Unicode text")
        now = self._clock().timestamp()
        exp: Any = claims.get("exp")
        nbf: Any = claims.get("nbf")
        iat: Any = claims.get("iat")
        if not _number(exp) or now >= exp + LEEWAY_SECONDS:
            raise CustomTokenRefused("expired")
        if nbf is not None and (not _number(nbf) or now + LEEWAY_SECONDS < nbf):
            raise CustomTokenRefused("not yet valid")
        if iat is not None and (not _number(iat) or iat > now + LEEWAY_SECONDS):
            raise CustomTokenRefused("issued in the future")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT_LENGTH:
            raise CustomTokenRefused("bad subject")
        user_data = claims.get("user_data")
        if user_data is not None and (
            not isinstance(user_data, dict)
            or len(json.dumps(user_data).encode()) > MAX_USER_DATA_BYTES
        ):
            raise CustomTokenRefused("user_data is not a small JSON object")
        fields: dict[str, Any] = {}
        for field, path in self._config.metadata_fields.items():
            value: Any = claims
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if isinstance(value, str | int | float | bool):
                fields[field] = value
        return CustomIdentity(subject, fields, user_data)

    # -- keys ---------------------------------------------------------------------------

    async def _key_for(self, header: dict[str, Any]) -> tuple[Any, tuple[str, ...]]:
        if self._secret is not None:
            return self._secret, ("HS256",)
        if self._public is not None:
            return self._public
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise CustomTokenRefused("bad kid")
        now = self._clock().timestamp()
        loaded, fetched = self._loaded_at, self._fetched_at
        stale = loaded is None or now - loaded >= self._config.jwks_refresh_interval
        unknown = kid is not None and kid not in self._jwks
        # Never fetched: fetch. Stale or an unknown kid: fetch, but not more than every
        # JWKS_MIN_REFETCH seconds, whether the last fetch worked or not.
        if fetched is None or ((stale or unknown) and now - fetched >= JWKS_MIN_REFETCH):
            await self._fetch()
        if kid is None and len(self._jwks) == 1:
            jwk = next(iter(self._jwks.values()))
        elif kid is not None and kid in self._jwks:
            jwk = self._jwks[kid]
        else:
            raise CustomTokenRefused("no key for this token")
        allowed = (jwk.algorithm_name,)
        if (
            self._config.algorithms is not None
            and jwk.algorithm_name not in self._config.algorithms
        ):
            raise CustomTokenRefused("key algorithm not allowed")
        return jwk.key, allowed

    async def _fetch(self) -> None:
        # One fetch at a time: concurrent verifications wait for the same request.
        if self._fetching is None or self._fetching.done():
            self._fetching = asyncio.ensure_future(self._load())
        await asyncio.shield(self._fetching)

    async def _load(self) -> None:
        assert self._config.jwks_url is not None
        self._fetched_at = self._clock().timestamp()
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=JWKS_TIMEOUT, follow_redirects=False)
        try:
            response = await self._http.get(self._config.jwks_url)
            response.raise_for_status()
            keys = jwt.PyJWKSet.from_dict(response.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as error:
            log.warning("custom-token: cannot use the JWKS at %s: %s", self._config.jwks_url, error)
            return
        usable = {(jwk.key_id or ""): jwk for jwk in keys.keys if jwk.algorithm_name in _ASYMMETRIC}
        if not usable:
            log.warning("custom-token: the JWKS at %s has no usable key", self._config.jwks_url)
            return
        self._jwks = usable
        self._loaded_at = self._fetched_at
