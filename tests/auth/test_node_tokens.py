"""Tokens bound to a node: made in Python, checked at every request (the CLI's ``bastion token
create``: tests/cli/test_tokens.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from bastion import generate_auth_token, generate_node_token
from bastion.errors import BadUserInput, ProjectError
from bastion.project import Project
from bastion.tools.clock import FrozenClock
from tests.auth.node_project import RULES, SCHEMA, VIEWER, bearer
from tests.conftest import GraphQLClient, unauthenticated


@pytest.fixture
async def setup(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> tuple[Project, GraphQLClient]:
    project = make_project(
        SCHEMA, permissions=RULES, auth={"providers": {"anon-user": {"enabled": True}}}
    )
    return project, await client_for(project)


async def _movie(client: GraphQLClient, title: str) -> str:
    data = await client.data(
        "mutation ($t: String!) { createMovie(data: {title: $t}) { id } }", {"t": title}
    )
    movie_id: str = data["createMovie"]["id"]
    return movie_id


async def test_node_token_is_its_node(setup: Any, clock: FrozenClock) -> None:
    project, client = setup
    alien, heat = await _movie(client, "Alien"), await _movie(client, "Heat")
    token = generate_auth_token(project, alien, "Movie", lifetime=timedelta(minutes=5), clock=clock)
    body = await client.gql(VIEWER, headers=bearer(token))
    assert body["data"]["viewer"] == {
        "isRoot": False,
        "user": None,
        "node": {"__typename": "Movie", "id": alien, "title": "Alien"},
    }
    update = 'mutation ($i: ID!) { updateMovie(id: $i, data: {title: "x"}) { title } }'
    # $viewer.node lets the token change its own node, and only that one.
    assert (await client.gql(update, {"i": alien}, headers=bearer(token)))["data"] == {
        "updateMovie": {"title": "x"}
    }
    other = await client.gql(update, {"i": heat}, headers=bearer(token))
    assert other["errors"][0]["extensions"]["code"] in ("FORBIDDEN", "NOT_FOUND")
    anonymous = await client.gql(update, {"i": alien})
    assert "errors" in anonymous


async def test_rules_read_the_node_and_its_type(setup: Any, clock: FrozenClock) -> None:
    project, client = setup
    alien = await _movie(client, "Alien")
    token = generate_auth_token(project, alien, "Movie", clock=clock)
    note = (
        "mutation ($type: String, $id: String) "
        '{ createNote(data: {text: "hi", byType: $type, byId: $id}) { byType byId } }'
    )
    signed = await client.gql(note, {"type": "Movie", "id": alien}, headers=bearer(token))
    assert signed["data"] == {"createNote": {"byType": "Movie", "byId": alien}}
    for variables, headers in (
        ({"type": "User", "id": alien}, bearer(token)),  # not its type
        ({"type": "Movie", "id": "0" * 24}, bearer(token)),  # not its node
        ({"type": "Movie", "id": alien}, {}),  # anonymous: no node, no type
    ):
        refused = await client.gql(note, variables, headers=headers)
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", variables


async def test_node_token_expires_and_dies_with_its_node(setup: Any, clock: FrozenClock) -> None:
    project, client = setup
    alien = await _movie(client, "Alien")
    short = generate_node_token(project, alien, "Movie", lifetime=60, clock=clock)
    assert (await client.gql(VIEWER, headers=bearer(short)))["data"]["viewer"]["node"]
    clock.advance(60 + 31)
    expired = await client.gql(VIEWER, headers=bearer(short))
    assert unauthenticated(expired) == "ACCESS_TOKEN_EXPIRED"
    token = generate_auth_token(project, alien, "Movie", clock=clock)
    await client.data("mutation ($i: ID!) { deleteMovie(id: $i) { id } }", {"i": alien})
    client.app.state.service.auth.node_tokens._cache.clear()  # as STATE_TTL_SECONDS passing would
    gone = await client.gql(VIEWER, headers=bearer(token))
    assert unauthenticated(gone) == "SESSION_REVOKED"


async def test_user_node_token_acts_as_the_user(setup: Any, clock: FrozenClock) -> None:
    project, client = setup
    login = await client.data("mutation { loginAnonymous { accessToken } }")
    me = await client.gql(
        "{ viewer { user { id } } }", headers=bearer(login["loginAnonymous"]["accessToken"])
    )
    user_id = me["data"]["viewer"]["user"]["id"]
    token = generate_auth_token(project, user_id, "User", clock=clock)
    body = await client.gql(VIEWER, headers=bearer(token))
    assert body["data"]["viewer"]["user"] == {"id": user_id}
    assert body["data"]["viewer"]["node"] == {"__typename": "User", "id": user_id}
    users = await client.gql("{ usersCount }", headers=bearer(token))
    assert users["data"]["usersCount"] == 1  # the $viewer.id rule holds


def test_bad_types_ids_and_lifetimes_are_refused(make_project: Callable[..., Project]) -> None:
    project = make_project(SCHEMA, permissions=RULES)
    for args, message in (
        (("0" * 24, "Nope"), "No type 'Nope'"),
        (("not-an-id", "Movie"), "is not a node id"),
    ):
        with pytest.raises(BadUserInput, match=message):
            generate_auth_token(project, *args)
    for lifetime in (0, -5, 10**9):
        with pytest.raises(BadUserInput, match="A node token lives"):
            generate_auth_token(project, "0" * 24, "Movie", lifetime=lifetime)


def test_a_project_never_started_is_told_to_start_first(
    make_project: Callable[..., Project],
) -> None:
    project = make_project(SCHEMA, permissions=RULES)
    before = sorted(project.data_dir.iterdir()) if project.data_dir.exists() else []
    with pytest.raises(ProjectError, match="has not started yet: start it once"):
        generate_auth_token(project, "0" * 24, "Movie")
    # Nothing made on the way: no empty database, no server secret.
    after = sorted(project.data_dir.iterdir()) if project.data_dir.exists() else []
    assert after == before
