"""Requests racing each other: twenty refreshes of one token, requests racing a logout."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from bastion.auth import sessions
from bastion.store.auth.tables import REFRESH_TABLE
from tests.auth.conftest import LOGOUT, Auth, error_code

CLIENTS = 20


async def _refresh_at_once(auth: Auth, token: str) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(auth.refresh(token) for _ in range(CLIENTS))))


async def _refresh_rows(auth: Auth) -> int:
    table = auth.service.store.tables.metadata.tables[REFRESH_TABLE]
    async with auth.service.store.db.read() as conn:
        count: int = (await conn.execute(select(func.count()).select_from(table))).scalar_one()
    return count


async def test_strict_one_wins_and_the_repeats_end_the_session(
    auth_for: Callable[..., Any],
) -> None:
    auth = await auth_for(refresh_reuse_interval=0)  # strict: every repeat is a theft
    pair = await auth.register("ann@example.com")
    answers = await _refresh_at_once(auth, pair["refreshToken"])
    won = [a["data"]["refreshToken"] for a in answers if "errors" not in a]
    lost = [a for a in answers if "errors" in a]
    assert len(won) == 1
    assert [error_code(a) for a in lost] == ["INVALID_REFRESH_TOKEN"] * (CLIENTS - 1)
    assert await _refresh_rows(auth) == 2  # the first token and one successor, never more
    # Strict mode reads the 19 repeats as reuse: the session ends, the winner's pair with it.
    # (This is why clients refresh single-flight, and why the reuse interval exists.)
    assert error_code(await auth.refresh(won[0]["refreshToken"])) == "INVALID_REFRESH_TOKEN"
    assert await auth.refused(won[0]["accessToken"]) == "SESSION_REVOKED"


async def test_with_a_reuse_interval_all_get_the_same_pair(
    auth_for: Callable[..., Any],
) -> None:
    auth = await auth_for(refresh_reuse_interval=5)
    pair = await auth.register("ann@example.com")
    answers = await _refresh_at_once(auth, pair["refreshToken"])
    assert all("errors" not in a for a in answers), [a for a in answers if "errors" in a][:1]
    pairs = [a["data"]["refreshToken"] for a in answers]
    assert all(p == pairs[0] for p in pairs)  # the same pair, never a second new one
    assert pairs[0]["refreshToken"] != pair["refreshToken"]
    assert await _refresh_rows(auth) == 2  # one successor was made, answered 20 times
    # The session is alive and its successor works once, like any refresh token.
    assert await auth.viewer(pairs[0]["accessToken"]) is not None
    assert "errors" not in await auth.refresh(pairs[0]["refreshToken"])


async def test_parallel_refreshes_of_different_sessions_all_succeed(auth: Auth) -> None:
    # No lock in Python serialises unrelated sessions into failures.
    await auth.register("ann@example.com")
    pairs = [await auth.login_pair("ann@example.com") for _ in range(3)]
    answers = await asyncio.gather(*(auth.refresh(p["refreshToken"]) for p in pairs))
    assert all("errors" not in a for a in answers), answers


# -- a logout racing the session check of other requests ---------------------------------------
# The session state is cached per process and loaded once for many requests. A request that
# starts after the logout's answer must see the session ended, however the other requests of
# the same client were interleaved with the logout.


async def test_a_check_inside_the_logout_transaction_is_not_kept(
    auth: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair = await auth.register("ann@example.com")
    revoke = sessions.Sessions._revoke

    async def revoke_then_race(self: sessions.Sessions, *args: Any) -> int:
        ended = await revoke(self, *args)
        # Another request of the client checks the session before the logout commits:
        # it still reads it alive, and that is fine for it, but must not be remembered.
        assert await auth.viewer(pair["accessToken"]) is not None
        return ended

    monkeypatch.setattr(sessions.Sessions, "_revoke", revoke_then_race)
    assert await auth.gql(LOGOUT, {"token": pair["refreshToken"]}) == {"data": {"logout": True}}
    assert await auth.refused(pair["accessToken"]) == "SESSION_REVOKED"


async def test_a_check_started_before_the_logout_is_not_shared(
    auth: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair = await auth.register("ann@example.com")
    monkeypatch.setattr(sessions, "STATE_TTL_SECONDS", 0.0)  # every check loads
    load, state = sessions.Sessions._load_state, sessions.Sessions.state
    read, go_on, late_checks = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def slow_load(self: sessions.Sessions, session_id: str) -> Any:
        found = await load(self, session_id)
        if not read.is_set():  # the first load has read the session alive; now it dawdles
            read.set()
            await go_on.wait()
        return found

    async def checking(self: sessions.Sessions, session_id: str) -> Any:
        if read.is_set():
            late_checks.set()  # the test goes on once this check waits for its state
        return await state(self, session_id)

    monkeypatch.setattr(sessions.Sessions, "_load_state", slow_load)
    monkeypatch.setattr(sessions.Sessions, "state", checking)
    early = asyncio.ensure_future(auth.viewer(pair["accessToken"]))
    await read.wait()
    assert await auth.gql(LOGOUT, {"token": pair["refreshToken"]}) == {"data": {"logout": True}}
    late = asyncio.ensure_future(auth.refused(pair["accessToken"]))
    await late_checks.wait()
    go_on.set()
    await early  # it began before the logout: either answer is right for it
    assert await late == "SESSION_REVOKED"  # it began after: it may not share the early read
