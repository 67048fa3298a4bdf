"""Ending sessions: logout, logoutAll, changePassword, deactivation; each on the next request."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner, Result

import bastion.auth.sessions
from bastion.auth import SYSTEM
from bastion.cli import main
from tests.auth.conftest import LOGOUT, PASSWORD, REFRESH, Auth, error_code

LOGOUT_USER = "mutation ($t: String!) { logoutUser(input: {refreshToken: $t}) { success } }"
CHANGE = """
mutation ($old: String!, $new: String!) {
  changePassword(input: {oldPassword: $old, newPassword: $new})
}
"""


async def test_logout_ends_the_session_on_the_next_request(auth: Auth) -> None:
    mine = await auth.register("ann@example.com")
    other = await auth.login_pair("ann@example.com")
    assert await auth.viewer(mine["accessToken"]) is not None  # cached as alive
    body = await auth.gql(LOGOUT, {"token": mine["refreshToken"]}, token=mine["accessToken"])
    assert body == {"data": {"logout": True}}
    assert await auth.refused(mine["accessToken"]) == "SESSION_REVOKED"
    assert error_code(await auth.refresh(mine["refreshToken"])) == "INVALID_REFRESH_TOKEN"
    # The user's other session is another device: untouched.
    assert await auth.viewer(other["accessToken"]) is not None


async def test_logout_with_an_unknown_token(auth: Auth) -> None:
    body = await auth.gql(LOGOUT, {"token": "nope"})
    assert body == {"data": {"logout": False}}
    body = await auth.gql(LOGOUT_USER, {"t": "nope"})
    assert body == {"data": {"logoutUser": {"success": False}}}


async def test_logout_user_is_logout(auth: Auth) -> None:
    pair = await auth.register("ann@example.com")
    body = await auth.gql(LOGOUT_USER, {"t": pair["refreshToken"]})
    assert body == {"data": {"logoutUser": {"success": True}}}
    assert await auth.refused(pair["accessToken"]) == "SESSION_REVOKED"
    # Twice: the session is already over.
    body = await auth.gql(LOGOUT_USER, {"t": pair["refreshToken"]})
    assert body == {"data": {"logoutUser": {"success": False}}}


async def test_logout_all_ends_every_session_of_the_viewer(auth: Auth) -> None:
    first = await auth.register("ann@example.com")
    second = await auth.login_pair("ann@example.com")
    bob = await auth.register("bob@example.com")
    for pair in (first, second, bob):
        assert await auth.viewer(pair["accessToken"]) is not None
    body = await auth.gql("mutation { logoutAll }", token=second["accessToken"])
    assert body == {"data": {"logoutAll": True}}
    for pair in (first, second):
        assert await auth.refused(pair["accessToken"]) == "SESSION_REVOKED"
        assert error_code(await auth.refresh(pair["refreshToken"])) == "INVALID_REFRESH_TOKEN"
    assert await auth.viewer(bob["accessToken"]) is not None
    assert error_code(await auth.login("ann@example.com", "wrong")) == "INVALID_CREDENTIALS"
    assert "errors" not in await auth.login("ann@example.com")  # logging in again is fine


async def test_change_password_ends_the_other_sessions(auth: Auth) -> None:
    here = await auth.register("ann@example.com")
    elsewhere = await auth.login_pair("ann@example.com")
    assert await auth.viewer(elsewhere["accessToken"]) is not None
    new = "a brand new password"
    body = await auth.gql(CHANGE, {"old": PASSWORD, "new": new}, token=here["accessToken"])
    assert body == {"data": {"changePassword": True}}
    assert await auth.refused(elsewhere["accessToken"]) == "SESSION_REVOKED"
    assert error_code(await auth.refresh(elsewhere["refreshToken"])) == "INVALID_REFRESH_TOKEN"
    # The session that changed it goes on.
    assert await auth.viewer(here["accessToken"]) is not None
    assert "errors" not in await auth.refresh(here["refreshToken"])
    assert error_code(await auth.login("ann@example.com")) == "INVALID_CREDENTIALS"
    assert "errors" not in await auth.login("ann@example.com", new)


async def test_change_password_refusals_end_nothing(auth: Auth) -> None:
    here = await auth.register("ann@example.com")
    elsewhere = await auth.login_pair("ann@example.com")
    wrong = await auth.gql(
        CHANGE, {"old": "not it at all", "new": "whatever 123"}, token=here["accessToken"]
    )
    assert error_code(wrong) == "INVALID_CREDENTIALS"
    short = await auth.gql(CHANGE, {"old": PASSWORD, "new": "short"}, token=here["accessToken"])
    assert error_code(short) == "BAD_USER_INPUT"
    anonymous = await auth.gql(CHANGE, {"old": PASSWORD, "new": "whatever 123"})
    assert error_code(anonymous) == "UNAUTHENTICATED"
    assert await auth.viewer(elsewhere["accessToken"]) is not None
    assert "errors" not in await auth.login("ann@example.com")  # the old password still works


async def test_deactivation_through_a_data_write(auth: Auth) -> None:
    # An admin (here Bastion itself) sets isActive: false; the user's next request is anonymous.
    pair = await auth.register("ann@example.com")
    user = await auth.viewer(pair["accessToken"])
    assert user is not None
    outcome = await auth.service.executor.run(
        "mutation ($id: ID!) { updateUser(id: $id, data: {isActive: false}) { id } }",
        {"id": user["id"]},
        viewer=SYSTEM,
    )
    assert "errors" not in outcome.body, outcome.body
    assert await auth.refused(pair["accessToken"]) == "SESSION_REVOKED"
    assert error_code(await auth.refresh(pair["refreshToken"])) == "INVALID_REFRESH_TOKEN"
    assert error_code(await auth.login("ann@example.com")) == "INVALID_CREDENTIALS"


async def _cli(*args: str) -> Result:
    # The CLI runs its own event loop (asyncio.run): give it a thread, as a shell would a process.
    return await asyncio.to_thread(CliRunner().invoke, main, list(args))


async def test_deactivation_with_the_cli(auth: Auth, monkeypatch: pytest.MonkeyPatch) -> None:
    pair = await auth.register("ann@example.com")
    bob = await auth.register("bob@example.com")
    assert await auth.viewer(pair["accessToken"]) is not None  # the server caches: alive
    folder = str(auth.service.project.root)

    result = await _cli("users", "deactivate", "ANN@example.com", "--project", folder)
    assert result.exit_code == 0, result.output
    # Another process ended the sessions: this server's cache may say "alive" for at most
    # STATE_TTL_SECONDS. Let that bound pass without sleeping.
    monkeypatch.setattr(bastion.auth.sessions, "STATE_TTL_SECONDS", 0.0)
    assert await auth.refused(pair["accessToken"]) == "SESSION_REVOKED"
    assert error_code(await auth.refresh(pair["refreshToken"])) == "INVALID_REFRESH_TOKEN"
    assert error_code(await auth.login("ann@example.com")) == "INVALID_CREDENTIALS"
    assert await auth.viewer(bob["accessToken"]) is not None

    result = await _cli("users", "activate", "ann@example.com", "--project", folder)
    assert result.exit_code == 0, result.output
    assert "errors" not in await auth.login("ann@example.com")
    # Activation lets the user log in again; it does not bring the ended sessions back.
    assert await auth.refused(pair["accessToken"]) == "SESSION_REVOKED"
    assert error_code(await auth.refresh(pair["refreshToken"])) == "INVALID_REFRESH_TOKEN"


async def test_logout_survives_a_restart(auth: Auth, client_for: Any) -> None:
    # Revocations are written to the database, not only to this process's cache.
    pair = await auth.register("ann@example.com")
    assert (await auth.gql(LOGOUT, {"token": pair["refreshToken"]}))["data"] == {"logout": True}
    restarted = Auth(await client_for(auth.service.project))
    assert await restarted.refused(pair["accessToken"]) == "SESSION_REVOKED"
    assert error_code(await restarted.refresh(pair["refreshToken"])) == "INVALID_REFRESH_TOKEN"


async def test_deactivation_through_the_api_ends_sessions(auth_for: Callable[..., Any]) -> None:
    auth = await auth_for()
    pair = await auth.register("ann@example.com")
    user = await auth.viewer(pair["accessToken"])
    assert user is not None
    update = (
        "mutation($id: ID!, $on: Boolean!) { updateUser(id: $id, data: {isActive: $on}) { id } }"
    )
    service = auth.client.app.state.service
    for active in (False, True):
        outcome = await service.executor.run(
            update, {"id": user["id"], "on": active}, viewer=SYSTEM
        )
        assert "errors" not in outcome.body, outcome.body
    # Active again, but the old session stays ended.
    assert await auth.refused(pair["accessToken"]) == "SESSION_REVOKED"
    assert error_code(await auth.gql(REFRESH, {"token": pair["refreshToken"]})) == (
        "INVALID_REFRESH_TOKEN"
    )
