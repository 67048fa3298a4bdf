"""Tokens bound to a node: made in Python or by the CLI, checked at every request."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from bastion import generate_auth_token, generate_node_token
from bastion.cli import main
from bastion.errors import BadUserInput
from bastion.project import Project
from bastion.tools.clock import FrozenClock
from tests.auth.conftest import unauthenticated
from tests.conftest import GraphQLClient, served

SCHEMA = """
type Movie { title: String! }
type Review { text: String! movie: Movie }
type Note { text: String! byType: String byId: String }
"""
RULES = {
    "Movie": {
        "read": "everyone",
        "create": "everyone",
        "update": {"id": "$viewer.node"},
        "delete": "everyone",
    },
    "Review": {"read": "everyone", "create": "everyone"},
    # Only a node token may sign a note, and only as itself.
    "Note": {"read": "everyone", "create": {"byType": "$viewer.type", "byId": "$viewer.node"}},
    "User": {"read": {"id": "$viewer.id"}},
}
# As the issue writes it: `id` and `__typename` straight on the Node interface.
VIEWER = "{ viewer { isRoot user { id } node { id __typename ... on Movie { title } } } }"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


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


async def test_cli_token_create(make_project: Callable[..., Project]) -> None:
    project = make_project(SCHEMA, permissions=RULES)

    def run(*args: str) -> Any:
        return CliRunner().invoke(main, ["token", "create", *args, "--project", str(project.root)])

    # The CLI runs on the real clock: so does this app.
    async with served(project.root) as http:
        made_movie = await http.post(
            "/graphql", json={"query": 'mutation { createMovie(data: {title: "Alien"}) { id } }'}
        )
        alien = made_movie.json()["data"]["createMovie"]["id"]
        made = await asyncio.to_thread(run, "--type", "Movie", "--id", alien, "--lifetime", "2h")
        assert made.exit_code == 0, made.output
        body = await http.post(
            "/graphql", json={"query": VIEWER}, headers=bearer(made.stdout.strip())
        )
        assert body.json()["data"]["viewer"]["node"]["id"] == alien
    # Bad input is a usage error naming the option: exit 2, no traceback.
    for args, message in (
        (("--type", "Nope", "--id", alien), "--type: No type 'Nope' in the model (types: Movie"),
        (("--type", "Movie", "--id", "0" * 24), f"--id: no Movie with id {'0' * 24}"),
        (("--type", "Movie", "--id", "x"), "--id: 'x' is not a node id"),
        (("--type", "Movie", "--id", alien, "--lifetime", "soon"), "--lifetime"),
        (("--type", "Movie", "--id", alien, "--lifetime", "500d"), "--lifetime: A node token"),
    ):
        refused = await asyncio.to_thread(run, *args)
        assert refused.exit_code == 2, refused.output
        assert message in refused.output and "Traceback" not in refused.output
        assert refused.stdout == ""
