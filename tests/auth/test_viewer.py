"""Who is asking: viewer, Unauthorized, why a token was refused, sliding renewal, headers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event

from bastion.http.graphql_http import GRAPHQL_RESPONSE
from bastion.tools.clock import FrozenClock
from tests.auth.conftest import (
    LOGIN,
    LOGOUT,
    PASSWORD,
    REFRESH,
    VIEWER,
    Auth,
    bearer,
    unauthenticated,
)


async def test_anonymous_viewer(auth: Auth) -> None:
    response = await auth.post(VIEWER)
    assert response.json() == {"data": {"viewer": {"user": None}}}
    assert "www-authenticate" not in response.headers
    assert "authorization" not in response.headers
    assert response.headers["cache-control"] == "no-store"


async def test_viewer_user(auth: Auth) -> None:
    pair = await auth.register("ann@example.com", firstName="Ann")
    response = await auth.post(
        "{ viewer { user { id email firstName } } }", token=pair["accessToken"]
    )
    user = response.json()["data"]["viewer"]["user"]
    assert user["email"] == "ann@example.com"
    assert user["firstName"] == "Ann"
    assert "www-authenticate" not in response.headers
    assert "extensions" not in response.json()


async def test_logout_all_needs_a_user(auth: Auth) -> None:
    body = await auth.gql("mutation {\n  logoutAll\n}")
    assert body == {
        "data": None,
        "errors": [
            {
                "message": "Unauthorized",
                "locations": [{"line": 2, "column": 3}],
                "path": ["logoutAll"],
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ],
    }


async def test_a_field_needing_a_user_does_not_stop_the_others(
    auth_for: Callable[..., Any],
) -> None:
    # With require_login, every data field needs a user; viewer stays open to all.
    auth = await auth_for(require_login=True)
    body = await auth.gql('{ viewer { user { id } } movie(id: "x") { title } }')
    assert body == {
        "data": {"viewer": {"user": None}, "movie": None},
        "errors": [
            {
                "message": "Unauthorized",
                "locations": [{"line": 1, "column": 26}],
                "path": ["movie"],
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ],
    }
    pair = await auth.register("ann@example.com")
    body = await auth.gql('{ movie(id: "x") { title } }', token=pair["accessToken"])
    assert body == {"data": {"movie": None}}


async def _revoked_and_broken(auth: Auth) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """A live pair, and tokens refused for each reason but expiry."""
    pair = await auth.register("ann@example.com")
    revoked = await auth.login_pair("ann@example.com")
    await auth.gql(LOGOUT, {"token": revoked["refreshToken"]})
    return pair, [
        ("garbage", "ACCESS_TOKEN_INVALID"),
        (pair["accessToken"][:-2], "ACCESS_TOKEN_INVALID"),
        (revoked["accessToken"], "SESSION_REVOKED"),
    ]


async def test_refused_tokens_are_unauthenticated_errors(
    auth_for: Callable[..., Any], clock: FrozenClock
) -> None:
    auth = await auth_for(access_token_lifetime=60)
    pair, refused = await _revoked_and_broken(auth)
    refused.append((pair["accessToken"], "ACCESS_TOKEN_EXPIRED"))
    for token, reason in refused:
        if reason == "ACCESS_TOKEN_EXPIRED":
            clock.advance(90)
        for accept, status in [("application/json", 200), (GRAPHQL_RESPONSE, 401)]:
            response = await auth.client.http.post(
                "/graphql",
                json={"query": VIEWER},
                headers={**bearer(token), "Accept": accept},
            )
            # Nothing ran: one request error that standard refresh links recognise.
            assert response.status_code == status, (reason, accept)
            body = response.json()
            assert list(body) == ["errors"] and len(body["errors"]) == 1, body
            assert body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED", "reason": reason}
            assert body["errors"][0]["message"]
            assert response.headers["content-type"].startswith(accept)
            assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
            assert response.headers["cache-control"] == "no-store"
            assert "authorization" not in response.headers
            assert "x-authorization" not in response.headers


async def test_a_refused_token_leaves_a_mutation_unrun(auth: Auth) -> None:
    pair, refused = await _revoked_and_broken(auth)
    for token, reason in refused:
        response = await auth.post("mutation { logoutAll }", token=token)
        assert unauthenticated(response.json()) == reason
    assert await auth.viewer(pair["accessToken"]) is not None  # logoutAll never ran


async def test_logins_refreshes_and_logouts_run_beside_a_refused_token(
    auth_for: Callable[..., Any], clock: FrozenClock
) -> None:
    # What a client does once its token is refused must not be refused for that token:
    # Apollo's and urql's refresh set-ups send the expired header along with the refresh.
    auth = await auth_for(access_token_lifetime=60)
    pair = await auth.register("ann@example.com")
    clock.advance(90)
    stale = pair["accessToken"]
    assert await auth.refused(stale) == "ACCESS_TOKEN_EXPIRED"
    refreshed = await auth.gql(REFRESH, {"token": pair["refreshToken"]}, token=stale)
    fresh = refreshed["data"]["refreshToken"]
    assert await auth.viewer(fresh["accessToken"]) is not None
    login = await auth.gql(LOGIN, {"email": "ann@example.com", "password": PASSWORD}, token=stale)
    assert login["data"]["loginEmailPassword"]["accessToken"]
    typed = await auth.gql(
        "fragment F on Mutation { logoutUser(input: {refreshToken: $t}) { success } }\n"
        "mutation ($t: String) { __typename ...F }",
        {"t": fresh["refreshToken"]},
        token=stale,
    )
    assert typed["data"]["logoutUser"] == {"success": True}
    assert await auth.refused(fresh["accessToken"]) == "SESSION_REVOKED"
    # A document that asks anything else besides is refused whole.
    mixed = await auth.gql(
        "mutation ($t: String) { logoutUser(input: {refreshToken: $t}) { success } logoutAll }",
        {"t": login["data"]["loginEmailPassword"]["refreshToken"]},
        token=stale,
    )
    assert unauthenticated(mixed) == "ACCESS_TOKEN_EXPIRED"


async def test_graphcools_invalid_token_is_no_token_by_one_setting(
    auth_for: Callable[..., Any], clock: FrozenClock
) -> None:
    auth = await auth_for(access_token_lifetime=60, invalid_token="anonymous")
    pair, refused = await _revoked_and_broken(auth)
    refused.append((pair["accessToken"], "ACCESS_TOKEN_EXPIRED"))
    for token, code in refused:
        if code == "ACCESS_TOKEN_EXPIRED":
            clock.advance(90)
        response = await auth.post(VIEWER, token=token)
        assert response.status_code == 200
        assert response.json() == {
            "data": {"viewer": {"user": None}},
            "extensions": {"authentication": {"code": code}},
        }
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert "authorization" not in response.headers
    # The top-level extensions sit beside errors and data of the anonymous run.
    response = await auth.post("mutation { logoutAll }", token="garbage")
    body = response.json()
    assert body["extensions"] == {"authentication": {"code": "ACCESS_TOKEN_INVALID"}}
    assert body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_sliding_renewal_after_half_the_lifetime(auth: Auth, clock: FrozenClock) -> None:
    pair = await auth.register("ann@example.com")
    clock.advance(900)  # exactly half of 1800 s: not yet
    response = await auth.post(VIEWER, token=pair["accessToken"])
    assert "x-authorization" not in response.headers
    assert "authorization" not in response.headers
    clock.advance(1)
    response = await auth.post(VIEWER, token=pair["accessToken"])
    renewed = response.headers["x-authorization"]
    assert response.headers["authorization"] == renewed
    assert response.headers["cache-control"] == "no-store"
    token = renewed.removeprefix("Bearer ")
    assert token != pair["accessToken"]
    user = response.json()["data"]["viewer"]["user"]
    assert await auth.viewer(token) == user
    # The renewed token lives its full lifetime from now, past the old one's end.
    clock.advance(929)  # 1830 s: the old token is past its end and the skew
    assert await auth.refused(pair["accessToken"]) == "ACCESS_TOKEN_EXPIRED"
    assert await auth.viewer(token) == user
    # It belongs to the same session: ending the session ends it.
    await auth.gql(LOGOUT, {"token": pair["refreshToken"]})
    assert await auth.refused(token) == "SESSION_REVOKED"


async def test_sliding_renewal_off(auth_for: Callable[..., Any], clock: FrozenClock) -> None:
    auth = await auth_for(renew_in_response_header=False)
    pair = await auth.register("ann@example.com")
    clock.advance(1700)
    response = await auth.post(VIEWER, token=pair["accessToken"])
    assert response.json()["data"]["viewer"]["user"] is not None
    assert "x-authorization" not in response.headers
    assert "authorization" not in response.headers


async def test_sliding_renewal_never_passes_the_session_cap(
    auth_for: Callable[..., Any], clock: FrozenClock
) -> None:
    auth = await auth_for(
        access_token_lifetime=100, refresh_token_lifetime=60, session_max_lifetime=120
    )
    pair = await auth.register("ann@example.com")
    clock.advance(51)  # past half, but a fresh token would outlive the session's 120 s
    response = await auth.post(VIEWER, token=pair["accessToken"])
    assert response.json()["data"]["viewer"]["user"] is not None
    assert "x-authorization" not in response.headers


async def test_the_session_check_costs_no_statement_when_cached(auth: Auth) -> None:
    pair = await auth.register("ann@example.com")
    assert await auth.viewer(pair["accessToken"]) is not None  # the state is now cached
    engine = auth.service.store.db.engine
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        user = await auth.viewer(pair["accessToken"])
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert user is not None
    assert user["email"] == "ann@example.com"
    assert statements == []
