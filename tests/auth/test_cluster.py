"""Several processes on one PostgreSQL database behave as one server: what one node revokes,
every node refuses as soon as it commits (two apps in-process here, each with its own caches,
as two processes have; tests/e2e/test_cluster.py runs real processes)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from bastion.auth import cluster, node_tokens, root_tokens, sessions
from bastion.auth.cluster import Cursor, EventLog, decode, encode
from bastion.auth.events import (
    KeysChanged,
    RootTokensChanged,
    SessionsEnded,
    UserChanged,
    UsersChanged,
)
from bastion.project import Project
from bastion.store.notifications import Listener
from bastion.tools.clock import FrozenClock
from tests.auth.conftest import LOGOUT, PASSWORD, SIGNUP, Auth
from tests.postgres_db import throwaway_database

Nodes = Callable[[], Awaitable[tuple[Auth, Auth]]]


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    """A new PostgreSQL database, dropped once the nodes using it have stopped."""
    async with throwaway_database() as url:
        yield url


@pytest.fixture
def nodes(
    database_url: str,
    make_project: Callable[..., Project],
    client_for: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> Nodes:
    """Two nodes of one project on one new PostgreSQL database (started when asked).

    Their caches trust what they read for an hour: only an event can make them forget.
    """
    monkeypatch.setattr(sessions, "STATE_TTL_SECONDS", 3600.0)
    monkeypatch.setattr(root_tokens, "STATE_TTL_SECONDS", 3600.0)
    monkeypatch.setattr(node_tokens, "STATE_TTL_SECONDS", 3600.0)
    project = make_project(auth=SIGNUP, database={"url": database_url})

    async def start() -> tuple[Auth, Auth]:
        return Auth(await client_for(project)), Auth(await client_for(project))

    return start


def hears(node: Auth, kind: type[Any]) -> asyncio.Event:
    """Set once ``node`` has heard an event of class ``kind`` (from another node)."""
    heard = asyncio.Event()
    node.service.events.subscribe(kind, lambda _: heard.set())
    return heard


async def told(heard: asyncio.Event) -> None:
    """Wait until the event is heard (the bound is generous: CI machines are slow)."""
    await asyncio.wait_for(heard.wait(), 10)


async def test_a_logout_on_one_node_is_refused_by_the_other_at_once(nodes: Nodes) -> None:
    a, b = await nodes()
    pair = await a.register("ann@example.com")
    assert await b.viewer(pair["accessToken"]) is not None  # b has the session cached alive
    ended = hears(b, SessionsEnded)
    body = await a.gql(LOGOUT, {"token": pair["refreshToken"]})
    assert body["data"]["logout"] is True
    await told(ended)
    assert await b.refused(pair["accessToken"]) is not None
    assert await a.refused(pair["accessToken"]) is not None


async def test_a_node_that_cannot_listen_hears_by_polling(
    nodes: Nodes, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def cannot(_self: Listener) -> None:
        raise OSError("LISTEN is not carried (a pooling proxy)")

    monkeypatch.setattr(Listener, "connect", cannot)
    monkeypatch.setattr(cluster, "POLL_SECONDS", 0.01)
    a, b = await nodes()
    pair = await a.register("ann@example.com")
    assert await b.viewer(pair["accessToken"]) is not None
    ended = hears(b, SessionsEnded)
    await a.gql(LOGOUT, {"token": pair["refreshToken"]})
    await told(ended)
    assert await b.refused(pair["accessToken"]) is not None


async def test_a_root_token_rotated_on_one_node_is_refused_by_the_other(nodes: Nodes) -> None:
    a, b = await nodes()
    old = await a.service.auth.root_tokens.ensure("_ops")
    assert await b.service.auth.root_tokens.check(old) == "_ops"  # cached on b
    changed = hears(b, RootTokensChanged)
    new = await a.service.auth.root_tokens.rotate("_ops")
    await told(changed)
    assert await b.service.auth.root_tokens.check(old) is None
    assert await b.service.auth.root_tokens.check(new) == "_ops"


async def test_a_password_change_ends_the_other_sessions_on_every_node(nodes: Nodes) -> None:
    a, b = await nodes()
    first = await a.register("ann@example.com")
    second = await b.login_pair("ann@example.com")
    assert await b.viewer(first["accessToken"]) is not None
    ended = hears(b, SessionsEnded)
    change = """mutation ($old: String!, $new: String!) {
      changePassword(input: {oldPassword: $old, newPassword: $new}) }"""
    body = await a.gql(
        change, {"old": PASSWORD, "new": "another long passphrase"}, token=second["accessToken"]
    )
    assert "errors" not in body, body
    await told(ended)
    assert await b.refused(first["accessToken"]) is not None
    assert await b.viewer(second["accessToken"]) is not None  # the session that changed it


async def test_a_user_deactivated_on_one_node_is_refused_by_the_other(nodes: Nodes) -> None:
    a, b = await nodes()
    pair = await a.register("ann@example.com")
    user = await a.viewer(pair["accessToken"])
    assert user is not None
    node_token = a.service.auth.node_tokens.issue(user["id"], "User")
    assert await b.viewer(pair["accessToken"]) is not None  # both cached alive on b
    assert await b.viewer(node_token) is not None
    root = await a.service.auth.root_tokens.ensure("_ops")
    changed = hears(b, UserChanged)
    deactivate = "mutation ($id: ID!) { deactivateUser(id: $id) { id } }"
    assert "errors" not in await a.gql(deactivate, {"id": user["id"]}, token=root)
    await told(changed)
    assert await b.refused(pair["accessToken"]) is not None
    assert await b.refused(node_token) is not None
    assert await a.refused(node_token) is not None  # and at once where it was done


async def test_a_key_rotated_by_the_cli_is_published_by_every_node_at_once(nodes: Nodes) -> None:
    a, b = await nodes()
    before = (await b.client.http.get("/.well-known/jwks.json")).json()["keys"]
    changed = hears(b, KeysChanged)
    cli = a.service  # what `bastion keys rotate` does, from a process of its own
    key = await cli.auth.keys.rotate(cli.project.config.auth.signing.algorithm)
    await told(changed)
    after = (await b.client.http.get("/.well-known/jwks.json")).json()["keys"]
    assert {k["kid"] for k in after} == {k["kid"] for k in before} | {key.kid}


def test_events_are_stored_and_read_back_as_the_same_values() -> None:
    told = (SessionsEnded(("s1", "s2")), UserChanged("u1"), RootTokensChanged(), KeysChanged())
    for event in told:
        stored = encode(event)
        assert stored is not None
        assert decode(*stored) == event
    assert encode(UsersChanged()) is None  # follows every data write: stays in its process
    assert decode("from_a_newer_version", "{}") is None


async def test_on_sqlite_nothing_is_written() -> None:
    log = EventLog(None, FrozenClock())
    assert not log.enabled
    await log.record(None, SessionsEnded(("s1",)))  # type: ignore[arg-type]  # no connection used


def test_the_cursor_reads_again_below_an_id_skipped_until_it_shows_up() -> None:
    cursor = Cursor(10)
    assert cursor.read_after(0.0) == 10
    assert cursor.is_new(13, 0.0)  # 11 and 12 were written, not yet committed
    assert cursor.read_after(0.0) == 10
    assert not cursor.is_new(13, 0.0)
    assert cursor.is_new(12, 0.0)
    assert cursor.read_after(0.0) == 10  # 11 still awaited
    assert cursor.is_new(11, 0.0)
    assert cursor.read_after(0.0) == 13
    assert not cursor.is_new(11, 0.0)


def test_the_cursor_stops_awaiting_an_id_of_a_rolled_back_transaction() -> None:
    cursor = Cursor(0)
    assert cursor.is_new(2, 0.0)
    assert cursor.read_after(cluster.GAP_SECONDS - 1) == 0
    assert cursor.read_after(cluster.GAP_SECONDS + 1) == 2
    assert not cursor.is_new(1, cluster.GAP_SECONDS + 1)
