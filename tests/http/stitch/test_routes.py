"""The Stitch client API as the SDKs use it: routes, bodies, status codes and error shapes."""

from __future__ import annotations

import re
from typing import Any

import jwt

from tests.conftest import unauthenticated
from tests.http.stitch.conftest import APP, BASE, PASSWORD, Stitch, bearer

HEX24 = re.compile("[0-9a-f]{24}")


def assert_stitch_error(response: Any, status: int, code: str) -> None:
    """The error shape both SDKs parse, with the exact content type Stitch needs."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error_code"] == code, body
    assert isinstance(body["error"], str) and body["error"]
    assert "link" in body


async def test_location_names_this_server(stitch: Stitch) -> None:
    response = await stitch.http.get(f"{BASE}/app/{APP}/location")
    assert response.status_code == 200
    body = response.json()
    assert body["hostname"] == "http://testserver"
    assert body["ws_hostname"] == "ws://testserver"
    assert body["deployment_model"] == "GLOBAL"


async def test_another_app_id_is_not_found(stitch: Stitch) -> None:
    response = await stitch.http.get(f"{BASE}/app/other-app/location")
    assert_stitch_error(response, 404, "AppNotFound")
    response = await stitch.http.post(
        f"{BASE}/app/other-app/auth/providers/anon-user/login", json={}
    )
    assert_stitch_error(response, 404, "AppNotFound")


async def test_password_login_answers_the_sdk_shape(stitch: Stitch) -> None:
    body = await stitch.user()
    assert set(body) == {"access_token", "refresh_token", "user_id", "device_id"}
    assert HEX24.fullmatch(body["user_id"]) and HEX24.fullmatch(body["device_id"])
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    # What the SDKs read from the token without verifying it.
    assert isinstance(claims["exp"], int) and isinstance(claims["iat"], int)
    assert claims["sub"] == body["user_id"]
    assert claims["baas_device_id"] == body["device_id"]


async def test_wrong_password_is_invalid_password(stitch: Stitch) -> None:
    await stitch.user()
    response = await stitch.login(
        "local-userpass", {"username": "ann@example.com", "password": "wrong password!"}
    )
    assert_stitch_error(response, 401, "InvalidPassword")
    unknown = await stitch.login(
        "local-userpass", {"username": "nobody@example.com", "password": PASSWORD}
    )
    assert unknown.json() == response.json()  # nothing tells an unknown account apart


async def test_device_id_as_string_or_oid_is_kept(stitch: Stitch) -> None:
    device = "5f1d7c3a9b1e8a0012345678"
    for form in (device, {"$oid": device}):
        body = await stitch.logged_in("anon-user", {"options": {"device": {"deviceId": form}}})
        assert body["device_id"] == device
    zero = await stitch.logged_in(
        "anon-user", {"options": {"device": {"deviceId": {"$oid": "0" * 24}}}}
    )
    assert HEX24.fullmatch(zero["device_id"]) and zero["device_id"] != "0" * 24
    odd = await stitch.logged_in("anon-user", {"options": {"device": {"deviceId": ["x"]}}})
    assert HEX24.fullmatch(odd["device_id"])


async def test_profile_of_each_kind_of_user(stitch: Stitch) -> None:
    ann = await stitch.user()
    response = await stitch.http.get(f"{BASE}/auth/profile", headers=bearer(ann["access_token"]))
    assert response.status_code == 200
    profile = response.json()
    assert profile["user_id"] == ann["user_id"]
    assert profile["type"] == "normal"
    assert profile["data"] == {"email": "ann@example.com"}
    assert [i["provider_type"] for i in profile["identities"]] == ["local-userpass"]
    anon = await stitch.logged_in("anon-user")
    response = await stitch.http.get(f"{BASE}/auth/profile", headers=bearer(anon["access_token"]))
    profile = response.json()
    assert profile["data"] == {}
    assert [i["provider_type"] for i in profile["identities"]] == ["anon-user"]


async def test_refresh_keeps_the_session_token(stitch: Stitch) -> None:
    body = await stitch.user()
    headers = bearer(body["refresh_token"])
    first = await stitch.http.post(f"{BASE}/auth/session", headers=headers)
    stitch.clock.advance(5)
    second = await stitch.http.post(f"{BASE}/auth/session", headers=headers)
    assert first.status_code == second.status_code == 201
    assert set(first.json()) == {"access_token"}
    assert first.json()["access_token"] != second.json()["access_token"]
    for response in (first, second):
        profile = await stitch.http.get(
            f"{BASE}/auth/profile", headers=bearer(response.json()["access_token"])
        )
        assert profile.json()["user_id"] == body["user_id"]


async def test_expired_access_token_is_invalid_session_until_refreshed(stitch: Stitch) -> None:
    body = await stitch.user()
    stitch.clock.advance(1800 + 31)
    for response in (
        await stitch.http.get(f"{BASE}/auth/profile", headers=bearer(body["access_token"])),
        await stitch.graphql(body["access_token"], "{ viewer { user { id } } }"),
    ):
        assert_stitch_error(response, 401, "InvalidSession")
    fresh = await stitch.http.post(f"{BASE}/auth/session", headers=bearer(body["refresh_token"]))
    response = await stitch.graphql(fresh.json()["access_token"], "{ viewer { user { id } } }")
    assert response.json() == {"data": {"viewer": {"user": {"id": body["user_id"]}}}}


async def test_logout_kills_the_refresh_and_access_tokens(stitch: Stitch) -> None:
    body = await stitch.user()
    response = await stitch.http.delete(
        f"{BASE}/auth/session", headers=bearer(body["refresh_token"])
    )
    assert response.status_code == 204
    refused = await stitch.http.post(f"{BASE}/auth/session", headers=bearer(body["refresh_token"]))
    assert_stitch_error(refused, 401, "InvalidSession")
    profile = await stitch.http.get(f"{BASE}/auth/profile", headers=bearer(body["access_token"]))
    assert_stitch_error(profile, 401, "InvalidSession")
    again = await stitch.http.delete(f"{BASE}/auth/session", headers=bearer(body["refresh_token"]))
    assert again.status_code == 204


async def test_the_two_refresh_families_do_not_mix(stitch: Stitch) -> None:
    body = await stitch.user()
    # A Stitch session token is not a GraphQL refresh token...
    result = await stitch.client.gql(
        "mutation ($t: String!) { refreshToken(input: {refreshToken: $t}) { accessToken } }",
        {"t": body["refresh_token"]},
    )
    assert result["errors"][0]["extensions"]["code"] == "INVALID_REFRESH_TOKEN"
    # ...and a GraphQL refresh token does not refresh a Stitch session.
    login = await stitch.client.gql(
        'mutation { loginEmailPassword(input: {email: "ann@example.com", password: '
        f'"{PASSWORD}"}}) {{ refreshToken }} }}'
    )
    rotating = login["data"]["loginEmailPassword"]["refreshToken"]
    refused = await stitch.http.post(f"{BASE}/auth/session", headers=bearer(rotating))
    assert_stitch_error(refused, 401, "InvalidSession")


async def test_either_logout_ends_a_session_of_either_style(stitch: Stitch) -> None:
    stitch_login = await stitch.user()
    logout = "mutation ($t: String!) { logout(input: {refreshToken: $t}) }"
    # GraphQL's logout with a Stitch session token...
    result = await stitch.client.gql(logout, {"t": stitch_login["refresh_token"]})
    assert result == {"data": {"logout": True}}
    refused = await stitch.http.post(
        f"{BASE}/auth/session", headers=bearer(stitch_login["refresh_token"])
    )
    assert_stitch_error(refused, 401, "InvalidSession")
    profile = await stitch.http.get(
        f"{BASE}/auth/profile", headers=bearer(stitch_login["access_token"])
    )
    assert_stitch_error(profile, 401, "InvalidSession")
    # ...and the Stitch logout with a GraphQL refresh token.
    login = await stitch.client.gql(
        'mutation { loginEmailPassword(input: {email: "ann@example.com", password: '
        f'"{PASSWORD}"}}) {{ accessToken refreshToken }} }}'
    )
    tokens = login["data"]["loginEmailPassword"]
    response = await stitch.http.delete(
        f"{BASE}/auth/session", headers=bearer(tokens["refreshToken"])
    )
    assert response.status_code == 204
    viewer = await stitch.client.gql(
        "{ viewer { user { id } } }", headers=bearer(tokens["accessToken"])
    )
    assert unauthenticated(viewer) == "SESSION_REVOKED"
    again = await stitch.client.gql(
        "mutation ($t: String!) { refreshToken(input: {refreshToken: $t}) { accessToken } }",
        {"t": tokens["refreshToken"]},
    )
    assert again["errors"][0]["extensions"]["code"] == "INVALID_REFRESH_TOKEN"
    assert await stitch.client.gql(logout, {"t": "unknown"}) == {"data": {"logout": False}}


async def test_access_tokens_work_on_both_graphql_routes(stitch: Stitch) -> None:
    body = await stitch.user()
    query = "{ viewer { user { id } } }"
    on_graphql = await stitch.client.gql(query, headers=bearer(body["access_token"]))
    assert on_graphql["data"]["viewer"]["user"]["id"] == body["user_id"]
    login = await stitch.client.gql(
        'mutation { loginEmailPassword(input: {email: "ann@example.com", password: '
        f'"{PASSWORD}"}}) {{ accessToken }} }}'
    )
    token = login["data"]["loginEmailPassword"]["accessToken"]
    on_stitch = await stitch.graphql(token, query)
    assert on_stitch.json()["data"]["viewer"]["user"]["id"] == body["user_id"]


async def test_graphql_route_has_the_same_rules(stitch: Stitch) -> None:
    ann, bob = await stitch.user(), await stitch.user("bob@example.com")
    create = (
        'mutation ($o: ID!) { createNote(data: {text: "mine", owner: {connect: {id: $o}}}) { id } }'
    )
    made = await stitch.graphql(ann["access_token"], create, variables={"o": ann["user_id"]})
    assert "errors" not in made.json(), made.json()
    notes = "{ notes { text } }"
    assert (await stitch.graphql(ann["access_token"], notes)).json()["data"]["notes"] == [
        {"text": "mine"}
    ]
    assert (await stitch.graphql(bob["access_token"], notes)).json()["data"]["notes"] == []
    anonymous = await stitch.http.post(f"{BASE}/app/{APP}/graphql", json={"query": notes})
    assert anonymous.json()["data"]["notes"] == []


async def test_unknown_and_disabled_providers(stitch_for: Any) -> None:
    stitch = await stitch_for({"local-userpass": {"enabled": True}})
    for provider in ("anon-user", "api-key", "custom-token", "custom-function", "nope"):
        response = await stitch.login(provider, {})
        assert_stitch_error(response, 404, "AuthProviderNotFound")
    result = await stitch.client.gql("mutation { loginAnonymous { accessToken } }")
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_malformed_bodies_are_400(stitch: Stitch) -> None:
    url = f"{BASE}/app/{APP}/auth/providers/local-userpass/login"
    for content in (b"{", b"[1]", b'"x"', b'{"username": "\\ud800", "password": "x"}', b"NaN"):
        response = await stitch.http.post(
            url, content=content, headers={"Content-Type": "application/json"}
        )
        assert_stitch_error(response, 400, "BadRequest")
    for body in ({}, {"username": 1, "password": "x"}, {"username": "a@b.c"}):
        response = await stitch.login("local-userpass", body)
        assert_stitch_error(response, 400, "InvalidParameter")
    big = await stitch.http.post(
        url, content=b"{" + b" " * 70_000 + b"}", headers={"Content-Type": "application/json"}
    )
    assert_stitch_error(big, 413, "BadRequest")
    assert (await stitch.login("api-key", {"key": 5})).status_code == 400


async def test_register_conflict_and_signup_off(stitch_for: Any) -> None:
    stitch = await stitch_for()
    await stitch.user()
    again = await stitch.http.post(
        f"{BASE}/app/{APP}/auth/providers/local-userpass/register",
        json={"email": "ANN@example.com", "password": PASSWORD},
    )
    assert_stitch_error(again, 409, "AccountNameInUse")
    closed = await stitch_for({"local-userpass": {"signup": False}})
    response = await closed.http.post(
        f"{BASE}/app/{APP}/auth/providers/local-userpass/register",
        json={"email": "ann@example.com", "password": PASSWORD},
    )
    assert_stitch_error(response, 403, "Forbidden")


async def test_routes_it_does_not_have_answer_stitch_errors(stitch: Stitch) -> None:
    for method, path in (
        ("POST", f"/app/{APP}/functions/other"),
        ("DELETE", "/auth/delete"),
        ("GET", "/nothing/here"),
    ):
        response = await stitch.http.request(method, BASE + path)
        assert_stitch_error(response, 404, "NotFound")
    response = await stitch.http.get(f"{BASE}/auth/session")
    assert_stitch_error(response, 405, "MethodNotAllowed")
    assert response.headers["allow"] == "DELETE, POST"
    response = await stitch.http.put(f"{BASE}/auth/api_keys/{'a' * 24}/enable", json={})
    assert_stitch_error(response, 401, "InvalidSession")  # the real route, not the fallback
