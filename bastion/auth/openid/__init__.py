"""Sign-in with OpenID Connect and plain OAuth 2 providers (``auth.providers.openid``,
``docs/signin/openid.md``, ``docs/signin/oauth2.md``, ``docs/signin/apple.md``).

Bastion is the provider's client: the authorization code flow with PKCE and state (and a
nonce when there is an ID token) through Authlib's OAuth 2 client; an ID token verified with
the issuer's JWKS (joserfc), or, for a plain OAuth 2 provider, its userinfo endpoint read with
the access token. The identity it proves (``openid:<name>``, the provider's subject) logs in,
makes, or links a user by the rules of :mod:`bastion.auth.openid.accounts`.
"""
