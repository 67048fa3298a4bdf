"""The OAuth 2 side, through Authlib's client: the authorization URL and the code exchange.

PKCE (S256) always, a confidential client when a secret is configured (HTTP Basic at the
token endpoint) and a public one otherwise. An OpenID Connect provider is sent a ``nonce``
(its ID token must carry it); a plain OAuth 2 provider has no ID token, so none is sent.
"""

from __future__ import annotations

import warnings
from typing import Any

from authlib.common.errors import AuthlibBaseError
from authlib.deprecate import AuthlibDeprecationWarning

with warnings.catch_warnings():
    # Authlib 1.6 announces, on import, that its httpx integration will move to a package of
    # its own (httpx2); the API used here stays. Printed at start, the notice broke JSON logs.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client

from bastion.auth.openid.id_tokens import IdTokenRefused
from bastion.auth.openid.metadata import Endpoints
from bastion.auth.openid_settings import OpenIdProviderConfig

TOKEN_TIMEOUT = 10.0


def _client(config: OpenIdProviderConfig, redirect_uri: str) -> AsyncOAuth2Client:
    secret = config.secret()
    return AsyncOAuth2Client(
        client_id=config.client_id,
        client_secret=secret,
        token_endpoint_auth_method="client_secret_basic" if secret else "none",
        scope=config.scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        timeout=TOKEN_TIMEOUT,
    )


def authorization_url(
    config: OpenIdProviderConfig,
    endpoints: Endpoints,
    redirect_uri: str,
    *,
    state: str,
    nonce: str | None,
    verifier: str,
) -> str:
    """Where the browser goes to sign in at the provider."""
    client = _client(config, redirect_uri)
    extra: dict[str, str] = {}
    if nonce is not None:
        extra["nonce"] = nonce
    if config.form_post:
        extra["response_mode"] = "form_post"
    url, _ = client.create_authorization_url(
        endpoints.authorization_endpoint, state=state, code_verifier=verifier, **extra
    )
    return str(url)


async def exchange_code(
    config: OpenIdProviderConfig,
    endpoints: Endpoints,
    redirect_uri: str,
    *,
    code: str,
    verifier: str,
) -> str:
    """The token the provider answers for an authorization code and its PKCE verifier: the
    ID token of an OpenID Connect provider, the access token of a plain OAuth 2 one."""
    async with _client(config, redirect_uri) as client:
        try:
            token: dict[str, Any] = await client.fetch_token(
                endpoints.token_endpoint,
                grant_type="authorization_code",
                code=code,
                code_verifier=verifier,
            )
        except AuthlibBaseError as error:
            raise IdTokenRefused(f"token endpoint: {error.error}") from error
        except Exception as error:  # network errors: the provider did not answer
            raise IdTokenRefused(f"token endpoint: {type(error).__name__}") from error
    wanted = "id_token" if config.has_id_token else "access_token"
    found = token.get(wanted)
    if not isinstance(found, str) or not found:
        raise IdTokenRefused(f"no {wanted} in the token response")
    return found
