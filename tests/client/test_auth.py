"""``BastionAuth`` against a real server: automatic refresh (single flight, retries, ended
sessions), and gql's HTTPX transports with ``auth=BastionAuth``, the README's example.

Refreshes are counted in the server's database. The client is put at its token's expiry by
moving its own clock (the server's cannot be moved from here), so nothing sleeps.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from gql import Client as GQLClient
from gql import gql
from gql.transport.httpx import HTTPXAsyncTransport, HTTPXTransport

from bastion.client import AsyncClient, Client, SessionExpired, TokenSet
from tests.client.conftest import PASSWORD, Server, ShiftedClock

CALLERS = 20


def _refused_by_the_server(tokens: TokenSet | None) -> TokenSet:
    """The same session with an access token whose signature the server will not accept."""
    assert tokens is not None
    header, payload, _ = tokens.access_token.split(".")
    return replace(tokens, access_token=f"{header}.{payload}.{'A' * 43}")


async def test_twenty_tasks_at_expiry_make_one_refresh(server: Server, email: str) -> None:
    clock = ShiftedClock()
    async with AsyncClient(server.url, clock=clock) as client:
        await client.login_email_password(email, PASSWORD)
        before = client.auth.tokens
        assert before is not None
        clock.reach(before.expires_at)
        users = await asyncio.gather(*(client.viewer() for _ in range(CALLERS)))
        after = client.auth.tokens
    assert [user and user["email"] for user in users] == [email] * CALLERS
    assert server.refreshes(email) == 1
    assert after is not None and after.refresh_token != before.refresh_token


def test_twenty_threads_at_expiry_make_one_refresh(server: Server, email: str) -> None:
    clock = ShiftedClock()
    start = threading.Barrier(CALLERS)

    with Client(server.url, clock=clock) as client:
        client.login_email_password(email, PASSWORD)
        tokens = client.auth.tokens
        assert tokens is not None
        clock.reach(tokens.expires_at)

        def call(_: int) -> str | None:
            start.wait(timeout=30)
            user = client.viewer()
            return user["email"] if user else None

        with ThreadPoolExecutor(CALLERS) as pool:
            emails = list(pool.map(call, range(CALLERS)))
    assert emails == [email] * CALLERS
    assert server.refreshes(email) == 1


async def test_a_refused_token_is_refreshed_once_and_the_requests_retried(
    server: Server, email: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with AsyncClient(server.url) as client:
        await client.login_email_password(email, PASSWORD)
        refused = _refused_by_the_server(client.auth.tokens)
        client.auth.use(refused)
        users = await asyncio.gather(*(client.viewer() for _ in range(CALLERS)))
        fresh = client.auth.tokens
    assert [user and user["email"] for user in users] == [email] * CALLERS
    assert server.refreshes(email) == 1
    assert fresh is not None and fresh.access_token != refused.access_token
    # Nothing the client logged shows a token.
    secrets = [refused.access_token, refused.refresh_token, fresh.access_token, fresh.refresh_token]
    assert caplog.records and not any(secret and secret in caplog.text for secret in secrets)


def test_a_refused_token_in_many_threads_makes_one_refresh(server: Server, email: str) -> None:
    start = threading.Barrier(CALLERS)
    with Client(server.url) as client:
        client.login_email_password(email, PASSWORD)
        client.auth.use(_refused_by_the_server(client.auth.tokens))

        def call(_: int) -> str | None:
            start.wait(timeout=30)
            user = client.viewer()
            return user["email"] if user else None

        with ThreadPoolExecutor(CALLERS) as pool:
            emails = list(pool.map(call, range(CALLERS)))
    assert emails == [email] * CALLERS
    assert server.refreshes(email) == 1


async def test_a_session_ended_elsewhere_raises_session_expired(server: Server, email: str) -> None:
    async with AsyncClient(server.url) as client, AsyncClient(server.url) as other:
        await client.login_email_password(email, PASSWORD)
        await other.login_email_password(email, PASSWORD)
        assert await other.logout_all() is True
        results = await asyncio.gather(*(client.viewer() for _ in range(5)), return_exceptions=True)
        assert all(isinstance(result, SessionExpired) for result in results), results
        assert client.auth.tokens is None
        assert await client.viewer() is None  # anonymous from now on, until a new login


def test_a_refresh_token_used_elsewhere_ends_the_session(server: Server, email: str) -> None:
    # Someone else refreshed with this client's refresh token (a copied token file): the
    # client's own refresh is then a reuse, which the server takes as theft.
    clock = ShiftedClock()
    with Client(server.url, clock=clock) as client, Client(server.url) as thief:
        client.login_email_password(email, PASSWORD)
        tokens = client.auth.tokens
        assert tokens is not None
        thief.auth.use(tokens)
        thief.refresh()
        clock.reach(tokens.expires_at)
        with pytest.raises(SessionExpired):
            client.execute("{ viewer { user { id } } }")
        assert client.auth.tokens is None
        # The whole session ended: the thief's fresh tokens are refused too.
        with pytest.raises(SessionExpired):
            thief.viewer()


# -- gql's HTTPX transports with auth=BastionAuth ------------------------------------------

VIEWER = gql("{ viewer { user { email } } }")


def test_gql_sync_transport_refreshes_at_expiry(server: Server, email: str) -> None:
    clock = ShiftedClock()
    with Client(server.url, clock=clock) as bastion:
        bastion.login_email_password(email, PASSWORD)
        transport = HTTPXTransport(url=server.url, auth=bastion.auth)
        with GQLClient(transport=transport) as session:
            first = session.execute(VIEWER)
            tokens = bastion.auth.tokens
            assert tokens is not None
            clock.reach(tokens.expires_at)
            second = session.execute(VIEWER)
    assert first == second == {"viewer": {"user": {"email": email}}}
    assert server.refreshes(email) == 1


async def test_gql_async_transport_refreshes_at_expiry(server: Server, email: str) -> None:
    clock = ShiftedClock()
    async with AsyncClient(server.url, clock=clock) as bastion:
        await bastion.login_email_password(email, PASSWORD)
        transport = HTTPXAsyncTransport(url=server.url, auth=bastion.auth)
        async with GQLClient(transport=transport) as session:
            tokens = bastion.auth.tokens
            assert tokens is not None
            clock.reach(tokens.expires_at)
            result = await session.execute(VIEWER)
    assert result == {"viewer": {"user": {"email": email}}}
    assert server.refreshes(email) == 1
