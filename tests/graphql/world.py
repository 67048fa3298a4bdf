"""A started project with row rules and field rules, seeded, for the read path's tests.

The differential test of the compiled path and the tests of the answer's order share it (the
``world`` fixture of this folder's conftest).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bastion.auth import ANONYMOUS, SYSTEM, Viewer
from bastion.auth.viewer import ViewerKind
from bastion.graphql.response_body import encode
from bastion.project import load_project
from bastion.project.service import Service
from bastion.tools.clock import FrozenClock
from tests.conftest import write_project

SCHEMA = """
enum Genre { ACTION DRAMA SCIFI }

type Movie {
  title: String! @unique
  year: Int
  rating: Float
  genre: Genre
  tags: [String!]
  extra: JSON
  released: DateTime
  budget: Int
  director: Person
  owner: User
}

type Person {
  name: String! @unique
  born: Int
  movies: [Movie!]!
}
"""
PERMISSIONS = {
    "Movie": {
        "read": {"OR": [{"year_gte": 1980}, {"owner": {"id": "$viewer.id"}}]},
        "create": "root",
        "fields": {"budget": {"read": {"owner": {"id": "$viewer.id"}}}},
    },
    "Person": {"read": "everyone", "create": "root"},
    "User": {"read": {"id": "$viewer.id"}},
}


@dataclass
class World:
    """A started project with data, run on one event loop for the whole module."""

    loop: asyncio.AbstractEventLoop
    service: Service
    viewers: dict[str, Viewer]

    def both(self, query: str, variables: dict[str, Any], viewer: Viewer) -> tuple[str, str]:
        """The compiled and the reference answers, as the response's JSON text.

        The compiled run is the endpoint's: root fields SQLite can write come as its JSON
        text (``raw``), encoded as the endpoint encodes them."""
        executor = self.service.executor

        async def run() -> tuple[str, str]:
            prepared = executor.prepare(query, None)
            compiled = await executor.execute(prepared, variables, viewer, raw=True)
            reference = await executor.execute(prepared, variables, viewer, reference=True)
            return encode(compiled.body).decode(), encode(reference.body).decode()

        return self.loop.run_until_complete(run())

    def three(self, query: str, variables: dict[str, Any], viewer: Viewer) -> tuple[str, str, str]:
        """The compiled answer as the endpoint gives it (SQLite may write root fields as JSON),
        the compiled answer of the projectors alone, and the reference answer: response text."""
        executor = self.service.executor

        async def run() -> tuple[str, str, str]:
            prepared = executor.prepare(query, None)
            answers = [
                await executor.execute(prepared, variables, viewer, raw=True),
                await executor.execute(prepared, variables, viewer),
                await executor.execute(prepared, variables, viewer, reference=True),
            ]
            written, projected, reference = (encode(a.body).decode() for a in answers)
            return written, projected, reference

        return self.loop.run_until_complete(run())


def _seed(service: Service, loop: asyncio.AbstractEventLoop) -> dict[str, str]:
    def data(query: str, variables: dict[str, Any]) -> Any:
        outcome = loop.run_until_complete(service.executor.run(query, variables, viewer=SYSTEM))
        assert "errors" not in outcome.body, outcome.body
        return outcome.body["data"]

    users = {
        name: data(
            "mutation ($e: String!) { createUser(data: {email: $e}) { id } }",
            {"e": f"{name}@example.com"},
        )["createUser"]["id"]
        for name in ("ann", "bob")
    }
    # A name with every kind of character JSON escapes or may escape: SQLite writes it as
    # JSON on one path, Python on the others (bastion.graphql.compiled.json_sql).
    odd = 'Agnès "V" \\ / \n\t\r\b\f \x01\x1f\x7f \u2028\u2029 \ufeff 😀'
    people = [("Ridley", 1937), ("Kathryn", None), (odd, 1928)]
    for name, born in people:
        data(
            "mutation ($d: PersonCreateInput!) { createPerson(data: $d) { id } }",
            {"d": {"name": name, "born": born}},
        )
    genres = ["ACTION", "DRAMA", "SCIFI", None]
    titles = ["Alien", "Heat", "Vagabond", "Blade", "Arrival", "Zoo"]
    for i in range(12):
        movie = {
            "title": f"{titles[i % 6]} {i}",
            "year": None if i % 5 == 4 else 1970 + 4 * i,
            "rating": None if i % 4 == 3 else round(5.5 + i * 0.37, 2),
            "genre": genres[i % 4],
            "tags": None if i % 3 == 0 else [f"t{i}", "x"],
            "extra": None if i % 2 else {"n": i, "deep": {"ok": i % 3 == 1}},
            "released": None
            if i % 3 == 2
            else f"20{10 + i}-0{1 + i % 9}-1{i % 10}T10:2{i % 10}:00Z",
            "budget": None if i % 6 == 5 else i * 10,
            "director": None if i % 4 == 2 else {"connect": {"name": people[i % 3][0]}},
            "owner": None
            if i % 3 == 0
            else {"connect": {"id": users["ann" if i % 3 == 1 else "bob"]}},
        }
        data(
            "mutation ($d: MovieCreateInput!) { createMovie(data: $d) { id } }",
            {"d": {k: v for k, v in movie.items() if v is not None}},
        )
    return users


@contextmanager
def started_world(root: Path) -> Iterator[World]:
    """The project at ``root`` (written here), started and seeded, on an event loop of its own."""
    write_project(root, SCHEMA, permissions=PERMISSIONS)
    loop = asyncio.new_event_loop()
    service = Service(load_project(root), FrozenClock())
    loop.run_until_complete(service.start())
    users = _seed(service, loop)
    viewers = {
        "anonymous": ANONYMOUS,
        "ann": Viewer(ViewerKind.USER, user_id=users["ann"]),
        "bob": Viewer(ViewerKind.USER, user_id=users["bob"]),
        "root": Viewer(ViewerKind.ROOT, token_name="test"),
    }
    try:
        yield World(loop, service, viewers)
    finally:
        loop.run_until_complete(service.stop())
        loop.close()


# A hidden sort field nested in a list nulls the whole data, beside a list with errors of its own.
NULLING_DOCUMENT = (
    "query ($on: Boolean!) { r0: viewer { user { id email } } r1: people { ... on Person { id "
    "movies(orderBy: [budget_ASC]) { ... on Movie { id owner { id email } } "
    "title @include(if: $on) } } name @include(if: $on) } "
    "r2: movies { ... on Movie { budget owner { id email } } title @include(if: $on) } }"
)
