"""Brute-force limits: a growing delay, then temporary locks per account; attempts per IP.

The account state reads the injected clock, so delays and locks end when the test moves it.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bastion.errors import ProjectError
from bastion.project import load_project
from bastion.tools.clock import FrozenClock
from tests.auth.conftest import LOGIN, PASSWORD, Auth, error_code
from tests.conftest import write_project
from tests.postgres_db import throwaway_database

WRONG = "not the password"


async def attempt(auth: Auth, password: str, email: str = "ann@example.com") -> dict[str, Any]:
    return await auth.login(email, password)


def retry_after(body: dict[str, Any]) -> int:
    assert error_code(body) == "RATE_LIMITED", body
    value: int = body["errors"][0]["extensions"]["retryAfter"]
    return value


async def fail(auth: Auth, times: int, email: str = "ann@example.com", clock: Any = None) -> None:
    """``times`` wrong passwords, each as soon as it is allowed (moving the clock)."""
    for _ in range(times):
        body = await attempt(auth, WRONG, email)
        if error_code(body) == "RATE_LIMITED":
            clock.advance(retry_after(body))
            body = await attempt(auth, WRONG, email)
        assert error_code(body) == "INVALID_CREDENTIALS", body


async def test_delay_grows_from_five_failures_then_locks_then_lets_the_user_in(
    auth: Auth, clock: FrozenClock
) -> None:
    await auth.register("ann@example.com")
    await fail(auth, 5, clock=clock)
    # From the fifth failure each attempt waits 1 s, 2 s, 4 s, 8 s after the last one.
    for wait in (1, 2, 4, 8):
        body = await attempt(auth, PASSWORD)  # even the right password waits
        assert retry_after(body) == wait
        clock.advance(wait)
        assert error_code(await attempt(auth, WRONG)) == "INVALID_CREDENTIALS"
    clock.advance(16)
    assert error_code(await attempt(auth, WRONG)) == "INVALID_CREDENTIALS"  # the tenth
    # Locked for a minute: the same answer as a wrong password, even for the right one.
    locked = await attempt(auth, PASSWORD)
    assert error_code(locked) == "INVALID_CREDENTIALS"
    assert locked["errors"][0]["message"] == (await attempt(auth, WRONG))["errors"][0]["message"]
    clock.advance(59)
    assert error_code(await attempt(auth, PASSWORD)) == "INVALID_CREDENTIALS"
    clock.advance(2)
    ok = await attempt(auth, PASSWORD)
    assert "errors" not in ok, ok
    # A success forgets the failures: the next mistake costs no wait.
    assert error_code(await attempt(auth, WRONG)) == "INVALID_CREDENTIALS"
    assert "errors" not in await attempt(auth, PASSWORD)


async def test_locks_double_up_to_fifteen_minutes_and_failures_are_forgotten(
    auth: Auth, clock: FrozenClock
) -> None:
    await auth.register("ann@example.com")
    await fail(auth, 10, clock=clock)
    for minutes in (1, 2, 4, 8, 15, 15):
        clock.advance(minutes * 60 - 1)
        assert error_code(await attempt(auth, PASSWORD)) == "INVALID_CREDENTIALS"  # locked
        clock.advance(1)
        assert error_code(await attempt(auth, WRONG)) == "INVALID_CREDENTIALS"  # locks again
    # Twelve hours after the last failure it is forgotten, lock and all.
    clock.advance(12 * 3600 + 1)
    assert error_code(await attempt(auth, WRONG)) == "INVALID_CREDENTIALS"
    assert "errors" not in await attempt(auth, PASSWORD)


async def test_unknown_accounts_answer_exactly_like_real_ones(
    auth: Auth, clock: FrozenClock
) -> None:
    await auth.register("ann@example.com")
    answers: dict[str, list[Any]] = {}
    for email in ("ann@example.com", "nobody@example.com"):
        seen = []
        for _ in range(12):
            body = await attempt(auth, WRONG, email)
            seen.append(
                (error_code(body), body["errors"][0].get("extensions", {}).get("retryAfter"))
            )
            clock.advance(30)
        answers[email] = seen
        clock.advance(13 * 3600)
    assert answers["ann@example.com"] == answers["nobody@example.com"]


async def test_per_ip_limits_count_every_attempt(
    auth_for: Callable[..., Any],
) -> None:
    auth: Auth = await auth_for(
        throttle={"login_per_ip": "5/minute", "signup_per_ip": "3/hour"},
        providers={"anon-user": {"enabled": True}},
    )
    await auth.register("ann@example.com")  # one sign-up of three
    for _ in range(5):
        assert "errors" not in await attempt(auth, PASSWORD)
    body = await attempt(auth, PASSWORD)
    assert 0 < retry_after(body) <= 60
    # Refreshes count as logins too.
    assert error_code(await auth.refresh("whatever")) == "RATE_LIMITED"
    anonymous = "mutation { loginAnonymous { accessToken } }"
    assert "errors" not in await auth.gql(anonymous)
    assert "errors" not in await auth.gql(anonymous)
    assert error_code(await auth.gql(anonymous)) == "RATE_LIMITED"


async def test_forwarded_for_is_believed_only_from_trusted_proxies(
    make_project: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    throttle = {"login_per_ip": "2/minute"}
    signup = {"providers": {"local-userpass": {"signup": True}}, "throttle": throttle}
    direct = await client_for(make_project(auth=signup))
    proxied = await client_for(make_project(auth=signup, http={"trusted_proxies": ["127.0.0.1"]}))
    variables = {"email": "x@example.com", "password": WRONG}

    async def login(client: Any, forwarded: str) -> str:
        headers = {"X-Forwarded-For": forwarded}
        body = await client.gql(LOGIN, variables, headers=headers)
        return error_code(body)

    # Not trusted: the header changes nothing, all share the socket's address.
    codes = [await login(direct, f"203.0.113.{i}") for i in range(3)]
    assert codes == ["INVALID_CREDENTIALS", "INVALID_CREDENTIALS", "RATE_LIMITED"]
    # Behind a trusted proxy each forwarded client has its own count.
    codes = [await login(proxied, f"203.0.113.{i}") for i in range(3)]
    assert codes == ["INVALID_CREDENTIALS"] * 3


async def test_stitch_routes_answer_429_with_retry_after(auth_for: Callable[..., Any]) -> None:
    auth: Auth = await auth_for(throttle={"login_per_ip": "1/minute"})
    await auth.register("ann@example.com")
    url = "/api/client/v2.0/app/test-app/auth/providers/local-userpass/login"
    body = {"username": "ann@example.com", "password": WRONG}
    first = await auth.client.http.post(url, json=body)
    assert first.status_code == 401
    second = await auth.client.http.post(url, json=body)
    assert second.status_code == 429
    assert second.headers["content-type"] == "application/json"
    assert 0 < int(second.headers["retry-after"]) <= 60
    assert second.json()["error_code"] == "TooManyRequests"


async def test_redis_storage_shares_the_counts_of_two_workers(
    make_project: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    auth = {
        "providers": {"local-userpass": {"signup": True}},
        "throttle": {"login_per_ip": "3/minute", "storage": "async+redis://127.0.0.1:6379"},
    }
    project = make_project(auth=auth, http={"trusted_proxies": ["127.0.0.1"]})
    first, second = await client_for(project), await client_for(project)
    # A fresh address each run, so counts left in Redis by other runs do not matter.
    ip = f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"
    variables = {"email": "x@example.com", "password": WRONG}
    codes = []
    for client in (first, second, first, second):
        body = await client.gql(LOGIN, variables, headers={"X-Forwarded-For": ip})
        codes.append(error_code(body))
    assert codes == ["INVALID_CREDENTIALS"] * 3 + ["RATE_LIMITED"]


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A new PostgreSQL database, dropped once the apps using it have stopped."""
    async with throwaway_database() as url:
        yield url


async def test_on_postgresql_the_counts_of_two_nodes_are_shared_without_redis(
    postgres_url: str,
    make_project: Callable[..., Any],
    client_for: Callable[..., Any],
    clock: FrozenClock,
) -> None:
    auth = {
        "providers": {"local-userpass": {"signup": True}},
        "throttle": {"login_per_ip": "3/minute"},
    }
    project = make_project(auth=auth, database={"url": postgres_url})
    first, second = await client_for(project), await client_for(project)
    variables = {"email": "x@example.com", "password": WRONG}
    codes = []
    for client in (first, second, first, second):
        codes.append(error_code(await client.gql(LOGIN, variables)))
    assert codes == ["INVALID_CREDENTIALS"] * 3 + ["RATE_LIMITED"]
    body = await second.gql(LOGIN, variables)
    assert 0 < retry_after(body) <= 60
    clock.advance(61)  # the window moves on the injected clock
    assert error_code(await first.gql(LOGIN, variables)) == "INVALID_CREDENTIALS"


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"auth": {"throttle": {"login_per_ip": "lots"}}}, "auth.throttle.login_per_ip"),
        ({"auth": {"throttle": {"storage": "redis://x"}}}, "auth.throttle.storage"),
        ({"auth": {"throttle": {"lock_after": 0}}}, "auth.throttle.lock_after"),
        ({"http": {"trusted_proxies": ["a proxy"]}}, "http.trusted_proxies"),
    ],
)
def test_bad_throttle_settings_are_named(
    tmp_path: Path, config: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ProjectError) as raised:
        load_project(write_project(tmp_path / "p", **config))
    assert expected in str(raised.value)
