"""The custom-token provider through both doors: a user per subject, nothing made on refusal."""

from __future__ import annotations

import asyncio
from typing import Any

import jwt
import pytest

from bastion.errors import ProjectError
from bastion.project.service import Service
from tests.http.stitch.conftest import (
    APP,
    BASE,
    CUSTOM_TOKEN,
    JWT_SECRET,
    PROVIDERS,
    Stitch,
    bearer,
)


def token(stitch: Stitch, secret: str = JWT_SECRET, **claims: Any) -> str:
    """A token of the app's identity system, valid for an hour by default."""
    now = int(stitch.clock().timestamp())
    payload = {"sub": "idp|42", "aud": APP, "iat": now, "exp": now + 3600, **claims}
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, secret, algorithm="HS256")


async def _stitch(stitch_for: Any) -> Stitch:
    stitch: Stitch = await stitch_for({**PROVIDERS, "custom-token": CUSTOM_TOKEN})
    return stitch


async def _users(stitch: Stitch) -> int:
    service = stitch.client.app.state.service
    async with service.store.db.read() as conn:
        return len(await service.auth.accounts.list(conn))


async def test_first_login_makes_the_user_and_later_ones_find_it(stitch_for: Any) -> None:
    stitch = await _stitch(stitch_for)
    claims = {"email": "ann@idp.example", "first_name": "Ann", "user_data": {"plan": "pro"}}
    first = await stitch.logged_in("custom-token", {"token": token(stitch, **claims)})
    access = jwt.decode(first["access_token"], options={"verify_signature": False})
    assert access["user_data"] == {"plan": "pro"}  # the SDKs' user.customData
    profile = await stitch.http.get(f"{BASE}/auth/profile", headers=bearer(first["access_token"]))
    assert profile.json()["data"] == {"email": "ann@idp.example", "first_name": "Ann"}
    assert [i["provider_type"] for i in profile.json()["identities"]] == ["custom-token"]
    stitch.clock.advance(60)
    renamed = {**claims, "first_name": "Anna", "user_data": {"plan": "team"}}
    second = await stitch.logged_in("custom-token", {"token": token(stitch, **renamed)})
    assert second["user_id"] == first["user_id"]
    assert jwt.decode(second["access_token"], options={"verify_signature": False})["user_data"] == {
        "plan": "team"
    }
    refreshed = await stitch.http.post(
        f"{BASE}/auth/session", headers=bearer(second["refresh_token"])
    )
    claims_after = jwt.decode(refreshed.json()["access_token"], options={"verify_signature": False})
    assert claims_after["user_data"] == {"plan": "team"}
    viewer = await stitch.graphql(second["access_token"], "{ viewer { user { firstName } } }")
    assert viewer.json()["data"]["viewer"]["user"] == {"firstName": "Anna"}
    other = await stitch.logged_in("custom-token", {"token": token(stitch, sub="idp|43")})
    assert other["user_id"] != first["user_id"]
    assert await _users(stitch) == 2


async def test_graphql_mirror(stitch_for: Any) -> None:
    stitch = await _stitch(stitch_for)
    body = await stitch.client.gql(
        "mutation ($t: String!) { loginCustomToken(input: {token: $t}) "
        "{ accessToken refreshToken } }",
        {"t": token(stitch)},
    )
    assert "errors" not in body, body
    viewer = await stitch.client.gql(
        "{ viewer { user { id } identities { provider } } }",
        headers=bearer(body["data"]["loginCustomToken"]["accessToken"]),
    )
    assert viewer["data"]["viewer"]["identities"] == [{"provider": "custom-token"}]


async def test_refused_tokens_make_nothing(stitch_for: Any) -> None:
    stitch = await _stitch(stitch_for)
    now = int(stitch.clock().timestamp())
    none_alg = jwt.encode({"sub": "x", "aud": APP, "exp": now + 60}, None, algorithm="none")
    bad = {
        "bad signature": token(stitch, secret="k" * 40),
        "alg none": none_alg,
        "expired": token(stitch, exp=now - 120),
        "wrong aud": token(stitch, aud="another-app"),
        "no sub": token(stitch, sub=None),
        "no exp": token(stitch, exp=None),
        "garbage": "not.a.jwt",
    }
    for name, value in bad.items():
        response = await stitch.login("custom-token", {"token": value})
        assert response.status_code == 401, name
        assert response.headers["content-type"] == "application/json"
        assert response.json()["error_code"] == "AuthError", name
        body = await stitch.client.gql(
            "mutation ($t: String!) { loginCustomToken(input: {token: $t}) { accessToken } }",
            {"t": value},
        )
        assert body["errors"][0]["extensions"]["code"] == "INVALID_CREDENTIALS", name
    assert await _users(stitch) == 0


async def test_link_a_token_to_an_anonymous_user(stitch_for: Any) -> None:
    stitch = await _stitch(stitch_for)
    anon = await stitch.logged_in("anon-user")
    linked = await stitch.http.post(
        f"{BASE}/app/{APP}/auth/providers/custom-token/login?link=true",
        json={"token": token(stitch)},
        headers=bearer(anon["access_token"]),
    )
    assert linked.status_code == 200, linked.text
    login = await stitch.logged_in("custom-token", {"token": token(stitch)})
    assert login["user_id"] == anon["user_id"]
    bob = await stitch.logged_in("anon-user")
    taken = await stitch.http.post(
        f"{BASE}/app/{APP}/auth/providers/custom-token/login?link=true",
        json={"token": token(stitch)},
        headers=bearer(bob["access_token"]),
    )
    assert taken.status_code == 409


async def test_claims_go_into_user_fields_only_when_they_fit(stitch_for: Any) -> None:
    mapping = {"email": "email", "firstName": "first_name", "username": "nick"}
    stitch: Stitch = await stitch_for(
        {**PROVIDERS, "custom-token": {**CUSTOM_TOKEN, "metadata_fields": mapping}}
    )
    first = await stitch.logged_in(
        "custom-token",
        {"token": token(stitch, email=" Ann@IdP.Example ", first_name="Ann", nick="ann")},
    )
    query = "{ viewer { user { email firstName username } } }"
    viewer = await stitch.graphql(first["access_token"], query)
    assert viewer.json()["data"]["viewer"]["user"] == {
        "email": "ann@idp.example",  # normalised like a registration's
        "firstName": "Ann",
        "username": "ann",
    }
    # An email that differs only in case is the same email: the login is refused, not doubled.
    taken = await stitch.login(
        "custom-token", {"token": token(stitch, sub="idp|7", email="ANN@idp.example")}
    )
    assert taken.status_code == 409 and taken.json()["error_code"] == "AccountNameInUse"
    # Values that do not fit their field are left out; the logins go through, and empty or
    # invalid values never make one user's login block another's.
    for sub in ("idp|8", "idp|9"):
        odd = await stitch.logged_in(
            "custom-token",
            {"token": token(stitch, sub=sub, email="not-an-email", first_name=5, nick="")},
        )
        viewer = await stitch.graphql(odd["access_token"], query)
        assert viewer.json()["data"]["viewer"]["user"] == {
            "email": None,
            "firstName": None,
            "username": None,
        }
    assert await _users(stitch) == 3


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("nickname", "User has no such field"),
        ("isActive", "a token cannot set this field"),
        ("id", "a token cannot set this field"),
        ("createdAt", "a token cannot set this field"),
    ],
)
def test_metadata_fields_must_be_settable_user_fields(
    make_project: Any, field: str, message: str
) -> None:
    project = make_project(
        "type Note { text: String! }\n",
        auth={"providers": {"custom-token": {**CUSTOM_TOKEN, "metadata_fields": {field: "c"}}}},
    )
    with pytest.raises(ProjectError) as caught:
        Service(project)
    assert str(caught.value) == (
        f"bastion.yml: auth.providers.custom-token.metadata_fields.{field}: {message}"
    )


async def test_parallel_first_logins_of_one_subject_make_one_user(stitch_for: Any) -> None:
    # Two devices of a new user log in at once: both get in, as the same one user.
    stitch = await _stitch(stitch_for)
    body = {"token": token(stitch, email="ann@idp.example")}
    answers = await asyncio.gather(*(stitch.logged_in("custom-token", body) for _ in range(8)))
    assert len({answer["user_id"] for answer in answers}) == 1
    assert await _users(stitch) == 1
