"""The compiled read path answers exactly what graphql-core's executor answers.

A property-based generator (hypothesis) writes documents over a model with row rules,
node-bound field rules, enums, lists, JSON, DateTime, nulls and relations both ways, with
aliases, fragments, ``@include``/``@skip``, ``__typename``, paging and ordering; each document
runs for several viewers through both paths against the same database, and the two JSON
responses must be byte-for-byte equal.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from bastion.auth import SYSTEM
from bastion.graphql.execute import RequestFailed
from bastion.store.counting import statements
from tests.graphql.world import NULLING_DOCUMENT, World, started_world

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


# Every field of the Viewer type (answered by calling its resolver on both paths).
VIEWER_SELECTIONS = [
    "user { id email }",
    "isRoot node { id __typename ... on User { email } } user { id }",
    "sessions { id provider current createdAt lastUsedAt userAgent deviceId }"
    " identities { id provider createdAt } isRoot",
]


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
            roots.append(f"{alias}viewer {{ {draw(st.sampled_from(VIEWER_SELECTIONS))} }}")
        else:
            roots.append(f"{alias}__typename")
    body = " ".join(roots)
    declared = [d for d in ("$on: Boolean!", "$id: ID!") if d.split(":")[0] in body]
    return f"query ({', '.join(declared)}) {{ {body} }}" if declared else f"{{ {body} }}"


@settings(
    max_examples=int(os.environ.get("BASTION_DIFFERENTIAL_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(document=documents(), on=st.booleans(), pick=st.integers(0, 11))
@example(document=NULLING_DOCUMENT, on=True, pick=0)
@example(document=NULLING_DOCUMENT, on=False, pick=0)
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
        written, projected, reference = world.three(document, variables, viewer)
        assert projected == reference, f"{name}: {document}"
        assert written == reference, f"{name} (JSON written by SQLite): {document}"


def test_the_generator_reaches_rules_and_errors(world: World) -> None:
    # Not vacuous: a hidden budget answers null with FORBIDDEN at its path on both paths.
    query = "{ movies(orderBy: [title_ASC]) { title budget director { name } } }"
    compiled, reference = world.both(query, {}, world.viewers["ann"])
    assert compiled == reference
    body = json.loads(compiled)
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    assert any(m["budget"] is not None for m in body["data"]["movies"])


def test_the_generator_reaches_answers_the_database_writes(world: World) -> None:
    # Not vacuous either: documents of text, Int, enum and relation fields are answered by one
    # statement that writes the JSON (the odd name of the seed among them).
    query = (
        "{ movies(orderBy: [year_DESC], first: 20) { id title year genre __typename"
        " director { name born movies(where: {genre_in: [ACTION, DRAMA]}) { title } } } }"
    )
    with statements() as seen:
        written, projected, reference = world.three(query, {}, world.viewers["ann"])
    assert written == projected == reference
    assert "\\u2028" not in written and "\u2028" in written  # as Python's encoder spells it
    assert seen.count("SELECT") == 1 + 3 + 3, seen  # written: 1; the others: 1 per level


def test_a_row_the_database_cannot_write_is_answered_with_the_projectors_errors(
    tmp_path: Path,
) -> None:
    # Values no input makes, written behind the server's back: an enum value the schema does
    # not have and (on SQLite, whose integers have no width) an Int beyond 32 bits. The JSON
    # statement stops on them (PostgreSQL's ends its transaction: rolled back) and the field
    # is answered as the other paths answer it.
    with started_world(tmp_path / "project") as world:
        db = world.service.store.db
        changes = ["UPDATE \"Movie\" SET genre = 'HORROR' WHERE title = 'Heat 1'"]
        if db.is_sqlite:
            changes.append("UPDATE \"Movie\" SET year = 4294967296 WHERE title = 'Blade 3'")

        async def change() -> None:
            async with db.engine.begin() as conn:
                for statement in changes:
                    await conn.exec_driver_sql(statement)

        world.loop.run_until_complete(change())
        query = "{ movies(orderBy: [title_ASC]) { title year genre director { name } } }"
        with statements() as seen:
            written, projected, reference = world.three(query, {}, world.viewers["root"])
    assert written == projected == reference
    messages = [e["message"] for e in json.loads(written)["errors"]]
    assert any("HORROR" in m for m in messages), messages
    if db.is_sqlite:
        assert any("4294967296" in m for m in messages), messages
    # The written run: its JSON statement, then the projectors' two; the others two each.
    assert seen.count("SELECT") == 1 + 2 + 2 + 2, seen


def test_a_single_node_by_any_id_is_one_statement_compiled_once(world: World) -> None:
    executor = world.service.executor
    ids = world.loop.run_until_complete(
        executor.run("{ movies(first: 12) { id } }", viewer=SYSTEM)
    ).body["data"]["movies"]
    query = "query ($id: ID!) { movie(id: $id) { id title director { name } } }"
    viewer = world.viewers["ann"]
    for found in [*ids, {"id": "000000000000000000000000"}]:
        written, projected, reference = world.three(query, {"id": found["id"]}, viewer)
        assert written == projected == reference
    prepared = executor.prepare(query, None)
    planned = executor.plan(prepared, {"id": ids[0]["id"]}, viewer)
    assert planned is not None
    [(_key, _nodes, field)] = planned[0].fields
    assert field is not None and len(field.json_statements) == 1


@pytest.mark.parametrize("first", [3, 12])
def test_statements_of_a_query_do_not_grow_with_its_items(world: World, first: int) -> None:
    query = f"{{ movies(first: {first}) {{ title director {{ name movies {{ title }} }} }} }}"
    with statements() as seen:
        compiled, _ = world.both(query, {}, world.viewers["root"])
    assert json.loads(compiled)["data"]["movies"]
    # The reference run: one statement per level, whatever `first` is; the compiled run: one
    # in all, the database writing the answer as JSON.
    assert seen.count("SELECT") == 3 + 1, seen


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
