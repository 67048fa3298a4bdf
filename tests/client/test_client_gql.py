"""gql's HTTPX transports with ``auth=BastionAuth``: the README's example, refresh included."""

from __future__ import annotations

from gql import Client as GQLClient
from gql import gql
from gql.transport.httpx import HTTPXAsyncTransport, HTTPXTransport

from bastion.client import AsyncClient, Client
from tests.client.conftest import PASSWORD, Server, ShiftedClock

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
