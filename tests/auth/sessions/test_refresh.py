"""Refresh: rotation, single use, reuse ending the session, the reuse interval, lifetimes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete, select

from bastion.store.auth.tables import SESSION_TABLE
from bastion.store.counting import statements
from bastion.tools.clock import FrozenClock
from tests.auth.conftest import LOGOUT, REFRESH, REUSE_INTERVAL, Auth, error_code

ALIAS = REFRESH.replace("refreshToken(input", "refreshAuthToken(input")


def _pair(body: dict[str, Any], field: str = "refreshToken") -> dict[str, Any]:
    assert "errors" not in body, body
    pair: dict[str, Any] = body["data"][field]
    return pair


async def test_rotation(auth: Auth) -> None:
    first = await auth.register("ann@example.com")
    second = _pair(await auth.refresh(first["refreshToken"]))
    assert second["refreshToken"] != first["refreshToken"]
    assert second["accessToken"] != first["accessToken"]
    assert second["accessTokenLifetime"] == 1800
    assert second["refreshTokenLifetime"] == 30 * 86_400
    user = await auth.viewer(second["accessToken"])
    assert user is not None
    assert user == await auth.viewer(first["accessToken"])  # one session, still alive
    third = _pair(await auth.refresh(second["refreshToken"]))
    assert await auth.viewer(third["accessToken"]) == user


async def test_refresh_auth_token_is_the_same_mutation(auth: Auth, clock: FrozenClock) -> None:
    first = await auth.register("ann@example.com")
    second = _pair(await auth.gql(ALIAS, {"token": first["refreshToken"]}), "refreshAuthToken")
    assert await auth.viewer(second["accessToken"]) is not None
    # One family of tokens: a token used by one name is used for the other too.
    clock.advance(REUSE_INTERVAL + 1)
    assert error_code(await auth.refresh(first["refreshToken"])) == "INVALID_REFRESH_TOKEN"


async def test_reuse_ends_the_whole_session(auth: Auth, clock: FrozenClock) -> None:
    first = await auth.register("ann@example.com")
    other = await auth.login_pair("ann@example.com")  # another session of the same user
    second = _pair(await auth.refresh(first["refreshToken"]))
    assert await auth.viewer(second["accessToken"]) is not None  # the session state is cached
    clock.advance(REUSE_INTERVAL + 1)  # past the interval in which a repeat is a retry

    body = await auth.refresh(first["refreshToken"])  # a thief, or a replay
    assert error_code(body) == "INVALID_REFRESH_TOKEN"
    assert body["errors"][0]["message"] == "Invalid refresh token"
    assert body["data"] is None  # a mutation that failed answers no data

    # The newest refresh token and every access token of the session stop at once.
    assert error_code(await auth.refresh(second["refreshToken"])) == "INVALID_REFRESH_TOKEN"
    assert await auth.refused(second["accessToken"]) == "SESSION_REVOKED"
    assert await auth.refused(first["accessToken"]) == "SESSION_REVOKED"
    # Only that session: the user's other one lives on.
    assert await auth.viewer(other["accessToken"]) is not None
    assert "errors" not in await auth.refresh(other["refreshToken"])


async def test_unknown_and_malformed_refresh_tokens(auth: Auth) -> None:
    pair = await auth.register("ann@example.com")
    for token in ("", "nope", pair["accessToken"], pair["refreshToken"] + "x", "x" * 10_000):
        assert error_code(await auth.refresh(token)) == "INVALID_REFRESH_TOKEN", token[:20]
    assert "errors" not in await auth.refresh(pair["refreshToken"])  # none of that hurt it


async def test_refresh_token_expiry(auth_for: Callable[..., Any], clock: FrozenClock) -> None:
    auth = await auth_for(refresh_token_lifetime=120, access_token_lifetime=60)
    first = await auth.register("ann@example.com")
    assert first["refreshTokenLifetime"] == 120
    clock.advance(119)
    second = _pair(await auth.refresh(first["refreshToken"]))
    assert second["refreshTokenLifetime"] == 120  # idle lifetime: counted from this refresh
    clock.advance(120)
    assert error_code(await auth.refresh(second["refreshToken"])) == "INVALID_REFRESH_TOKEN"


async def test_refresh_never_passes_the_session_cap(
    auth_for: Callable[..., Any], clock: FrozenClock
) -> None:
    auth = await auth_for(
        refresh_token_lifetime=100, session_max_lifetime=150, access_token_lifetime=60
    )
    pair = await auth.register("ann@example.com")
    clock.advance(90)
    pair = _pair(await auth.refresh(pair["refreshToken"]))
    assert pair["refreshTokenLifetime"] == 60  # what is left of the session's 150 s
    clock.advance(59)
    pair = _pair(await auth.refresh(pair["refreshToken"]))
    assert pair["refreshTokenLifetime"] == 1
    clock.advance(1)
    assert error_code(await auth.refresh(pair["refreshToken"])) == "INVALID_REFRESH_TOKEN"
    # The session is over for its access tokens too, though the token itself has not expired.
    assert await auth.refused(pair["accessToken"]) == "SESSION_REVOKED"


async def test_deactivated_user_cannot_refresh(auth: Auth) -> None:
    pair = await auth.register("ann@example.com")
    async with auth.service.store.db.write() as conn:
        await auth.service.auth.accounts.set_active(conn, "ann@example.com", False)
    assert error_code(await auth.refresh(pair["refreshToken"])) == "INVALID_REFRESH_TOKEN"


async def test_deleted_user_cannot_refresh(auth: Auth) -> None:
    pair = await auth.register("ann@example.com")
    users = auth.service.store.tables["User"]
    async with auth.service.store.db.write() as conn:
        await conn.execute(delete(users))
    auth.service.auth.sessions.forget_all()
    assert error_code(await auth.refresh(pair["refreshToken"])) == "INVALID_REFRESH_TOKEN"
    assert await auth.refused(pair["accessToken"]) == "SESSION_REVOKED"


async def test_refresh_updates_last_used(auth: Auth, clock: FrozenClock) -> None:
    pair = await auth.register("ann@example.com")
    created = clock()
    clock.advance(100)
    await auth.refresh(pair["refreshToken"])
    table = auth.service.store.tables.metadata.tables[SESSION_TABLE]
    async with auth.service.store.db.read() as conn:
        row = (await conn.execute(select(table))).mappings().one()
    assert row["created_at"] == created
    assert row["last_used_at"] == clock()


# -- auth.refresh_reuse_interval --------------------------------------------------------------


async def test_reuse_within_the_interval_answers_the_same_pair(
    auth_for: Callable[..., Any], clock: FrozenClock
) -> None:
    auth = await auth_for(refresh_reuse_interval=5)
    first = await auth.register("ann@example.com")
    second = _pair(await auth.refresh(first["refreshToken"]))
    clock.advance(5)  # the second tab, up to 5 s later
    again = _pair(await auth.gql(ALIAS, {"token": first["refreshToken"]}), "refreshAuthToken")
    assert again == second  # the same pair, not a second new one
    # The session lives on, and the successor still works exactly once.
    assert await auth.viewer(second["accessToken"]) is not None
    third = _pair(await auth.refresh(second["refreshToken"]))
    assert await auth.viewer(third["accessToken"]) is not None


async def test_reuse_after_the_interval_ends_the_session(
    auth_for: Callable[..., Any], clock: FrozenClock
) -> None:
    auth = await auth_for(refresh_reuse_interval=5)
    first = await auth.register("ann@example.com")
    second = _pair(await auth.refresh(first["refreshToken"]))
    clock.advance(6)
    assert error_code(await auth.refresh(first["refreshToken"])) == "INVALID_REFRESH_TOKEN"
    assert error_code(await auth.refresh(second["refreshToken"])) == "INVALID_REFRESH_TOKEN"
    assert await auth.refused(second["accessToken"]) == "SESSION_REVOKED"


async def test_reuse_interval_does_not_revive_an_ended_session(
    auth_for: Callable[..., Any],
) -> None:
    auth = await auth_for(refresh_reuse_interval=5)
    first = await auth.register("ann@example.com")
    second = _pair(await auth.refresh(first["refreshToken"]))
    assert await auth.gql(LOGOUT, {"token": second["refreshToken"]}) == {"data": {"logout": True}}
    assert error_code(await auth.refresh(first["refreshToken"])) == "INVALID_REFRESH_TOKEN"


@pytest.mark.sqlite_only(reason="SQLite's writer")
async def test_a_refresh_costs_five_statements_and_one_commit_on_sqlite(auth: Auth) -> None:
    first = await auth.register("ann@example.com")
    await auth.service.auth.keys.settle()  # what the first token signed, recorded
    with statements() as seen:
        _pair(await auth.refresh(first["refreshToken"]))
    # Claim the token, read its session, touch the session, the successor, audit: one
    # transaction on the writer, no savepoint when nothing else is writing.
    assert seen == [
        "BEGIN",
        "UPDATE _bastion_refresh_token",
        "SELECT",
        "UPDATE _bastion_session",
        "INSERT _bastion_refresh_token",
        "INSERT _bastion_audit",
        "COMMIT",
    ]


@pytest.mark.postgresql_only(reason="PostgreSQL's writing WITH")
async def test_a_refresh_costs_one_statement_on_postgresql(auth_for: Callable[..., Any]) -> None:
    # Without the throttle, which counts each attempt in the database on PostgreSQL.
    auth = await auth_for(throttle={"enabled": False})
    first = await auth.register("ann@example.com")
    await auth.service.auth.keys.settle()  # what the first token signed, recorded
    with statements() as seen:
        _pair(await auth.refresh(first["refreshToken"]))
    # The claim, the successor, the touch and the audit row in one statement, which is its
    # own transaction: no BEGIN, no COMMIT.
    assert seen == ["WITH"]
