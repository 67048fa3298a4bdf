"""Sign-in with OpenID Connect providers (``auth.providers.openid``, ``docs/signin/openid.md``).

Bastion is the provider's client: the authorization code flow with PKCE, state and nonce
(Authlib's OAuth 2 client), the ID token verified with the issuer's JWKS (joserfc). The
identity it proves (``openid:<name>``, the token's ``sub``) logs in, makes, or links a user
by the rules of :mod:`bastion.auth.openid.accounts`.
"""
