"""When a token is due for a refresh, and what a token set shows: no server needed."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest

from bastion.client import TokenSet, refresh_margin
from bastion.tools.clock import FrozenClock


def _jwt(claims: dict[str, object]) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("lifetime", "margin"),
    [(1800, 180), (600, 60), (20, 2), (10, 2), (3, 1.5)],
)
def test_margin_is_a_tenth_at_least_two_seconds_at_most_half(
    lifetime: float, margin: float
) -> None:
    assert refresh_margin(lifetime) == margin


def test_a_token_is_due_at_its_margin_before_expiry() -> None:
    clock = FrozenClock()
    tokens = TokenSet.issued("access", clock(), refresh_token="refresh", lifetime=100)
    clock.advance(100 - 10 - 0.001)
    assert not tokens.needs_refresh(clock())
    clock.advance(0.001)
    assert tokens.needs_refresh(clock())


def test_lifetime_comes_from_the_token_when_the_payload_has_none() -> None:
    clock = FrozenClock()
    token = _jwt({"sub": "u1", "iat": 1_000, "exp": 1_900})
    tokens = TokenSet.issued(token, clock(), refresh_token="r")
    assert tokens.lifetime == 900
    assert tokens.expires_at == clock() + timedelta(seconds=900)


def test_root_tokens_and_tokens_without_refresh_token_are_never_due() -> None:
    clock = FrozenClock()
    root = TokenSet.root_token("root-secret")
    header_only = TokenSet.issued(_jwt({"iat": 0, "exp": 10}), clock())
    clock.advance(3600)
    assert not root.needs_refresh(clock())
    assert not header_only.needs_refresh(clock())
    assert not root.refreshable and not header_only.refreshable


def test_repr_never_shows_a_token() -> None:
    tokens = TokenSet.issued("secret-access", FrozenClock()(), "secret-refresh", 60)
    assert "secret" not in repr(tokens)
