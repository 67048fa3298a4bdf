"""The compiled read path answers exactly what graphql-core's executor answers.

A property-based generator (hypothesis) writes documents over a model with row rules,
node-bound field rules, enums, lists, JSON, DateTime, nulls and relations both ways, with
aliases, fragments, ``@include``/``@skip``, ``__typename``, paging and ordering; each document
runs for several viewers through both paths against the same database, and the two JSON
responses must be byte-for-byte equal.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bastion.auth import ANONYMOUS, SYSTEM, Viewer
from bastion.auth.viewer import ViewerKind
from bastion.graphql.execute import RequestFailed
from bastion.project import load_project
from bastion.project.service import Service
from bastion.tools.clock import FrozenClock
from tests.conftest import statements, write_project

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
        """The compiled and the reference answers, as JSON text."""
        executor = self.service.executor

        async def run() -> tuple[str, str]:
            prepared = executor.prepare(query, None)
            compiled = await executor.execute(prepared, variables, viewer)
            reference = await executor.execute(prepared, variables, viewer, reference=True)
            return json.dumps(compiled.body), json.dumps(reference.body)

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
    people = [("Ridley", 1937), ("Kathryn", None), ("Agnès", 1928)]
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


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root: Path = tmp_path_factory.mktemp("compiled") / "project"
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


# -- the document generator ------------------------------------------------------------------

MOVIE_SCALARS = ["id", "title", "year", "rating", "genre", "tags", "extra", "released", "budget"]
PERSON_SCALARS = ["id", "name", "born"]
WHERE = [
    None,
    "{year_gte: 1985}",
    "{genre: SCIFI}",
    "{genre_in: [ACTION, DRAMA]}",
    '{title_contains: "a"}',
    "{budget_gt: 20}",
    "{rating: null}",
    '{director: {name: "Ridley"}}',
    "{OR: [{year_lt: 1980}, {tags: null}]}",
]
PERSON_WHERE = [None, '{name_starts_with: "K"}', "{movies_some: {year_gte: 2000}}", "{born: null}"]
ORDER = ["year_ASC", "year_DESC", "title_ASC", "rating_DESC", "genre_ASC", "budget_ASC"]


def _arguments(draw: Callable[..., Any], wheres: list[str | None], orders: list[str]) -> str:
    parts = []
    where = draw(st.sampled_from(wheres))
    if where:
        parts.append(f"where: {where}")
    order = draw(st.lists(st.sampled_from(orders), max_size=2, unique=True))
    if order:
        parts.append(f"orderBy: [{', '.join(order)}]")
    first = draw(st.sampled_from([None, 0, 1, 3, 20]))
    if first is not None:
        parts.append(f"first: {first}")
    skip = draw(st.sampled_from([None, 0, 2]))
    if skip is not None:
        parts.append(f"skip: {skip}")
    return f"({', '.join(parts)})" if parts else ""


@st.composite
def _selection(draw: Callable[..., Any], type_name: str, depth: int) -> str:
    scalars = MOVIE_SCALARS if type_name == "Movie" else PERSON_SCALARS
    fields = [
        _alias(draw) + name
        for name in draw(st.lists(st.sampled_from(scalars), min_size=1, max_size=5))
    ]
    if draw(st.booleans()):
        fields.append("__typename")
    if depth < 3:
        if type_name == "Movie" and draw(st.booleans()):
            fields.append(f"{_alias(draw)}director {{ {draw(_selection('Person', depth + 1))} }}")
        if type_name == "Movie" and draw(st.integers(0, 3)) == 0:
            fields.append(f"{_alias(draw)}owner {{ id email }}")
        if type_name == "Person" and draw(st.booleans()):
            arguments = _arguments(draw, WHERE, ORDER)
            inner = draw(_selection("Movie", depth + 1))
            fields.append(f"{_alias(draw)}movies{arguments} {{ {inner} }}")
    if draw(st.integers(0, 3)) == 0:
        fields = [f"... on {type_name} {{ {' '.join(fields)} }}"]
    if draw(st.integers(0, 4)) == 0:
        directive = draw(st.sampled_from(["@include(if: $on)", "@skip(if: $on)"]))
        fields.append(f"{scalars[1]} {directive}")
    return " ".join(fields)


def _alias(draw: Callable[..., Any]) -> str:
    return draw(st.sampled_from(["", "", "", "a: ", "b: "]))


def _prepared(world: World, document: str) -> bool:
    """Whether the document is valid (aliases drawn at random may clash): only those count."""
    try:
        world.service.executor.prepare(document, None)
    except RequestFailed:
        return False
    return True


@st.composite
def documents(draw: Callable[..., Any]) -> str:
    roots = []
    for index in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["movies", "people", "count", "movie", "viewer", "typename"]))
        alias = f"r{index}: "
        if kind == "movies":
            arguments = _arguments(draw, WHERE, ORDER)
            roots.append(f"{alias}movies{arguments} {{ {draw(_selection('Movie', 0))} }}")
        elif kind == "people":
            arguments = _arguments(draw, PERSON_WHERE, ["name_ASC", "born_DESC"])
            roots.append(f"{alias}people{arguments} {{ {draw(_selection('Person', 0))} }}")
        elif kind == "count":
            roots.append(f"{alias}moviesCount(where: {draw(st.sampled_from(WHERE[1:]))})")
        elif kind == "movie":
            roots.append(f"{alias}movie(id: $id) {{ {draw(_selection('Movie', 0))} }}")
        elif kind == "viewer":
            roots.append(f"{alias}viewer {{ user {{ id email }} }}")
        else:
            roots.append(f"{alias}__typename")
    body = " ".join(roots)
    declared = [d for d in ("$on: Boolean!", "$id: ID!") if d.split(":")[0] in body]
    return f"query ({', '.join(declared)}) {{ {body} }}" if declared else f"{{ {body} }}"


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(document=documents(), on=st.booleans(), pick=st.integers(0, 11))
def test_compiled_answers_equal_the_reference_executor(
    world: World, document: str, on: bool, pick: int
) -> None:
    assume(_prepared(world, document))
    ids = world.loop.run_until_complete(
        world.service.executor.run("{ movies(first: 12) { id } }", viewer=SYSTEM)
    ).body["data"]["movies"]
    variables = {
        name: value
        for name, value in (("on", on), ("id", ids[pick % len(ids)]["id"]))
        if f"${name}" in document
    }
    for name, viewer in world.viewers.items():
        compiled, reference = world.both(document, variables, viewer)
        assert compiled == reference, f"{name}: {document}"


def test_the_generator_reaches_rules_and_errors(world: World) -> None:
    # Not vacuous: a hidden budget answers null with FORBIDDEN at its path on both paths.
    query = "{ movies(orderBy: [title_ASC]) { title budget director { name } } }"
    compiled, reference = world.both(query, {}, world.viewers["ann"])
    assert compiled == reference
    body = json.loads(compiled)
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    assert any(m["budget"] is not None for m in body["data"]["movies"])


@pytest.mark.parametrize("first", [3, 12])
def test_statements_of_a_query_do_not_grow_with_its_items(world: World, first: int) -> None:
    query = f"{{ movies(first: {first}) {{ title director {{ name movies {{ title }} }} }} }}"
    with statements() as seen:
        compiled, _ = world.both(query, {}, world.viewers["root"])
    assert json.loads(compiled)["data"]["movies"]
    # The compiled and the reference run: one statement per level each, whatever `first` is.
    assert seen.count("SELECT") == 6, seen


def test_the_fields_bastion_generates_are_compiled(world: World) -> None:
    executor = world.service.executor
    query = (
        "{ movies(first: 2) { title director { movies { title } } } people { name } "
        "moviesCount(where: {genre: SCIFI}) viewer { user { id } } __typename }"
    )
    planned = executor.plan(executor.prepare(query, None), {}, world.viewers["ann"])
    assert planned is not None
    plan, _ = planned
    assert [(name, field is not None) for name, _, field in plan.fields] == [
        ("movies", True),
        ("people", True),
        ("moviesCount", True),
        ("viewer", True),
        ("__typename", True),
    ]
