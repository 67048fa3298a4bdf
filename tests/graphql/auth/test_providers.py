"""Anonymous users, API keys, sessions and linking, over GraphQL and the Stitch routes."""

from __future__ import annotations

from typing import Any

from tests.conftest import unauthenticated
from tests.http.stitch.conftest import APP, BASE, PASSWORD, Stitch, bearer

LOGIN_FIELDS = "accessToken refreshToken accessTokenLifetime refreshTokenLifetime"


async def _gql(stitch: Stitch, query: str, token: str | None = None, **variables: Any) -> Any:
    return await stitch.client.gql(query, variables, headers=bearer(token) if token else None)


def _code(body: dict[str, Any]) -> str:
    code: str = body["errors"][0]["extensions"]["code"]
    return code


async def _viewer_id(stitch: Stitch, token: str) -> str | None:
    body = await _gql(stitch, "{ viewer { user { id } } }", token)
    if unauthenticated(body) is not None:
        return None  # the token is refused
    user = body["data"]["viewer"]["user"]
    return user["id"] if user else None


# -- anonymous --------------------------------------------------------------------------


async def test_each_anonymous_login_is_a_new_user(stitch: Stitch) -> None:
    first = await _gql(stitch, f"mutation {{ loginAnonymous {{ {LOGIN_FIELDS} }} }}")
    second = await _gql(stitch, f"mutation {{ loginAnonymous {{ {LOGIN_FIELDS} }} }}")
    a = await _viewer_id(stitch, first["data"]["loginAnonymous"]["accessToken"])
    b = await _viewer_id(stitch, second["data"]["loginAnonymous"]["accessToken"])
    assert a and b and a != b
    body = await _gql(
        stitch,
        "{ viewer { user { email } identities { provider } } }",
        first["data"]["loginAnonymous"]["accessToken"],
    )
    assert body["data"]["viewer"] == {
        "user": {"email": None},
        "identities": [{"provider": "anon-user"}],
    }


async def test_anonymous_user_is_a_user_for_the_rules(stitch: Stitch) -> None:
    anon = await stitch.logged_in("anon-user")
    create = (
        'mutation ($o: ID!) { createNote(data: {text: "x", owner: {connect: {id: $o}}}) { id } }'
    )
    made = await stitch.graphql(anon["access_token"], create, variables={"o": anon["user_id"]})
    assert "errors" not in made.json(), made.json()
    notes = await stitch.graphql(anon["access_token"], "{ notes { text owner { id } } }")
    assert notes.json()["data"]["notes"] == [{"text": "x", "owner": {"id": anon["user_id"]}}]


# -- API keys ---------------------------------------------------------------------------

CREATE_KEY = "mutation ($n: String!) { createApiKey(input: {name: $n}) { id name key disabled } }"
LOGIN_KEY = f"mutation ($k: String!) {{ loginApiKey(input: {{key: $k}}) {{ {LOGIN_FIELDS} }} }}"


async def test_api_key_over_graphql(stitch: Stitch) -> None:
    ann = await stitch.user()
    token = ann["access_token"]
    made = (await _gql(stitch, CREATE_KEY, token, n="laptop"))["data"]["createApiKey"]
    assert made["name"] == "laptop" and made["disabled"] is False and len(made["key"]) >= 43
    listed = await _gql(stitch, "{ apiKeys { id name disabled createdAt lastUsedAt } }", token)
    (key,) = listed["data"]["apiKeys"]
    assert key["id"] == made["id"] and key["lastUsedAt"] is None
    assert "key" not in key  # the secret is shown once
    login = await _gql(stitch, LOGIN_KEY, k=made["key"])
    key_token = login["data"]["loginApiKey"]["accessToken"]
    assert await _viewer_id(stitch, key_token) == ann["user_id"]
    duplicate = await _gql(stitch, CREATE_KEY, token, n="laptop")
    assert _code(duplicate) == "CONFLICT"
    # Disabling the key ends its sessions and refuses its logins; enabling lets it in again.
    await _gql(
        stitch, "mutation ($i: ID!) { disableApiKey(id: $i) { disabled } }", token, i=key["id"]
    )
    assert await _viewer_id(stitch, key_token) is None
    assert _code(await _gql(stitch, LOGIN_KEY, k=made["key"])) == "INVALID_CREDENTIALS"
    await _gql(
        stitch, "mutation ($i: ID!) { enableApiKey(id: $i) { disabled } }", token, i=key["id"]
    )
    again = await _gql(stitch, LOGIN_KEY, k=made["key"])
    assert "errors" not in again
    await _gql(stitch, "mutation ($i: ID!) { deleteApiKey(id: $i) { id } }", token, i=key["id"])
    assert await _viewer_id(stitch, again["data"]["loginApiKey"]["accessToken"]) is None
    assert _code(await _gql(stitch, LOGIN_KEY, k=made["key"])) == "INVALID_CREDENTIALS"
    # The user's own session is untouched.
    assert await _viewer_id(stitch, token) == ann["user_id"]


async def test_keys_are_private_to_their_user(stitch: Stitch) -> None:
    ann, bob = await stitch.user(), await stitch.user("bob@example.com")
    made = (await _gql(stitch, CREATE_KEY, ann["access_token"], n="k"))["data"]["createApiKey"]
    for mutation in ("deleteApiKey", "disableApiKey", "enableApiKey"):
        body = await _gql(
            stitch,
            f"mutation ($i: ID!) {{ {mutation}(id: $i) {{ id }} }}",
            bob["access_token"],
            i=made["id"],
        )
        assert _code(body) == "NOT_FOUND"
    assert (await _gql(stitch, "{ apiKeys { id } }", bob["access_token"]))["data"]["apiKeys"] == []
    assert _code(await _gql(stitch, CREATE_KEY, None, n="x")) == "UNAUTHENTICATED"


async def test_api_key_routes_take_the_refresh_token(stitch: Stitch) -> None:
    ann = await stitch.user()
    headers = bearer(ann["refresh_token"])
    keys = f"{BASE}/auth/api_keys"
    made = await stitch.http.post(keys, json={"name": "ci"}, headers=headers)
    assert made.status_code == 201
    key = made.json()
    assert set(key) == {"_id", "key", "name", "disabled"} and key["disabled"] is False
    listed = await stitch.http.get(keys, headers=headers)
    assert listed.json() == [{"_id": key["_id"], "name": "ci", "disabled": False}]
    one = await stitch.http.get(f"{keys}/{key['_id']}", headers=headers)
    assert one.json() == {"_id": key["_id"], "name": "ci", "disabled": False}
    assert (
        await stitch.http.put(f"{keys}/{key['_id']}/disable", headers=headers)
    ).status_code == 204
    assert (await stitch.http.get(f"{keys}/{key['_id']}", headers=headers)).json()[
        "disabled"
    ] is True
    refused = await stitch.login("api-key", {"key": key["key"]})
    assert refused.status_code == 401
    assert (
        await stitch.http.put(f"{keys}/{key['_id']}/enable", headers=headers)
    ).status_code == 204
    logged = await stitch.logged_in("api-key", {"key": key["key"]})
    assert logged["user_id"] == ann["user_id"]
    assert (await stitch.http.delete(f"{keys}/{key['_id']}", headers=headers)).status_code == 204
    missing = await stitch.http.get(f"{keys}/{key['_id']}", headers=headers)
    assert missing.status_code == 404 and missing.json()["error_code"] == "APIKeyNotFound"
    assert (await stitch.login("api-key", {"key": key["key"]})).status_code == 401
    # The access token is not the credential of these routes.
    wrong = await stitch.http.get(keys, headers=bearer(ann["access_token"]))
    assert wrong.status_code == 401 and wrong.json()["error_code"] == "InvalidSession"


async def test_unknown_key_and_garbage_are_401(stitch: Stitch) -> None:
    for key in ("nope", "x" * 5000, "\u00e9" * 10):
        response = await stitch.login("api-key", {"key": key})
        assert response.status_code == 401, key
        assert response.json()["error_code"] == "AuthError"


# -- sessions ---------------------------------------------------------------------------

SESSIONS = "{ viewer { sessions { id provider createdAt lastUsedAt userAgent current deviceId } } }"


async def test_viewer_sees_and_revokes_own_sessions(stitch: Stitch) -> None:
    ann = await stitch.user()
    stitch.clock.advance(10)
    phone = await stitch.http.post(
        f"{BASE}/app/{APP}/auth/providers/local-userpass/login",
        json={"username": "ann@example.com", "password": PASSWORD},
        headers={"User-Agent": "phone/1.0"},
    )
    phone_tokens = phone.json()
    body = await _gql(stitch, SESSIONS, ann["access_token"])
    sessions = body["data"]["viewer"]["sessions"]
    assert [s["current"] for s in sessions] == [False, True]  # newest first
    assert sessions[0]["userAgent"] == "phone/1.0"
    assert sessions[0]["deviceId"] == phone_tokens["device_id"]
    assert {s["provider"] for s in sessions} == {"local-userpass"}
    bob = await stitch.user("bob@example.com")
    stranger = await _gql(
        stitch,
        "mutation ($i: ID!) { revokeSession(id: $i) }",
        bob["access_token"],
        i=sessions[0]["id"],
    )
    assert _code(stranger) == "NOT_FOUND"
    revoked = await _gql(
        stitch,
        "mutation ($i: ID!) { revokeSession(id: $i) }",
        ann["access_token"],
        i=sessions[0]["id"],
    )
    assert revoked["data"] == {"revokeSession": True}
    assert await _viewer_id(stitch, phone_tokens["access_token"]) is None
    refresh = await stitch.http.post(
        f"{BASE}/auth/session", headers=bearer(phone_tokens["refresh_token"])
    )
    assert refresh.status_code == 401
    remaining = (await _gql(stitch, SESSIONS, ann["access_token"]))["data"]["viewer"]["sessions"]
    assert [s["current"] for s in remaining] == [True]


async def test_logout_all_and_deactivation_end_stitch_sessions(stitch: Stitch) -> None:
    ann = await stitch.user()
    other = await stitch.logged_in(
        "local-userpass", {"username": "ann@example.com", "password": PASSWORD}
    )
    await _gql(stitch, "mutation { logoutAll }", ann["access_token"])
    for tokens in (ann, other):
        response = await stitch.http.post(
            f"{BASE}/auth/session", headers=bearer(tokens["refresh_token"])
        )
        assert response.status_code == 401
    again = await stitch.logged_in(
        "local-userpass", {"username": "ann@example.com", "password": PASSWORD}
    )
    await _deactivate(stitch, again["user_id"])
    response = await stitch.http.post(
        f"{BASE}/auth/session", headers=bearer(again["refresh_token"])
    )
    assert response.status_code == 401


async def _deactivate(stitch: Stitch, user_id: str) -> None:
    service = stitch.client.app.state.service
    async with service.store.db.write() as conn:
        await service.auth.sessions.end_all_in(conn, user_id)
        await service.store.writer.update(conn, "User", user_id, {"isActive": False})
    service.auth.sessions.forget_all()


async def test_session_token_dies_after_idle_lifetime(stitch_for: Any) -> None:
    stitch = await stitch_for(refresh_token_lifetime=3600)
    ann = await stitch.user()
    headers = bearer(ann["refresh_token"])
    stitch.clock.advance(3000)
    assert (await stitch.http.post(f"{BASE}/auth/session", headers=headers)).status_code == 201
    stitch.clock.advance(3000)  # used 3000 s ago: still alive
    assert (await stitch.http.post(f"{BASE}/auth/session", headers=headers)).status_code == 201
    stitch.clock.advance(3601)
    assert (await stitch.http.post(f"{BASE}/auth/session", headers=headers)).status_code == 401


# -- linking ----------------------------------------------------------------------------

LINK = """mutation ($p: String!, $e: String, $pw: String, $t: String) {
  linkIdentity(input: {provider: $p, email: $e, password: $pw, token: $t}) }"""


async def test_anonymous_user_links_an_email_and_keeps_its_data(stitch: Stitch) -> None:
    anon = await stitch.logged_in("anon-user")
    body = await _gql(
        stitch, LINK, anon["access_token"], p="local-userpass", e="Ann@Example.com", pw=PASSWORD
    )
    assert body["data"] == {"linkIdentity": True}
    login = await stitch.logged_in(
        "local-userpass", {"username": "ann@example.com", "password": PASSWORD}
    )
    assert login["user_id"] == anon["user_id"]
    viewer = await _gql(
        stitch, "{ viewer { user { email } identities { provider } } }", login["access_token"]
    )
    assert viewer["data"]["viewer"] == {
        "user": {"email": "ann@example.com"},
        "identities": [{"provider": "local-userpass"}, {"provider": "anon-user"}],
    }
    again = await _gql(
        stitch, LINK, anon["access_token"], p="local-userpass", e="x@example.com", pw=PASSWORD
    )
    assert _code(again) == "CONFLICT"


async def test_link_route_as_realm_web_does_it(stitch: Stitch) -> None:
    """register, then linkCredentials: the registered identity moves to the linking user."""
    anon = await stitch.logged_in("anon-user")
    registered = await stitch.http.post(
        f"{BASE}/app/{APP}/auth/providers/local-userpass/register",
        json={"email": "ann@example.com", "password": PASSWORD},
    )
    assert registered.status_code == 201
    linked = await stitch.http.post(
        f"{BASE}/app/{APP}/auth/providers/local-userpass/login?link=true",
        json={"username": "ann@example.com", "password": PASSWORD},
        headers=bearer(anon["access_token"]),
    )
    assert linked.status_code == 200, linked.text
    assert linked.json()["user_id"] == anon["user_id"]
    assert await _viewer_id(stitch, linked.json()["access_token"]) == anon["user_id"]
    login = await stitch.logged_in(
        "local-userpass", {"username": "ann@example.com", "password": PASSWORD}
    )
    assert login["user_id"] == anon["user_id"]
    users = stitch.client.app.state.service
    async with users.store.db.read() as conn:
        count = len(await users.auth.accounts.list(conn))
    assert count == 1  # the empty registered user is gone


async def test_link_refuses_another_users_identity(stitch: Stitch) -> None:
    await stitch.user()  # ann has logged in: her identity is hers
    anon = await stitch.logged_in("anon-user")
    wrong = await _gql(
        stitch,
        LINK,
        anon["access_token"],
        p="local-userpass",
        e="ann@example.com",
        pw="not it at all",
    )
    assert _code(wrong) == "INVALID_CREDENTIALS"
    taken = await _gql(
        stitch, LINK, anon["access_token"], p="local-userpass", e="ann@example.com", pw=PASSWORD
    )
    assert _code(taken) == "CONFLICT"
    route = await stitch.http.post(
        f"{BASE}/app/{APP}/auth/providers/anon-user/login?link=true",
        json={},
        headers=bearer(anon["access_token"]),
    )
    assert route.status_code == 400
    unauthenticated = await stitch.http.post(
        f"{BASE}/app/{APP}/auth/providers/local-userpass/login?link=true",
        json={"username": "x@example.com", "password": PASSWORD},
    )
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error_code"] == "InvalidSession"
