"""Login and sign-up: the public field and type names, loginUser's headers, enumeration."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from bastion.store.auth.tables import SESSION_TABLE
from bastion.tools.clock import FrozenClock
from tests.auth.conftest import LOGIN, PASSWORD, REGISTER, Auth, error_code

TYPE = """
query ($name: String!) {
  __type(name: $name) {
    name
    fields { name type { kind name ofType { name } } }
    inputFields { name type { kind name ofType { name } } }
  }
}
"""
FIELD = """
query ($root: String!) {
  __type(name: $root) {
    fields { name args { name type { kind name ofType { name } } } type { kind name } }
  }
}
"""
LOGIN_USER = """
query ($email: String, $username: String, $password: String!) {
  loginUser(email: $email, username: $username, password: $password) { id email }
}
"""


def _shape(fields: list[dict[str, Any]]) -> dict[str, str]:
    """``{name: "String!"}`` for a list of introspected fields or arguments."""
    shape = {}
    for field in fields:
        kind = field["type"]
        if kind["kind"] == "NON_NULL":
            shape[field["name"]] = f"{kind['ofType']['name']}!"
        else:
            shape[field["name"]] = kind["name"]
    return shape


async def _type(auth: Auth, name: str) -> dict[str, Any]:
    body = await auth.gql(TYPE, {"name": name})
    found: dict[str, Any] = body["data"]["__type"]
    assert found is not None, f"no type {name}"
    return found


async def _roots(auth: Auth, root: str) -> dict[str, dict[str, Any]]:
    body = await auth.gql(FIELD, {"root": root})
    return {field["name"]: field for field in body["data"]["__type"]["fields"]}


async def test_field_and_type_names_are_the_contract(auth: Auth) -> None:
    tokens = {
        "accessToken": "String!",
        "accessTokenLifetime": "Int!",
        "refreshToken": "String!",
        "refreshTokenLifetime": "Int!",
    }
    assert _shape((await _type(auth, "loginEmailPasswordPayload"))["fields"]) == tokens
    assert _shape((await _type(auth, "refreshTokenPayload"))["fields"]) == tokens
    assert _shape((await _type(auth, "loginEmailPasswordInput"))["inputFields"]) == {
        "email": "String!",
        "password": "String!",
    }
    # Optional, as Slicknode declares it (its clients send null once theirs has expired).
    assert _shape((await _type(auth, "refreshTokenInput"))["inputFields"]) == {
        "refreshToken": "String"
    }
    assert _shape((await _type(auth, "logoutUserInput"))["inputFields"]) == {
        "refreshToken": "String"
    }
    assert _shape((await _type(auth, "logoutUserPayload"))["fields"]) == {"success": "Boolean!"}

    mutations = await _roots(auth, "Mutation")
    for name, input_type, payload in [
        ("loginEmailPassword", "loginEmailPasswordInput", "loginEmailPasswordPayload"),
        (
            "registerUserEmailPassword",
            "registerUserEmailPasswordInput",
            "loginEmailPasswordPayload",
        ),
        ("refreshToken", "refreshTokenInput", "refreshTokenPayload"),
        # Slicknode's name for the same mutation: same input, same payload.
        ("refreshAuthToken", "refreshTokenInput", "refreshTokenPayload"),
        ("logoutUser", "logoutUserInput", "logoutUserPayload"),
    ]:
        field = mutations[name]
        assert _shape(field["args"]) == {"input": f"{input_type}!"}, name
        assert field["type"] == {"kind": "OBJECT", "name": payload}, name
    assert set(mutations) >= {"logout", "logoutAll", "changePassword"}
    assert _shape((await _type(auth, "registerUserEmailPasswordInput"))["inputFields"]) == {
        "email": "String!",
        "password": "String!",
        "firstName": "String",
        "lastName": "String",
        "username": "String",
    }

    queries = await _roots(auth, "Query")
    assert _shape(queries["loginUser"]["args"]) == {
        "email": "String",
        "username": "String",
        "password": "String!",
    }
    assert queries["loginUser"]["type"] == {"kind": "OBJECT", "name": "User"}
    assert _shape((await _type(auth, "Viewer"))["fields"])["user"] == "User"


async def test_no_field_tells_anything_about_passwords(auth: Auth) -> None:
    names = {field["name"].lower() for field in (await _type(auth, "User"))["fields"]}
    assert not {name for name in names if "password" in name or "hash" in name}
    assert not {name for name in names if "session" in name or "token" in name}


async def test_login_with_any_case_of_the_email(auth: Auth) -> None:
    first = await auth.register("Ann@Example.com")
    pair = await auth.login_pair("aNN@example.COM")
    assert pair["accessTokenLifetime"] == 1800
    user = await auth.viewer(pair["accessToken"])
    assert user == await auth.viewer(first["accessToken"])
    assert user is not None
    assert user["email"] == "ann@example.com"


async def test_failed_logins_all_answer_the_same(auth: Auth) -> None:
    await auth.register("ann@example.com")
    await auth.register("bob@example.com")
    async with auth.service.store.db.write() as conn:
        await auth.service.auth.accounts.set_active(conn, "bob@example.com", False)
    answers = [
        await auth.login("nobody@example.com"),
        await auth.login("ann@example.com", "wrong password"),
        await auth.login("bob@example.com"),  # right password, deactivated account
    ]
    expected = {
        "data": None,
        "errors": [
            {
                "message": "Invalid credentials",
                "locations": answers[0]["errors"][0]["locations"],
                "path": ["loginEmailPassword"],
                "extensions": {"code": "INVALID_CREDENTIALS"},
            }
        ],
    }
    assert answers == [expected, expected, expected]


async def test_login_starts_a_session_with_the_user_agent(auth: Auth) -> None:
    await auth.register("ann@example.com")
    await auth.client.http.post(
        "/graphql",
        json={"query": LOGIN, "variables": {"email": "ann@example.com", "password": PASSWORD}},
        headers={"User-Agent": "tab/1.0"},
    )
    table = auth.service.store.tables.metadata.tables[SESSION_TABLE]
    async with auth.service.store.db.read() as conn:
        rows = (await conn.execute(select(table).order_by(table.c.created_at))).mappings().all()
    assert len(rows) == 2  # the sign-up's session and the login's
    assert rows[1]["user_agent"] == "tab/1.0"
    assert rows[1]["provider"] == "local-userpass"
    assert rows[1]["revoked_at"] is None


async def test_login_user_sets_both_headers(auth: Auth) -> None:
    await auth.register("ann@example.com", username="ann")
    for by in ({"email": "ANN@example.com"}, {"username": "ann"}):
        response = await auth.post(LOGIN_USER, {**by, "password": PASSWORD})
        body = response.json()
        assert body["data"]["loginUser"]["email"] == "ann@example.com"
        header = response.headers["authorization"]
        assert header.startswith("Bearer ")
        assert response.headers["x-authorization"] == header
        assert response.headers["cache-control"] == "no-store"
        token = header.removeprefix("Bearer ")
        assert await auth.viewer(token) == body["data"]["loginUser"]


async def test_login_user_failures(auth: Auth) -> None:
    await auth.register("ann@example.com", username="ann")
    for by in ({"email": "ann@example.com"}, {"username": "ann"}, {"username": "nobody"}):
        response = await auth.post(LOGIN_USER, {**by, "password": "wrong password"})
        assert error_code(response.json()) == "INVALID_CREDENTIALS"
        assert response.json()["data"] == {"loginUser": None}
        assert "authorization" not in response.headers
        assert "x-authorization" not in response.headers
    body = await auth.gql(LOGIN_USER, {"password": PASSWORD})
    assert error_code(body) == "BAD_USER_INPUT"


async def test_credentials_are_never_taken_over_get(auth: Auth) -> None:
    await auth.register("ann@example.com")
    query = f'{{ loginUser(email: "ann@example.com", password: "{PASSWORD}") {{ id }} }}'
    response = await auth.client.http.get("/graphql", params={"query": query})
    assert error_code(response.json()) == "BAD_REQUEST"
    assert "authorization" not in response.headers


async def test_register_needs_signup(
    auth_for: Callable[..., Any], make_project: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    closed = Auth(await client_for(make_project()))
    body = await closed.gql(REGISTER, {"email": "ann@example.com", "password": PASSWORD})
    assert error_code(body) == "FORBIDDEN"
    assert body["errors"][0]["message"] == "Sign-up is disabled for this project"
    assert error_code(await closed.login("ann@example.com")) == "INVALID_CREDENTIALS"


async def test_register_then_use_the_account(auth: Auth) -> None:
    pair = await auth.register("Ann@Example.com", firstName="Ann", username="ann")
    body = await auth.gql(
        "{ viewer { user { email firstName username isActive } } }", token=pair["accessToken"]
    )
    assert body == {
        "data": {
            "viewer": {
                "user": {
                    "email": "ann@example.com",
                    "firstName": "Ann",
                    "username": "ann",
                    "isActive": True,
                }
            }
        }
    }
    refreshed = await auth.refresh(pair["refreshToken"])
    assert "errors" not in refreshed


async def test_register_a_taken_email_is_a_conflict(auth: Auth) -> None:
    await auth.register("ann@example.com")
    body = await auth.gql(REGISTER, {"email": "ANN@example.com", "password": "another password"})
    assert error_code(body) == "CONFLICT"
    count = await auth.gql("{ usersCount }")
    assert count == {"data": {"usersCount": 1}}


async def test_register_a_taken_username_is_a_conflict(auth: Auth) -> None:
    await auth.register("ann@example.com", username="ann")
    body = await auth.gql(
        REGISTER, {"email": "bob@example.com", "password": PASSWORD, "username": "ann"}
    )
    assert error_code(body) == "CONFLICT"


async def test_register_a_bad_email(auth: Auth) -> None:
    for email in ("", "ann", "@example.com", "ann@", "a nn@example.com"):
        body = await auth.gql(REGISTER, {"email": email, "password": PASSWORD})
        assert error_code(body) == "BAD_USER_INPUT", email


async def test_login_user_header_wins_over_a_renewal(auth: Auth, clock: FrozenClock) -> None:
    ann = await auth.register("ann@example.com")
    await auth.register("bob@example.com")
    clock.advance(1000)  # Ann's token is past half its life: renewal is due
    response = await auth.post(
        LOGIN_USER, {"email": "bob@example.com", "password": PASSWORD}, token=ann["accessToken"]
    )
    assert response.json()["data"]["loginUser"]["email"] == "bob@example.com"
    token = response.headers["x-authorization"].removeprefix("Bearer ")
    user = await auth.viewer(token)
    assert user is not None
    assert user["email"] == "bob@example.com"


# -- Slicknode's optional refresh token -----------------------------------------------------

SLICKNODE_LOGOUT = """mutation logout($refreshToken: String) {
  logoutUser(input: {refreshToken: $refreshToken}) { success }
}"""
SLICKNODE_REFRESH = """mutation refreshToken($token: String!) {
  refreshAuthToken(input: {refreshToken: $token}) { accessToken refreshToken }
}"""


async def test_slicknode_logout_with_its_refresh_token(auth: Auth) -> None:
    pair = await auth.register("ann@example.com")
    body = await auth.gql(SLICKNODE_LOGOUT, {"refreshToken": pair["refreshToken"]})
    assert body == {"data": {"logoutUser": {"success": True}}}
    assert await auth.refused(pair["accessToken"]) == "SESSION_REVOKED"
    again = await auth.gql(SLICKNODE_REFRESH, {"token": pair["refreshToken"]})
    assert error_code(again) == "INVALID_REFRESH_TOKEN"


async def test_slicknode_logout_without_a_refresh_token_ends_the_access_tokens_session(
    auth: Auth,
) -> None:
    # Slicknode's clients send null once their refresh token has expired by their own clock.
    pair = await auth.register("ann@example.com")
    other = await auth.login_pair("ann@example.com")
    body = await auth.gql(SLICKNODE_LOGOUT, {"refreshToken": None}, token=pair["accessToken"])
    assert body == {"data": {"logoutUser": {"success": True}}}
    assert await auth.refused(pair["accessToken"]) == "SESSION_REVOKED"
    assert error_code(await auth.refresh(pair["refreshToken"])) == "INVALID_REFRESH_TOKEN"
    assert await auth.viewer(other["accessToken"]) is not None  # only that session
    # Nobody to log out: anonymous, or the same session again.
    for token in (None, pair["accessToken"]):
        body = await auth.gql(SLICKNODE_LOGOUT, {"refreshToken": None}, token=token)
        assert body["data"] == {"logoutUser": {"success": False}}
    body = await auth.gql("mutation { logout(input: {}) }", token=other["accessToken"])
    assert body == {"data": {"logout": True}}


async def test_a_refresh_without_a_token_is_refused_like_a_wrong_one(auth: Auth) -> None:
    for document, variables in [
        ("mutation { refreshAuthToken(input: {}) { accessToken } }", None),
        (
            "mutation ($t: String) { refreshToken(input: {refreshToken: $t}) { accessToken } }",
            {"t": None},
        ),
    ]:
        body = await auth.gql(document, variables)
        assert error_code(body) == "INVALID_REFRESH_TOKEN", body
