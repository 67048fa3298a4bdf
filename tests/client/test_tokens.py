"""When a token is due for a refresh, and how tokens are kept: no server needed."""

from __future__ import annotations

import base64
import json
import stat
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bastion.client import FileTokenStore, GraphQLError, TokenSet, refresh_margin
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


def test_file_store_writes_mode_0600_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "auth" / "tokens.json")
    tokens = TokenSet.issued("a", FrozenClock()(), refresh_token="r", lifetime=60)
    store.save(tokens)
    store.save(replace(tokens, access_token="b"))
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert [p.name for p in store.path.parent.iterdir()] == ["tokens.json"]
    assert FileTokenStore(store.path).load() == replace(tokens, access_token="b")
    store.clear()
    assert not store.path.exists()
    assert store.load() is None


def test_file_store_ignores_a_file_it_did_not_write(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text("not json")
    assert FileTokenStore(path).load() is None


def test_graphql_error_has_the_first_errors_fields_and_all_errors() -> None:
    errors: list[dict[str, Any]] = [
        {"message": "Unauthorized", "path": ["logoutAll"], "locations": [{"line": 1, "column": 12}],
         "extensions": {"code": "UNAUTHENTICATED"}},
        {"message": "Other"},
    ]  # fmt: skip
    error = GraphQLError(errors, {"logoutAll": None})
    assert (error.code, error.path, error.locations) == (
        "UNAUTHENTICATED",
        ["logoutAll"],
        [{"line": 1, "column": 12}],
    )
    assert error.errors == errors and error.data == {"logoutAll": None}
    assert str(error) == "Unauthorized (UNAUTHENTICATED)"
