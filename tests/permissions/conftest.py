"""A project with an open type, an owner-only type and a field rule, and four viewers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from bastion.auth import SYSTEM
from bastion.project import Project
from tests.conftest import GraphQLClient

SCHEMA = """
type Note { text: String! }
type Diary { text: String! owner: User }
type Person { name: String! @unique movies: [Movie!]! }
type Movie { title: String! @unique budget: Int owner: User director: Person }
extend type User { diaries: [Diary!]! movies: [Movie!]! }
"""
OWNER = {"owner": {"id": "$viewer.id"}}
OPEN = {op: "everyone" for op in ("read", "create", "update", "delete")}
RULES = {
    "Note": OPEN,
    "Diary": {op: OWNER for op in ("read", "create", "update", "delete")},
    "Person": {"read": "everyone"},
    "Movie": {
        "read": "everyone",
        "create": "authenticated",
        "update": OWNER,
        "delete": OWNER,
        "fields": {"budget": {"read": OWNER}},
    },
    "User": {"read": {"id": "$viewer.id"}},
}
PASSWORD = "correct horse battery"


@dataclass
class World:
    """The client, a token per viewer, ids of users and of A's nodes."""

    client: GraphQLClient
    tokens: dict[str, str | None]
    users: dict[str, str]
    nodes: dict[str, str]

    async def gql(self, who: str, query: str, **variables: Any) -> dict[str, Any]:
        """Run a document as viewer ``who`` (anonymous, A, B or D)."""
        token = self.tokens[who]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.client.gql(query, variables, headers=headers)

    async def system(self, query: str, **variables: Any) -> dict[str, Any]:
        """Run a document as Bastion itself, past every rule."""
        service = self.client.app.state.service
        outcome = await service.executor.run(query, variables, viewer=SYSTEM)
        assert "errors" not in outcome.body, outcome.body
        data: dict[str, Any] = outcome.body["data"]
        return data


async def _register(client: GraphQLClient, email: str) -> tuple[str, str]:
    data = await client.data(
        "mutation($e: String!, $p: String!) { registerUserEmailPassword("
        "input: {email: $e, password: $p}) { accessToken } }",
        {"e": email, "p": PASSWORD},
    )
    token = data["registerUserEmailPassword"]["accessToken"]
    body = await client.gql(
        "{ viewer { user { id } } }", headers={"Authorization": f"Bearer {token}"}
    )
    return token, body["data"]["viewer"]["user"]["id"]


@pytest.fixture
async def world(make_project: Callable[..., Project], client_for: Callable[..., Any]) -> World:
    # D's refused token runs as anonymous here (Graphcool's way), so that every cell of the
    # matrix shows what the rules give it; by default it is refused whole (test_bypass.py).
    auth = {"providers": {"local-userpass": {"signup": True}}, "invalid_token": "anonymous"}
    project = make_project(SCHEMA, permissions=RULES, auth=auth)
    client: GraphQLClient = await client_for(project)
    tokens: dict[str, str | None] = {"anonymous": None}
    users: dict[str, str] = {}
    for who in ("A", "B", "D"):
        tokens[who], users[who] = await _register(client, f"{who.lower()}@example.com")
    # D's account is deactivated: the token D still holds must count for nothing.
    service = client.app.state.service
    async with service.store.db.write() as conn:
        await service.auth.accounts.set_active(conn, "d@example.com", False)
    service.auth.sessions.forget_user(users["D"])
    world = World(client, tokens, users, {})
    created = await world.system(
        """mutation($a: ID!) {
          note: createNote(data: {text: "a note"}) { id }
          diary: createDiary(data: {text: "dear diary", owner: {connect: {id: $a}}}) { id }
          person: createPerson(data: {name: "Ridley"}) { id }
          movie: createMovie(data: {title: "Alien", budget: 11, owner: {connect: {id: $a}},
                                    director: {connect: {name: "Ridley"}}}) { id }
        }""",
        a=users["A"],
    )
    world.nodes = {name: value["id"] for name, value in created.items()}
    return world
