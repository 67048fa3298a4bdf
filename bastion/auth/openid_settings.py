"""``auth.providers.openid``: sign-in with OpenID Connect providers, one entry per provider.

```yaml
auth:
  providers:
    openid:
      google:                       # the provider's name in Bastion (identities, URLs)
        preset: google              # the issuer and scopes of a well-known provider
        client_id: 1234.apps.googleusercontent.com
        client_secret_env: GOOGLE_CLIENT_SECRET
        redirect_urls: [https://app.example.com/signed-in]
        claims: {firstName: given_name, lastName: family_name}
```

Endpoints come from the issuer's discovery document (``/.well-known/openid-configuration``)
unless every one is given (``authorization_endpoint``, ``token_endpoint``, ``jwks_uri``).
"""

from __future__ import annotations

import os
from typing import Annotated, Literal

from pydantic import Field, model_validator

from bastion.tools.section import Section

Url = Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^https?://")]

Preset = Literal["google", "microsoft", "apple", "keycloak", "generic"]
"""Providers whose issuer and scopes Bastion knows (``keycloak`` and ``generic`` need the
issuer; ``microsoft`` takes its tenant)."""

_ISSUERS: dict[str, str] = {
    "google": "https://accounts.google.com",
    "microsoft": "https://login.microsoftonline.com/{tenant}/v2.0",
    "apple": "https://appleid.apple.com",
}
_SCOPES: dict[str, list[str]] = {
    "apple": ["openid", "email", "name"],
}
DEFAULT_SCOPES = ["openid", "email", "profile"]


class OpenIdProviderConfig(Section):
    """One OpenID Connect provider (``auth.providers.openid.<name>``)."""

    enabled: bool = True
    preset: Preset = "generic"
    # Microsoft's directory: a tenant id (its ID tokens name it as issuer); not `common`.
    tenant: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    issuer: Url | None = None
    authorization_endpoint: Url | None = None
    token_endpoint: Url | None = None
    jwks_uri: Url | None = None
    client_id: Annotated[str, Field(min_length=1, max_length=500)]
    client_secret: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    client_secret_env: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    scopes: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = None
    # Other client ids whose ID tokens are accepted by loginOpenId (a native app's own).
    audiences: list[Annotated[str, Field(min_length=1, max_length=500)]] = []
    # Where the browser flow may hand its one-time code: exact URLs of the app.
    redirect_urls: list[Url] = []
    # Bastion's callback as registered at the provider; from the request's URL when unset.
    callback_url: Url | None = None
    # User field <- claim (a dotted path), copied at every sign-in; `email` is taken from the
    # `email` claim only when `email_verified` is true.
    claims: dict[str, Annotated[str, Field(min_length=1, max_length=200)]] = {}
    # Whether a first sign-in makes a new user.
    signup: bool = True
    # The ID token's algorithms accepted.
    algorithms: list[str] = ["RS256", "ES256", "PS256", "EdDSA"]

    @model_validator(mode="after")
    def _issuer_known(self) -> OpenIdProviderConfig:
        if self.issuer is None and self.preset in _ISSUERS:
            if self.preset == "microsoft" and self.tenant is None:
                raise ValueError("the microsoft preset needs `tenant` (your directory's id)")
            self.issuer = _ISSUERS[self.preset].format(tenant=self.tenant)
        if self.issuer is None:
            raise ValueError("give the provider's `issuer` (or a preset that knows it)")
        if self.client_secret is not None and self.client_secret_env is not None:
            raise ValueError("give client_secret or client_secret_env, not both")
        return self

    @property
    def scope(self) -> str:
        """The scopes asked, space-separated."""
        return " ".join(self.scopes or _SCOPES.get(self.preset, DEFAULT_SCOPES))

    def secret(self) -> str | None:
        """The client secret (None: a public client, PKCE alone)."""
        if self.client_secret_env is not None:
            return os.environ.get(self.client_secret_env) or None
        return self.client_secret
