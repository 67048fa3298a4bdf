"""A provider's endpoints and signing keys: its discovery document and its JWKS, cached.

The discovery document must name the configured issuer (a document that names another is
refused). Keys are fetched again when a token names a key id the cached set lacks (the
provider rotated), at most once a minute, so forged key ids cannot make Bastion hammer it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from bastion.auth.openid_settings import OpenIdProviderConfig
from bastion.errors import BastionError, Code

DISCOVERY_TTL = 3600.0
JWKS_TTL = 3600.0
JWKS_MIN_REFETCH = 60.0
MAX_DOCUMENT_BYTES = 512 * 1024


class ProviderUnavailable(BastionError):
    """The provider's documents could not be read (down, or not what they should be)."""

    code = Code.BAD_REQUEST

    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"The {name} sign-in provider is unavailable: {why}", provider=name)


@dataclass(frozen=True)
class Endpoints:
    """Where the provider's steps happen."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


class ProviderMetadata:
    """One provider's endpoints and keys, read over ``http``."""

    def __init__(self, name: str, config: OpenIdProviderConfig, http: httpx.AsyncClient) -> None:
        self.name = name
        self.config = config
        self._http = http
        self._endpoints: tuple[Endpoints, float] | None = None
        self._keys: tuple[KeySet, float] | None = None

    async def _json(self, url: str) -> dict[str, Any]:
        try:
            response = await self._http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as error:
            raise ProviderUnavailable(self.name, f"{url}: {type(error).__name__}") from error
        if response.status_code != 200 or len(response.content) > MAX_DOCUMENT_BYTES:
            raise ProviderUnavailable(self.name, f"{url} answered {response.status_code}")
        try:
            body = response.json()
        except ValueError as error:
            raise ProviderUnavailable(self.name, f"{url} is not JSON") from error
        if not isinstance(body, dict):
            raise ProviderUnavailable(self.name, f"{url} is not a JSON object")
        return body

    async def endpoints(self) -> Endpoints:
        """The endpoints: configured, or from the issuer's discovery document."""
        config = self.config
        if not config.has_id_token:  # OAuth 2: configured (or a preset's), no keys
            assert config.authorization_endpoint and config.token_endpoint
            return Endpoints(
                config.issuer or "", config.authorization_endpoint, config.token_endpoint, ""
            )
        assert config.issuer is not None  # the settings make sure
        if config.authorization_endpoint and config.token_endpoint and config.jwks_uri:
            return Endpoints(
                config.issuer, config.authorization_endpoint, config.token_endpoint, config.jwks_uri
            )
        cached = self._endpoints
        if cached is not None and time.monotonic() - cached[1] < DISCOVERY_TTL:
            return cached[0]
        url = config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = await self._json(url)
        if document.get("issuer") != config.issuer:
            raise ProviderUnavailable(self.name, "the discovery document names another issuer")
        try:
            found = Endpoints(
                config.issuer,
                config.authorization_endpoint or str(document["authorization_endpoint"]),
                config.token_endpoint or str(document["token_endpoint"]),
                config.jwks_uri or str(document["jwks_uri"]),
            )
        except KeyError as error:
            raise ProviderUnavailable(self.name, f"discovery lacks {error}") from error
        self._endpoints = (found, time.monotonic())
        return found

    async def keys(self, *, fresh: bool = False) -> KeySet:
        """The provider's public keys; ``fresh`` asks again unless asked within a minute."""
        cached = self._keys
        if cached is not None:
            age = time.monotonic() - cached[1]
            if age < JWKS_TTL and (not fresh or age < JWKS_MIN_REFETCH):
                return cached[0]
        document = await self._json((await self.endpoints()).jwks_uri)
        try:
            keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as error:
            raise ProviderUnavailable(self.name, "its JWKS does not parse") from error
        self._keys = (keys, time.monotonic())
        return keys
