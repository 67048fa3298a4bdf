"""The custom-token verifier: is this JWT, signed by the app's identity system, good?

A forged token here is a login as anyone, so the verifier trusts nothing the token says about
how to verify it. The key is the project's (:mod:`.keys`: an HS256 secret, a PEM public key,
or a JWKS URL, :mod:`.jwks`) and the algorithm follows from the key; the token goes through
the steps every JWT takes (:mod:`bastion.auth.jwt_checks`: compact form and length cap, the
header only choosing among our keys and their algorithms, PyJWT with every claim we rely on
required), and then through what PyJWT leaves to us (:mod:`.claims`: clean text, types, time
from the injected clock, sizes).

Every refusal is the same :class:`CustomTokenRefused` ("Invalid custom token"), whatever the
cause, so a caller never answers a hostile token with a 500 and never says which check failed.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import httpx

from bastion.auth.jwt_checks import (
    JwtRefused,
    decode,
    header_alg,
    header_kid,
    unverified_header,
)
from bastion.auth.providers.custom_token.claims import CustomIdentity, identity_of, is_clean
from bastion.auth.providers.custom_token.jwks import JwksKeys
from bastion.auth.providers.custom_token.keys import (
    ASYMMETRIC,
    HMAC,
    WHERE,
    PublicKey,
    algorithms_of,
    allowed_algorithms,
    check_jwks_url,
    describe,
    load_public_key,
    secret_bytes,
)
from bastion.auth.settings import CustomTokenConfig
from bastion.errors import BastionError, Code, ProjectError
from bastion.tools.clock import Clock

log = logging.getLogger("bastion.auth")


class CustomTokenRefused(BastionError):
    """The one answer to every refused custom token; ``reason`` is for logs and audit only."""

    code = Code.INVALID_CREDENTIALS

    def __init__(self, reason: str) -> None:
        # The client learns nothing about which check failed; reasons never quote the token.
        super().__init__("Invalid custom token")
        self.reason = reason


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
            raise ProjectError([f"{WHERE}.audience: required, or any app's tokens would do"])
        self._config = config
        self._audience = config.audience
        self._clock = clock
        self._own_http = http is None
        self._key: bytes | PublicKey | None = None  # the one key of a secret or a PEM
        self._jwks: JwksKeys | None = None  # or the keys of a JWKS
        # The algorithms a token's header may name; with a JWKS each key narrows it to one.
        self._algorithms: tuple[str, ...]

        wanted = config.algorithms
        if config.secret is not None:
            self._key = secret_bytes(config.secret, f"{WHERE}.secret")
            self._algorithms = allowed_algorithms(wanted, (HMAC,), "an HS256 secret", None)
        elif config.secret_env is not None:
            where = f"{WHERE}.secret_env"
            value = os.environ.get(config.secret_env)
            if value is None:
                raise ProjectError(
                    [f"{where}: the environment variable {config.secret_env} is not set"]
                )
            self._key = secret_bytes(value, f"{where} (environment variable {config.secret_env})")
            self._algorithms = allowed_algorithms(wanted, (HMAC,), "an HS256 secret", None)
        elif config.public_key is not None or config.public_key_file is not None:
            key = load_public_key(config, root)
            self._key = key
            fits = algorithms_of(key)
            # RSA keys default to RS256; `algorithms` may name others the key type fits.
            self._algorithms = allowed_algorithms(wanted, fits, describe(key), fits[:1])
        elif config.jwks_url is not None:
            check_jwks_url(config.jwks_url)
            self._algorithms = allowed_algorithms(
                wanted, ASYMMETRIC, "a JWKS (asymmetric keys only)", None
            )
            self._jwks = JwksKeys(
                config.jwks_url, config.jwks_refresh_interval, self._algorithms, clock, http
            )
        else:  # pragma: no cover - CustomTokenConfig requires one key source when enabled
            raise ProjectError([f"{WHERE}: no key source (secret, public_key or jwks_url)"])

    async def aclose(self) -> None:
        """Close the HTTP client this verifier made (never one it was given)."""
        if self._own_http and self._jwks is not None and self._jwks.http is not None:
            await self._jwks.http.aclose()
            self._jwks.http = None

    async def verify(self, token: str) -> CustomIdentity:
        """The identity a valid token names; raises :class:`CustomTokenRefused` otherwise."""
        try:
            return await self._verify(token)
        except JwtRefused as refused:
            raise CustomTokenRefused(refused.reason) from None
        except Exception as error:
            # A hostile token must never become a 500: whatever it trips is a refusal.
            log.warning("custom-token: unexpected %s while verifying a token", type(error).__name__)
            raise CustomTokenRefused(f"unexpected {type(error).__name__}") from None

    async def _verify(self, token: str) -> CustomIdentity:
        header = unverified_header(token)
        if not is_clean(header):
            raise JwtRefused("header is not clean text")
        # Exact, case-sensitive match against the key's algorithms: "none", "NONE" and HS256
        # with a public key all stop here, before any key is fetched or any library call.
        alg = header_alg(header, self._algorithms)
        key = self._key
        if key is None:
            assert self._jwks is not None  # one of the two is set by __init__
            key = await self._jwks.key(header_kid(header), alg)
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
        return identity_of(
            claims,
            now=self._clock().timestamp(),
            max_lifetime=config.max_lifetime,
            metadata_fields=config.metadata_fields,
        )
