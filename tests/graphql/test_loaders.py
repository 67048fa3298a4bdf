"""Relations are loaded in batches: one SELECT per relation level, whatever the node count.

Statements are counted at the SQLAlchemy engine of the running app, so the count is what the
database really receives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from bastion.project import Project
from bastion.store.database import Database
from tests.conftest import GraphQLClient


@contextmanager
def selects(client: GraphQLClient) -> Iterator[list[str]]:
    """Collect the SELECT statements the app's engine runs inside the block."""
    engine = client.app.state.service.store.db.engine.sync_engine
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # The server's own tables are read by its background work too (sessions, pruning),
        # whenever it runs: only the model's reads are the request's.
        if statement.lstrip().upper().startswith("SELECT") and "_bastion_" not in statement:
            seen.append(statement)

    def alone(statement: str) -> None:
        record(None, None, statement)

    event.listen(engine, "before_cursor_execute", record)
    Database.alone_listeners.append(alone)
    try:
        yield seen
    finally:
        Database.alone_listeners.remove(alone)
        event.remove(engine, "before_cursor_execute", record)


async def seed_directors(client: GraphQLClient, people: int, movies_each: int) -> None:
    """``people`` directors with ``movies_each`` movies each, year 2000 + index in the list."""
    fields = []
    for p in range(people):
        creates = ", ".join(f'{{title: "p{p}m{m}", year: {2000 + m}}}' for m in range(movies_each))
        fields.append(
            f'p{p}: createPerson(data: {{name: "p{p}", movies: {{create: [{creates}]}}}}) {{ id }}'
        )
    await client.data("mutation { " + " ".join(fields) + " }")


async def test_hundred_movies_with_director_and_its_movies_take_three_selects(
    movies: GraphQLClient,
) -> None:
    await seed_directors(movies, people=10, movies_each=10)

    with selects(movies) as seen:
        data = await movies.data("{ movies { title director { name movies { title } } } }")

    assert len(data["movies"]) == 100
    for movie in data["movies"]:
        director = movie["director"]["name"]
        assert movie["title"].startswith(director + "m")
        assert [m["title"] for m in movie["director"]["movies"]] == [
            f"{director}m{i}" for i in range(10)
        ]
    assert len(seen) <= 3, seen


async def test_statement_count_does_not_grow_with_the_number_of_nodes(
    movies: GraphQLClient,
) -> None:
    query = "{ people { name movies { title director { name } } } }"
    await seed_directors(movies, people=2, movies_each=2)
    with selects(movies) as few:
        await movies.data(query)
    await seed_directors_more(movies)

    with selects(movies) as many:
        data = await movies.data(query)

    assert len(data["people"]) == 32
    assert len(many) == len(few)


async def seed_directors_more(client: GraphQLClient) -> None:
    """Thirty more directors with three movies each (names differ from seed_directors')."""
    fields = []
    for p in range(30):
        creates = ", ".join(f'{{title: "extra{p}m{m}"}}' for m in range(3))
        fields.append(
            f'x{p}: createPerson(data: {{name: "extra{p}", movies: {{create: [{creates}]}}}})'
            " { id }"
        )
    await client.data("mutation { " + " ".join(fields) + " }")


async def test_movies_without_a_director_need_no_lookup(movies: GraphQLClient) -> None:
    await movies.data(
        'mutation { a: createMovie(data: {title: "a"}) { id } b: createMovie(data: {title: "b"})'
        " { id } }"
    )

    with selects(movies) as seen:
        data = await movies.data("{ movies { title director { name } } }")

    assert data == {"movies": [{"title": "a", "director": None}, {"title": "b", "director": None}]}
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("(first: 2)", [["p0m0", "p0m1"], ["p1m0", "p1m1"], ["p2m0", "p2m1"]]),
        ("(skip: 3)", [["p0m3"], ["p1m3"], ["p2m3"]]),
        ("(first: 2, skip: 1)", [["p0m1", "p0m2"], ["p1m1", "p1m2"], ["p2m1", "p2m2"]]),
        ("(orderBy: year_DESC, first: 1)", [["p0m3"], ["p1m3"], ["p2m3"]]),
        (
            "(where: {year_gte: 2002}, orderBy: title_DESC)",
            [["p0m3", "p0m2"], ["p1m3", "p1m2"], ["p2m3", "p2m2"]],
        ),
        ("(where: {year: 2001}, skip: 1)", [[], [], []]),
        ("(first: 0)", [[], [], []]),
        ("(skip: 10)", [[], [], []]),
    ],
)
async def test_nested_list_arguments_apply_per_parent_in_one_select(
    movies: GraphQLClient, args: str, expected: list[list[str]]
) -> None:
    await seed_directors(movies, people=3, movies_each=4)

    with selects(movies) as seen:
        data = await movies.data(f"{{ people {{ name movies{args} {{ title }} }} }}")

    assert [[m["title"] for m in p["movies"]] for p in data["people"]] == expected
    assert len(seen) == 1, seen  # the database writes the answer (compiled/json_sql.py)


async def test_nested_window_with_nulls_in_the_order(movies: GraphQLClient) -> None:
    await movies.data(
        'mutation { createPerson(data: {name: "p", movies: {create: [{title: "none"},'
        ' {title: "old", year: 1990}, {title: "new", year: 2000}]}}) { id } }'
    )

    data = await movies.data(
        "{ people { asc: movies(orderBy: year_ASC, first: 2) { title }"
        " desc: movies(orderBy: year_DESC, first: 2) { title } } }"
    )

    assert data["people"] == [
        {"asc": [{"title": "old"}, {"title": "new"}], "desc": [{"title": "none"}, {"title": "new"}]}
    ]


async def test_different_arguments_on_the_same_relation_are_separate_batches(
    movies: GraphQLClient,
) -> None:
    await seed_directors(movies, people=3, movies_each=3)

    with selects(movies) as seen:
        data = await movies.data(
            "{ people { first: movies(first: 1) { title } last: movies(orderBy: title_DESC,"
            " first: 1) { title } all: movies { title } } }"
        )

    assert [p["first"] for p in data["people"]] == [[{"title": f"p{i}m0"}] for i in range(3)]
    assert [p["last"] for p in data["people"]] == [[{"title": f"p{i}m2"}] for i in range(3)]
    assert [len(p["all"]) for p in data["people"]] == [3, 3, 3]
    assert len(seen) == 1, seen  # the database writes the answer (compiled/json_sql.py)


async def test_negative_window_on_a_nested_list_is_bad_user_input(movies: GraphQLClient) -> None:
    await seed_directors(movies, people=1, movies_each=1)

    body = await movies.gql("{ people { name movies(skip: -2) { title } } }")

    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["errors"][0]["path"] == ["people", 0, "movies"]


async def test_one_to_one_back_side_is_batched(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    schema = """
    type Worker { name: String! @unique desk: Desk }
    type Desk { number: Int! @unique owner: Worker }
    """
    client: GraphQLClient = await client_for(make_project(schema))
    creates = " ".join(
        f'w{i}: createWorker(data: {{name: "w{i}", desk: {{create: {{number: {i}}}}}}}) {{ id }}'
        for i in range(20)
    )
    await client.data(f"mutation {{ {creates} }}")

    with selects(client) as seen:
        data = await client.data("{ workers { name desk { number owner { name } } } }")

    assert [(w["name"], w["desk"]["number"]) for w in data["workers"]] == [
        (f"w{i}", i) for i in range(20)
    ]
    assert all(w["desk"]["owner"]["name"] == w["name"] for w in data["workers"])
    assert len(seen) <= 3, seen


async def test_relations_in_a_mutation_result_are_batched_and_fresh(
    movies: GraphQLClient,
) -> None:
    await seed_directors(movies, people=2, movies_each=1)
    await seed_directors_more(movies)
    people = (await movies.data("{ people(orderBy: name_ASC) { id name } }"))["people"]
    small, large = people[-2]["id"], people[-1]["id"]  # p0 (1 movie), then p1 (1 movie)
    await movies.data(
        "mutation($id: ID!) { updatePerson(id: $id, data: {movies: {connect: ["
        + ", ".join(f'{{title: "extra{i}m{m}"}}' for i in range(10) for m in range(3))
        + "]}}) { id } }",
        {"id": large},
    )
    mutation = (
        "mutation($id: ID!, $title: String!) { updatePerson(id: $id, data: {movies: {create: "
        "[{title: $title}]}}) { movies { title director { name } } } }"
    )

    with selects(movies) as one:
        few = await movies.data(mutation, {"id": small, "title": "late0"})
    with selects(movies) as other:
        many = await movies.data(mutation, {"id": large, "title": "late1"})

    assert [m["title"] for m in few["updatePerson"]["movies"]] == ["p0m0", "late0"]
    assert len(many["updatePerson"]["movies"]) == 32
    assert many["updatePerson"]["movies"][-1]["title"] == "late1"
    assert {m["director"]["name"] for m in many["updatePerson"]["movies"]} == {"p1"}
    # The read-back sees the movie written in the same transaction, and 32 movies cost the
    # same statements as 2.
    assert len(other) == len(one), other


async def test_single_lookups_in_one_document_share_a_select(movies: GraphQLClient) -> None:
    await seed_directors(movies, people=1, movies_each=3)
    ids = [m["id"] for m in (await movies.data("{ movies { id } }"))["movies"]]

    with selects(movies) as seen:
        data = await movies.data(
            "query($a: ID!, $b: ID!, $c: ID!) { a: movie(id: $a) { title }"
            " b: movie(id: $b) { title } c: movie(id: $c) { title }"
            ' none: movie(id: "000000000000000000000000") { title } }',
            {"a": ids[2], "b": ids[0], "c": ids[1]},
        )

    assert data == {
        "a": {"title": "p0m2"},
        "b": {"title": "p0m0"},
        "c": {"title": "p0m1"},
        "none": None,
    }
    assert len(seen) == 1, seen
