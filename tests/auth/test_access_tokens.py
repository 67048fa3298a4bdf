"""Access tokens: their claims, their lifetime at the boundary with skew, the header."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import jwt
import pytest

from bastion.auth.access_tokens import AccessTokens, TokenRefused
from bastion.auth.key_material import SigningKey
from bastion.auth.keys import KeySet
from bastion.auth.token_times import LEEWAY_SECONDS
from bastion.tools.clock import FrozenClock
from tests.auth.conftest import Auth, unauthenticated

KEY = b"k" * 32


def hmac_tokens(clock: FrozenClock) -> AccessTokens:
    """Access tokens over a key set of one HS256 key, held in memory."""
    return AccessTokens(
        KeySet(clock, None, [SigningKey("k1", "HS256", KEY)]), "iss", "aud", 100, clock
    )


def decode(auth: Auth, token: str) -> dict[str, Any]:
    """The claims of a token, checked with the project's key its header names."""
    key = auth.service.auth.keys.verifying_key(jwt.get_unverified_header(token)["kid"])
    # The injected clock is in 2030: time is the app's to check, not this decoder's.
    claims: dict[str, Any] = jwt.decode(
        token,
        key.verifier,
        algorithms=[key.algorithm],
        audience="test-app",
        options={"verify_iat": False},
    )
    return claims


async def test_access_token_claims(auth: Auth, clock: FrozenClock) -> None:
    pair = await auth.register("ann@example.com")
    user = await auth.viewer(pair["accessToken"])
    assert user is not None
    header = jwt.get_unverified_header(pair["accessToken"])
    # Signed with the project's key (EdDSA by default), which the header names.
    assert header["alg"] == "EdDSA"
    assert header["kid"] == auth.service.auth.keys.signing_key().kid
    claims = decode(auth, pair["accessToken"])
    now = int(clock().timestamp())
    assert set(claims) == {"iss", "aud", "sub", "iat", "exp", "jti", "sid", "typ", "baas_device_id"}
    # The device of the session, which the Stitch SDKs read from the token.
    assert re.fullmatch("[0-9a-f]{24}", claims["baas_device_id"])
    assert claims["iss"] == "bastion:test-app"
    assert claims["aud"] == "test-app"
    assert claims["sub"] == user["id"]
    assert claims["typ"] == "access"
    assert claims["iat"] == now
    assert claims["exp"] == now + 1800
    second = decode(auth, (await auth.login_pair("ann@example.com"))["accessToken"])
    assert second["jti"] != claims["jti"]
    assert second["sid"] != claims["sid"]  # a login is a new session


async def test_default_lifetimes(auth: Auth) -> None:
    pair = await auth.register("ann@example.com")
    assert pair["accessTokenLifetime"] == 1800
    assert pair["refreshTokenLifetime"] == 30 * 86_400


async def test_lifetimes_from_bastion_yml(auth_for: Callable[..., Any]) -> None:
    auth = await auth_for(access_token_lifetime=60, refresh_token_lifetime=3600)
    pair = await auth.register("ann@example.com")
    assert pair["accessTokenLifetime"] == 60
    assert pair["refreshTokenLifetime"] == 3600
    claims = decode(auth, pair["accessToken"])
    assert claims["exp"] - claims["iat"] == 60


async def test_expiry_at_the_boundary_with_skew(
    auth_for: Callable[..., Any], clock: FrozenClock
) -> None:
    auth = await auth_for(access_token_lifetime=60, renew_in_response_header=False)
    token = (await auth.register("ann@example.com"))["accessToken"]
    clock.advance(60 + LEEWAY_SECONDS - 1)  # exp + 29 s: still inside the allowed skew
    assert await auth.viewer(token) is not None
    clock.advance(1)  # exp + 30 s
    assert await auth.refused(token) == "ACCESS_TOKEN_EXPIRED"


def test_expiry_boundary_of_the_verifier_and_its_cache() -> None:
    clock = FrozenClock()
    tokens = hmac_tokens(clock)
    token, claims = tokens.issue("user", "session")
    assert tokens.verify(token) == claims  # now cached
    clock.advance(100 + 29)
    assert tokens.verify(token) == claims
    clock.advance(1)
    with pytest.raises(TokenRefused) as refused:
        tokens.verify(token)  # a cached token is not spared the time check
    assert refused.value.code == "ACCESS_TOKEN_EXPIRED"


def test_a_token_from_the_future_beyond_the_skew_is_refused() -> None:
    clock = FrozenClock()
    tokens = hmac_tokens(clock)
    near, _ = tokens.issue("user", "s", issued_at=clock() + timedelta(seconds=30))
    far, _ = tokens.issue("user", "s", issued_at=clock() + timedelta(seconds=31))
    assert tokens.verify(near).user_id == "user"
    with pytest.raises(TokenRefused) as refused:
        tokens.verify(far)
    assert refused.value.code == "ACCESS_TOKEN_INVALID"


def _signed(tokens: AccessTokens, clock: FrozenClock, **claims: Any) -> str:
    """A token signed with the set's own key, with ``claims`` over the usual ones."""
    now = int(clock().timestamp())
    payload = {"iss": "iss", "aud": "aud", "sub": "user", "iat": now, "exp": now + 100}
    payload.update({"jti": "j", "sid": "s", "typ": "access", **claims})
    return jwt.encode(payload, KEY, algorithm="HS256", headers={"kid": "k1"})


def test_a_token_not_valid_yet_is_refused_until_its_nbf() -> None:
    clock = FrozenClock()
    tokens = hmac_tokens(clock)
    now = int(clock().timestamp())
    later = _signed(tokens, clock, nbf=now + 60)
    assert tokens.verify(_signed(tokens, clock, nbf=now + 30)).user_id == "user"  # the skew
    with pytest.raises(TokenRefused) as refused:
        tokens.verify(later)
    assert refused.value.code == "ACCESS_TOKEN_INVALID"
    clock.advance(31)
    assert tokens.verify(later).user_id == "user"  # cached, and checked again in time
    with pytest.raises(TokenRefused):
        tokens.verify(_signed(tokens, clock, nbf=str(now)))  # a string nbf


def test_an_exp_beyond_the_lifetime_of_its_kind_is_refused() -> None:
    clock = FrozenClock()
    tokens = hmac_tokens(clock)  # access tokens live 100 s
    now = int(clock().timestamp())
    assert tokens.verify(_signed(tokens, clock, exp=now + 130)).user_id == "user"
    for token in (
        _signed(tokens, clock, exp=now + 131),
        _signed(tokens, clock, exp=now + 365 * 86_400),
        _signed(tokens, clock, typ="node", ntp="Movie", exp=now + 365 * 86_400 + 31),
    ):
        with pytest.raises(TokenRefused) as refused:
            tokens.verify(token)
        assert refused.value.code == "ACCESS_TOKEN_INVALID"
    year = _signed(tokens, clock, typ="node", ntp="Movie", exp=now + 365 * 86_400)
    assert tokens.verify(year).node_type == "Movie"


async def test_scheme_is_case_insensitive(auth: Auth) -> None:
    token = (await auth.register("ann@example.com"))["accessToken"]
    for scheme in ("Bearer", "bearer", "BEARER"):
        body = (
            await auth.client.http.post(
                "/graphql",
                json={"query": "{ viewer { user { email } } }"},
                headers={"Authorization": f"{scheme} {token}"},
            )
        ).json()
        assert body == {"data": {"viewer": {"user": {"email": "ann@example.com"}}}}


async def test_another_scheme_is_refused(auth: Auth) -> None:
    token = (await auth.register("ann@example.com"))["accessToken"]
    response = await auth.client.http.post(
        "/graphql", json={"query": "{ viewer { user { id } } }"}, headers={"Authorization": token}
    )
    assert unauthenticated(response.json()) == "ACCESS_TOKEN_INVALID"
