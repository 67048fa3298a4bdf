"""``auth.providers.openid``: sign-in with OpenID Connect and plain OAuth 2 providers, one
entry per provider.

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
      github:
        preset: github              # OAuth 2 without ID tokens: endpoints and claims known
        client_id: Iv1.0123
        client_secret_env: GITHUB_CLIENT_SECRET
        redirect_urls: [https://app.example.com/signed-in]
```

An OpenID Connect provider (``type: oidc``) proves the person with an ID token; its endpoints
come from the issuer's discovery document (``/.well-known/openid-configuration``) unless every
one is given (``authorization_endpoint``, ``token_endpoint``, ``jwks_uri``). A plain OAuth 2
provider (``type: oauth2``) has no ID token: Bastion reads the person from its
``userinfo_endpoint`` (and ``emails_endpoint``) with the access token of the code exchange,
and ``userinfo_claims`` says where the standard claims are in that answer.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import Field, model_validator

from bastion.tools.section import Section

Url = Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^https?://")]
ClaimPath = Annotated[str, Field(min_length=1, max_length=200)]

Preset = Literal["google", "microsoft", "apple", "keycloak", "generic", "github", "discord"]
"""Providers whose issuer or endpoints, and scopes, Bastion knows (``keycloak`` and ``generic``
need the issuer; ``microsoft`` takes its tenant; ``github`` and ``discord`` are OAuth 2)."""

Kind = Literal["oidc", "oauth2"]
ResponseMode = Literal["query", "form_post"]
StandardClaim = Literal["sub", "email", "email_verified", "name"]
STANDARD_CLAIMS: tuple[StandardClaim, ...] = ("sub", "email", "email_verified", "name")

_ISSUERS: dict[str, str] = {
    "google": "https://accounts.google.com",
    "microsoft": "https://login.microsoftonline.com/{tenant}/v2.0",
    "apple": "https://appleid.apple.com",
}
_SCOPES: dict[str, list[str]] = {
    "apple": ["openid", "email", "name"],
}
# Apple answers with a cross-site form POST whenever `name` or `email` is asked.
_RESPONSE_MODES: dict[str, ResponseMode] = {"apple": "form_post"}
DEFAULT_SCOPES = ["openid", "email", "profile"]
DEFAULT_USERINFO_CLAIMS: dict[StandardClaim, str] = {
    "sub": "sub",
    "email": "email",
    "email_verified": "email_verified",
    "name": "name",
}


@dataclass(frozen=True)
class OAuthPreset:
    """A well-known OAuth 2 provider: its endpoints, scopes and userinfo claims."""

    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    scopes: list[str]
    userinfo_claims: dict[StandardClaim, str]
    emails_endpoint: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


OAUTH_PRESETS: dict[str, OAuthPreset] = {
    # GitHub's /user names a public address, verified or not; /user/emails gives the primary
    # one with its `verified` flag, which is what decides (see bastion.auth.openid.userinfo).
    "github": OAuthPreset(
        authorization_endpoint="https://github.com/login/oauth/authorize",
        token_endpoint="https://github.com/login/oauth/access_token",  # noqa: S106 (a URL)
        userinfo_endpoint="https://api.github.com/user",
        emails_endpoint="https://api.github.com/user/emails",
        scopes=["read:user", "user:email"],
        userinfo_claims={"sub": "id", "name": "name"},
    ),
    "discord": OAuthPreset(
        authorization_endpoint="https://discord.com/oauth2/authorize",
        token_endpoint="https://discord.com/api/oauth2/token",  # noqa: S106 (a URL)
        userinfo_endpoint="https://discord.com/api/users/@me",
        scopes=["identify", "email"],
        userinfo_claims={"sub": "id", "email_verified": "verified", "name": "global_name"},
    ),
}


class OpenIdProviderConfig(Section):
    """One OpenID Connect or OAuth 2 provider (``auth.providers.openid.<name>``)."""

    enabled: bool = True
    preset: Preset = "generic"
    # oidc: an ID token proves the person; oauth2: the userinfo endpoint does (no ID token).
    type: Kind | None = None
    # Microsoft's directory: a tenant id (its ID tokens name it as issuer); not `common`.
    tenant: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    issuer: Url | None = None
    authorization_endpoint: Url | None = None
    token_endpoint: Url | None = None
    jwks_uri: Url | None = None
    # OAuth 2 only: who the access token belongs to, and (GitHub) their addresses.
    userinfo_endpoint: Url | None = None
    emails_endpoint: Url | None = None
    # OAuth 2 only: standard claim <- where the userinfo answer has it (a dotted path).
    userinfo_claims: dict[StandardClaim, ClaimPath] = {}
    # How the provider answers the callback: a redirect (query), or a cross-site form POST
    # (Apple). Default: form_post for the apple preset, query otherwise.
    response_mode: ResponseMode | None = None
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
    claims: dict[str, ClaimPath] = {}
    # Whether a first sign-in makes a new user.
    signup: bool = True
    # The ID token's algorithms accepted.
    algorithms: list[str] = ["RS256", "ES256", "PS256", "EdDSA"]

    @model_validator(mode="after")
    def _complete(self) -> OpenIdProviderConfig:
        fill = self._fill
        oauth = OAUTH_PRESETS.get(self.preset)
        if self.type is None:
            fill("type", "oauth2" if oauth else "oidc")
        if self.response_mode is None:
            fill("response_mode", _RESPONSE_MODES.get(self.preset, "query"))
        if self.client_secret is not None and self.client_secret_env is not None:
            raise ValueError("give client_secret or client_secret_env, not both")
        if self.type == "oauth2":
            return self._oauth(oauth, fill)
        if oauth is not None:
            raise ValueError(f"the {self.preset} preset is OAuth 2: leave `type` out")
        if self.userinfo_endpoint or self.emails_endpoint or self.userinfo_claims:
            raise ValueError("userinfo_endpoint, emails_endpoint and userinfo_claims are oauth2's")
        if self.issuer is None and self.preset in _ISSUERS:
            if self.preset == "microsoft" and self.tenant is None:
                raise ValueError("the microsoft preset needs `tenant` (your directory's id)")
            fill("issuer", _ISSUERS[self.preset].format(tenant=self.tenant))
        if self.issuer is None:
            raise ValueError("give the provider's `issuer` (or a preset that knows it)")
        return self

    def _fill(self, name: str, value: object) -> None:
        # Frozen: a preset's values are filled in once, while the settings are validated.
        object.__setattr__(self, name, value)

    def _oauth(
        self, preset: OAuthPreset | None, fill: Callable[[str, object], None]
    ) -> OpenIdProviderConfig:
        if preset is None and self.preset != "generic":
            raise ValueError(f"the {self.preset} preset is OpenID Connect: leave `type` out")
        if preset is not None:
            for name in (
                "authorization_endpoint",
                "token_endpoint",
                "userinfo_endpoint",
                "emails_endpoint",
            ):
                if getattr(self, name) is None:
                    fill(name, getattr(preset, name))
            if self.scopes is None:
                fill("scopes", list(preset.scopes))
        wanted: dict[StandardClaim, str] = {
            **DEFAULT_USERINFO_CLAIMS,
            **(preset.userinfo_claims if preset else {}),
        }
        fill("userinfo_claims", {**wanted, **self.userinfo_claims})
        missing = [
            name
            for name in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint")
            if getattr(self, name) is None
        ]
        if missing:
            raise ValueError(f"an oauth2 provider needs {', '.join(missing)} (or a preset)")
        if self.jwks_uri is not None or self.audiences:
            raise ValueError(
                "jwks_uri and audiences are for ID tokens: an oauth2 provider has none"
            )
        return self

    @property
    def has_id_token(self) -> bool:
        """Whether the provider proves the person with an ID token (OpenID Connect)."""
        return self.type != "oauth2"

    @property
    def form_post(self) -> bool:
        """Whether the provider answers the callback with a cross-site form POST."""
        return self.response_mode == "form_post"

    @property
    def scope(self) -> str:
        """The scopes asked, space-separated."""
        default = _SCOPES.get(self.preset, DEFAULT_SCOPES if self.has_id_token else [])
        return " ".join(self.scopes or default)

    def secret(self) -> str | None:
        """The client secret (None: a public client, PKCE alone)."""
        if self.client_secret_env is not None:
            return os.environ.get(self.client_secret_env) or None
        return self.client_secret
