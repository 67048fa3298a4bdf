"""The audit log: security events written as they happen, read by root, and never holding a
token, a password or a secret (the CLI's ``bastion audit tail``: tests/cli/test_audit.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from bastion.project import Project
from bastion.store.auth.tables import AUDIT_TABLE
from bastion.tools.clock import FrozenClock
from tests.auth.conftest import PASSWORD, REUSE_INTERVAL, SIGNUP, Auth, error_code

EVENTS = """query ($type: [String!], $user: ID) {
  auditEvents(type: $type, userId: $user) {
    id type security userId provider ip userAgent sessionId detail
  }
}"""


async def root_token(auth: Auth) -> str:
    tokens = auth.service.auth.root_tokens
    await tokens.deploy(["audit"])
    token: str = await tokens.get("audit")
    return token


async def events(auth: Auth, **variables: Any) -> list[dict[str, Any]]:
    body = await auth.gql(EVENTS, variables, token=await root_token(auth))
    assert "errors" not in body, body
    found: list[dict[str, Any]] = body["data"]["auditEvents"]
    return found


async def table_text(auth: Auth) -> str:
    """Every value of every audit row, as one text to search for secrets."""
    table = auth.service.store.tables.metadata.tables[AUDIT_TABLE]
    async with auth.service.store.db.read() as conn:
        rows = (await conn.execute(select(table))).all()
    return "\n".join(repr(tuple(row)) for row in rows)


async def test_logins_refreshes_and_reuse_are_recorded_without_secrets(
    auth: Auth, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pair = await auth.register("ann@example.com")
    me = await auth.viewer(pair["accessToken"])
    assert me is not None
    user_id = me["id"]
    assert error_code(await auth.login("ann@example.com", "wrong password")) == (
        "INVALID_CREDENTIALS"
    )
    second = await auth.login_pair("ann@example.com")
    renewed = (await auth.refresh(second["refreshToken"]))["data"]["refreshToken"]["refreshToken"]
    # The used refresh token again, after the reuse interval: a security event, the session ends.
    clock.advance(REUSE_INTERVAL + 1)
    assert error_code(await auth.refresh(second["refreshToken"])) == "INVALID_REFRESH_TOKEN"

    found = [e for e in await events(auth) if e["type"] != "root_token_used"]
    kinds = [e["type"] for e in reversed(found)]
    assert kinds == ["login", "login_failed", "login", "refresh", "refresh_reuse"]
    login, failed, _, refresh, reuse = list(reversed(found))
    assert login["userId"] == user_id and login["provider"] == "local-userpass"
    assert login["ip"] == "127.0.0.1" and login["sessionId"]
    assert failed["userId"] is None and failed["provider"] == "local-userpass"
    assert len(failed["detail"]["account"]) == 16  # a digest's prefix, never the email
    assert refresh["userId"] == user_id and not refresh["security"]
    assert reuse["security"] and reuse["userId"] == user_id

    text = await table_text(auth)
    secrets = [PASSWORD, "wrong password", renewed]
    secrets += [pair["accessToken"], pair["refreshToken"], second["refreshToken"]]
    for secret in secrets:
        assert secret not in text
        # Not even at DEBUG, where the database driver logs every parameter it sends.
        assert secret not in caplog.text
    assert "ann@example.com" not in text  # the table keeps ids and digests, not addresses


async def test_logouts_revocations_and_root_use_are_recorded(auth: Auth) -> None:
    pair = await auth.register("ann@example.com")
    me = await auth.viewer(pair["accessToken"])
    assert me is not None
    user_id = me["id"]
    other = await auth.login_pair("ann@example.com")
    await auth.gql(
        "mutation ($t: String!) { logout(input: {refreshToken: $t}) }",
        {"t": other["refreshToken"]},
    )
    root = await root_token(auth)
    body = await auth.gql(
        "mutation ($id: ID!) { deactivateUser(id: $id) { id } }", {"id": user_id}, token=root
    )
    assert "errors" not in body, body
    found = await events(auth, user=user_id)
    kinds = [e["type"] for e in reversed(found)]
    assert kinds == [
        "login",
        "login",
        "logout",
        "user_deactivated",
        "sessions_revoked",
        "admin_action",
    ]
    assert found[1]["detail"] == {"sessions": 1}
    assert found[0]["detail"] == {"actor": "audit", "action": "deactivateUser"}
    uses = await events(auth, type=["root_token_used"])
    assert uses and uses[0]["detail"] == {"name": "audit"}


async def test_throttling_and_refusals_are_sampled(auth_for: Callable[..., Any]) -> None:
    auth: Auth = await auth_for(throttle={"login_per_ip": "1/minute"})
    await auth.register("ann@example.com")
    for _ in range(4):
        await auth.login("ann@example.com", "wrong")
    for _ in range(3):
        body = await auth.gql("{ secret: usersCount }")
        assert "errors" not in body
        await auth.gql('mutation { deleteUser(id: "x") { id } }')
    limited = await events(auth, type=["rate_limited"])
    assert len(limited) == 1  # three refusals, one event per window
    assert limited[0]["security"] and limited[0]["detail"] == {"limit": "login"}


async def test_audit_events_are_root_only(auth: Auth) -> None:
    pair = await auth.register("ann@example.com")
    body = await auth.gql(EVENTS, token=pair["accessToken"])
    # For a user the field does not exist.
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    listed = await auth.gql("{ __schema { queryType { fields { name } } } }")
    names = {f["name"] for f in listed["data"]["__schema"]["queryType"]["fields"]}
    assert "auditEvents" not in names
    body = await auth.gql("{ auditEvents(first: 0) { id } }", token=await root_token(auth))
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_permission_refusals_are_recorded(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    # Movies may be read by anyone and created by root tokens only.
    project = make_project(auth=SIGNUP, permissions={"Movie": {"read": "everyone"}})
    auth = Auth(await client_for(project))
    pair = await auth.register("ann@example.com")
    for _ in range(3):
        body = await auth.gql(
            'mutation { createMovie(data: {title: "x"}) { id } }', token=pair["accessToken"]
        )
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    denied = await events(auth, type=["permission_denied"])
    assert len(denied) == 1
    assert denied[0]["detail"]["path"] == "createMovie"
