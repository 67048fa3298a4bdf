"""Data writes and the users that sessions cache (bastion.auth.sessions.cache): a write that
changes a user's row, on either side of a relation, is seen by that user's next request; a
write of other types leaves the cache alone, so the next request reads nothing again. And
what a user's ``createNote`` costs the database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import bastion.auth.sessions
from bastion.auth import SYSTEM
from bastion.store.counting import statements
from tests.auth.conftest import Auth

SCHEMA = """
type Note { text: String! }
type Team { name: String! @unique members: [User!]! }
extend type User { team: Team }
"""
RULES = {
    "Note": {"read": "everyone", "create": "authenticated", "update": "authenticated"},
    "Team": {"read": "everyone"},
    "User": {"read": {"id": "$viewer.id"}},
}
VIEWER = "{ viewer { user { id firstName team { name } } } }"


@pytest.fixture(autouse=True)
def _cached_for_long(monkeypatch: pytest.MonkeyPatch) -> None:
    # A state is trusted for a second, which a slow machine may take between two requests:
    # these tests are about what a write makes the cache forget, not about its expiry.
    monkeypatch.setattr(bastion.auth.sessions, "STATE_TTL_SECONDS", 3600.0)


async def _start(make_project: Callable[..., Any], client_for: Callable[..., Any]) -> Auth:
    auth = {"providers": {"local-userpass": {"signup": True}}}
    return Auth(await client_for(make_project(SCHEMA, permissions=RULES, auth=auth)))


async def _me(auth: Auth, token: str) -> dict[str, Any]:
    body = await auth.gql(VIEWER, token=token)
    assert "errors" not in body, body
    user: dict[str, Any] = body["data"]["viewer"]["user"]
    return user


async def _as_system(auth: Auth, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    outcome = await auth.service.executor.run(query, variables, viewer=SYSTEM)
    assert "errors" not in outcome.body, outcome.body
    body: dict[str, Any] = outcome.body
    return body


async def test_a_write_of_other_types_costs_the_next_request_nothing(
    make_project: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    auth = await _start(make_project, client_for)
    token = (await auth.register("ann@example.com"))["accessToken"]
    await _me(auth, token)  # the session's state is cached now
    with statements() as before:
        await _me(auth, token)
    created = await auth.gql('mutation { createNote(data: {text: "hi"}) { id text } }', token=token)
    assert created["data"]["createNote"]["text"] == "hi"
    with statements() as seen:
        me = await _me(auth, token)
    assert me["team"] is None
    assert seen == before  # the session and its user still come from the cache


async def test_a_user_changed_by_a_data_write_is_seen_at_once(
    make_project: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    auth = await _start(make_project, client_for)
    token = (await auth.register("ann@example.com"))["accessToken"]
    me = await _me(auth, token)
    await _as_system(
        auth,
        'mutation ($id: ID!) { updateUser(id: $id, data: {firstName: "Ann"}) { id } }',
        {"id": me["id"]},
    )
    assert (await _me(auth, token))["firstName"] == "Ann"


async def test_a_user_linked_from_the_other_side_is_seen_at_once(
    make_project: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    auth = await _start(make_project, client_for)
    token = (await auth.register("ann@example.com"))["accessToken"]
    me = await _me(auth, token)
    # The key is the user's (User.team): creating a team with the user in it changes her row.
    created = await _as_system(
        auth,
        'mutation ($id: ID!) { createTeam(data: {name: "red", members: {connect: [{id: $id}]}})'
        " { id } }",
        {"id": me["id"]},
    )
    assert (await _me(auth, token))["team"] == {"name": "red"}
    team = created["data"]["createTeam"]["id"]
    await _as_system(
        auth,
        "mutation ($t: ID!, $id: ID!) "
        "{ updateTeam(id: $t, data: {members: {disconnect: [{id: $id}]}}) { id } }",
        {"t": team, "id": me["id"]},
    )
    assert (await _me(auth, token))["team"] is None
    await _as_system(
        auth,
        "mutation ($t: ID!, $id: ID!) "
        "{ updateTeam(id: $t, data: {members: {connect: [{id: $id}]}}) { id } }",
        {"t": team, "id": me["id"]},
    )
    assert (await _me(auth, token))["team"] == {"name": "red"}
    # Deleting the team unlinks her (SET NULL by the database): her row changes again.
    with statements() as cached:
        await _me(auth, token)
    await _as_system(auth, "mutation ($t: ID!) { deleteTeam(id: $t) { id } }", {"t": team})
    with statements() as seen:
        assert (await _me(auth, token))["team"] is None
    assert len(seen) > len(cached)  # read again, not answered from a stale cache


async def test_several_writes_of_other_types_cost_the_next_request_nothing(
    make_project: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    auth = await _start(make_project, client_for)
    token = (await auth.register("ann@example.com"))["accessToken"]
    await _me(auth, token)
    with statements() as before:
        await _me(auth, token)
    body = await auth.gql(
        'mutation { a: createNote(data: {text: "a"}) { id } b: createNote(data: {text: "b"}) '
        "{ id } __typename }",
        token=token,
    )
    assert "errors" not in body, body
    with statements() as seen:
        await _me(auth, token)
    assert seen == before


async def test_a_create_costs_an_insert_and_the_read_of_its_answer(
    make_project: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    auth = await _start(make_project, client_for)
    token = (await auth.register("ann@example.com"))["accessToken"]
    await _me(auth, token)  # the session's state is cached
    create = "mutation ($t: String!) { createNote(data: {text: $t}) { id text } }"
    with statements() as seen:
        body = await auth.gql(create, {"t": "hi"}, token=token)
    assert body["data"]["createNote"]["text"] == "hi", body
    # One write transaction: the row, and the row read back as the viewer may see it (the
    # answer); the session is not read again. No savepoint when nothing else is writing.
    assert [s.replace('"', "") for s in seen] == ["BEGIN", "INSERT Note", "SELECT", "COMMIT"]
