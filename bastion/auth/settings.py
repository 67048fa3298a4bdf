"""The ``auth:`` section of ``bastion.yml``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from bastion.auth.email_settings import EmailCodeConfig, MailedAccountsConfig
from bastion.auth.mfa_settings import MfaConfig
from bastion.auth.openid_settings import OpenIdProviderConfig
from bastion.auth.passkey_settings import PasskeyConfig
from bastion.auth.throttle_settings import ThrottleConfig
from bastion.tools.section import Section

DAY = 86_400

SigningAlgorithm = Literal["EdDSA", "ES256", "RS256", "HS256"]
"""The algorithms a signing key may use (``auth.signing.algorithm``)."""


class PasswordHashConfig(Section):
    """argon2id parameters; never below OWASP's minimum (m=19 MiB, t=2, p=1)."""

    memory_cost: Annotated[int, Field(ge=19_456, le=4_194_304)] = 19_456
    time_cost: Annotated[int, Field(ge=2, le=20)] = 2
    parallelism: Annotated[int, Field(ge=1, le=16)] = 1


class LocalUserpassConfig(MailedAccountsConfig):
    """``auth.providers.local-userpass``: email (or username) and password; confirmations
    and resets by mail (:class:`MailedAccountsConfig`)."""

    enabled: bool = True
    signup: bool = False
    # NIST SP 800-63B-4 asks 15 when the password is the only factor; 8 is its floor.
    min_password_length: Annotated[int, Field(ge=8, le=128)] = 8


class AnonUserConfig(Section):
    """``auth.providers.anon-user``: each login makes a new anonymous user."""

    enabled: bool = False


class ApiKeyConfig(Section):
    """``auth.providers.api-key``: users' and servers' named keys."""

    enabled: bool = False
    # How many keys one user may hold; bounds what a stolen session can mint.
    max_keys_per_user: Annotated[int, Field(ge=1, le=1000)] = 20


class CustomTokenConfig(Section):
    """``auth.providers.custom-token``: JWTs signed by the app's own identity system.

    Exactly one key source: an HS256 ``secret`` (or the environment variable named by
    ``secret_env``), a PEM ``public_key`` (or ``public_key_file``, relative to the project),
    or a ``jwks_url`` fetched and cached for ``jwks_refresh_interval`` seconds.
    """

    enabled: bool = False
    audience: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    issuer: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    secret: Annotated[str, Field(min_length=32)] | None = None
    secret_env: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    public_key: Annotated[str, Field(min_length=1)] | None = None
    public_key_file: Annotated[str, Field(min_length=1)] | None = None
    jwks_url: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    jwks_refresh_interval: Annotated[int, Field(ge=10, le=DAY)] = 600
    # The longest a token may be valid: its `exp` at most this long after its `iat` (or, with
    # no `iat`, after now). A login token is used at once; a long-lived one is a replay risk.
    max_lifetime: Annotated[int, Field(ge=60, le=365 * DAY)] = DAY
    # For a public key or a JWKS: the algorithms accepted (each must fit the key's type).
    algorithms: list[str] | None = None
    # User field <- claim (a dotted path into the token's claims), copied at every login.
    metadata_fields: dict[str, Annotated[str, Field(min_length=1, max_length=200)]] = {}

    @model_validator(mode="after")
    def _one_key_source(self) -> CustomTokenConfig:
        if not self.enabled:
            return self
        sources = [
            name
            for name in ("secret", "secret_env", "public_key", "public_key_file", "jwks_url")
            if getattr(self, name) is not None
        ]
        if len(sources) != 1:
            raise ValueError(
                "give exactly one of secret, secret_env, public_key, public_key_file, jwks_url"
                + (f" (got {', '.join(sources)})" if sources else "")
            )
        if self.audience is None:
            raise ValueError("audience is required: tokens meant for another app are refused")
        return self


class ProvidersConfig(Section):
    """``auth.providers``, keyed by the provider names of the Stitch SDKs."""

    local_userpass: LocalUserpassConfig = Field(
        default=LocalUserpassConfig(), alias="local-userpass"
    )
    anon_user: AnonUserConfig = Field(default=AnonUserConfig(), alias="anon-user")
    api_key: ApiKeyConfig = Field(default=ApiKeyConfig(), alias="api-key")
    custom_token: CustomTokenConfig = Field(default=CustomTokenConfig(), alias="custom-token")
    email_code: EmailCodeConfig = Field(default=EmailCodeConfig(), alias="email-code")
    # OpenID Connect and OAuth 2 providers by name (bastion.auth.openid_settings); identities
    # `openid:<name>`.
    openid: dict[
        Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,30}$")], OpenIdProviderConfig
    ] = {}

    def enabled(self, name: str) -> bool:
        """Whether the provider named ``name`` (a Stitch name) is on; False for unknown names."""
        if name.startswith("openid:"):
            found = self.openid.get(name.removeprefix("openid:"))
            return found is not None and found.enabled
        return {
            "local-userpass": self.local_userpass.enabled,
            "anon-user": self.anon_user.enabled,
            "api-key": self.api_key.enabled,
            "custom-token": self.custom_token.enabled,
            "email-code": self.email_code.enabled,
        }.get(name, False)


class SigningConfig(Section):
    """``auth.signing``: how new signing keys are made (``bastion keys rotate``).

    EdDSA (Ed25519) by default: small, fast and deterministic signatures, and a public key
    other services can verify with (``/.well-known/jwks.json``) without sharing a secret.
    ES256 and RS256 (3072-bit) suit verifiers that lack EdDSA; HS256 keeps tokens verifiable
    only by Bastion. A change applies to the next key: the signing key keeps its algorithm.
    """

    algorithm: SigningAlgorithm = "EdDSA"


class EmailsConfig(Section):
    """``auth.emails``: which new addresses are taken (see :mod:`bastion.model.emails`)."""

    # Addresses mixing writing systems (a Cyrillic er in example.com) or holding full-width
    # letters look like other people's; a project whose users need them opts in.
    allow_mixed_scripts: bool = False


class AuthConfig(Section):
    """``auth:`` — tokens, sessions and the login providers."""

    access_token_lifetime: Annotated[int, Field(ge=10, le=DAY)] = 1800
    refresh_token_lifetime: Annotated[int, Field(ge=60, le=365 * DAY)] = 30 * DAY
    session_max_lifetime: Annotated[int, Field(ge=60, le=3650 * DAY)] = 90 * DAY
    refresh_reuse_interval: Annotated[
        int,
        Field(
            ge=0,
            le=300,
            description=(
                "Seconds during which a refresh token presented again answers the same new "
                "pair instead of ending the session as stolen: two tabs refreshing at once, or "
                "a retry after an answer that never arrived. 0 makes every reuse a theft."
            ),
        ),
    ] = 10
    renew_in_response_header: bool = True
    # Stitch's mode: every operation but the login fields needs a logged-in viewer.
    require_login: bool = False
    invalid_token: Annotated[
        Literal["refuse", "anonymous"],
        Field(
            description=(
                "What a request whose access token is refused (expired, revoked, forged) gets: "
                "`refuse` answers UNAUTHENTICATED (HTTP 401 with "
                "application/graphql-response+json) so that clients refresh and retry; "
                "`anonymous` runs it as anonymous, as Graphcool did. Logins, refresh and "
                "logout run either way."
            )
        ),
    ] = "refuse"  # noqa: S105 - a mode, not a secret
    issuer: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    providers: ProvidersConfig = ProvidersConfig()
    password_hash: PasswordHashConfig = PasswordHashConfig()
    throttle: ThrottleConfig = ThrottleConfig()
    signing: SigningConfig = SigningConfig()
    emails: EmailsConfig = EmailsConfig()
    mfa: MfaConfig = MfaConfig()
    passkeys: PasskeyConfig = PasskeyConfig()

    @model_validator(mode="after")
    def _lifetimes_fit(self) -> AuthConfig:
        if self.refresh_token_lifetime > self.session_max_lifetime:
            raise ValueError("refresh_token_lifetime cannot exceed session_max_lifetime")
        return self
