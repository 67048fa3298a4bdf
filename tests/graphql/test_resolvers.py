"""The generated API over a real SQLite file: create, read, update, delete, values, paging."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bastion.tools.clock import FrozenClock
from tests import databases
from tests.conftest import GraphQLClient

MOVIE_FIELDS = "id title year rating genre tags extra released seen createdAt updatedAt"


async def create_movie(client: GraphQLClient, **data: Any) -> dict[str, Any]:
    """Create a movie from ``data`` (passed as a variable) and return its fields."""
    result = await client.data(
        f"mutation($data: MovieCreateInput!) {{ createMovie(data: $data) {{ {MOVIE_FIELDS} }} }}",
        {"data": data},
    )
    movie: dict[str, Any] = result["createMovie"]
    return movie


async def titles(client: GraphQLClient, args: str = "") -> list[str]:
    """The titles ``movies(args)`` lists, in order."""
    data = await client.data(f"{{ movies{args} {{ title }} }}")
    return [m["title"] for m in data["movies"]]


# -- create and read --------------------------------------------------------------------


async def test_create_returns_the_node_with_server_fields(
    movies: GraphQLClient, clock: FrozenClock
) -> None:
    movie = await create_movie(movies, title="Alien", year=1979)

    assert re.fullmatch(r"[0-9a-f]{24}", movie["id"])
    assert movie["title"] == "Alien"
    assert movie["year"] == 1979
    assert movie["rating"] is None
    assert movie["genre"] is None
    assert movie["tags"] is None
    assert movie["extra"] is None
    assert movie["released"] is None
    assert movie["createdAt"] == "2030-01-01T00:00:00.000Z"
    assert movie["updatedAt"] == "2030-01-01T00:00:00.000Z"


async def test_created_node_is_read_back_by_id(movies: GraphQLClient) -> None:
    created = await create_movie(movies, title="Alien", year=1979, rating=8.5)

    data = await movies.data(
        f"query($id: ID!) {{ movie(id: $id) {{ {MOVIE_FIELDS} }} }}", {"id": created["id"]}
    )

    assert data["movie"] == created


async def test_movie_by_unknown_id_is_null(movies: GraphQLClient) -> None:
    data = await movies.data('{ movie(id: "000000000000000000000000") { title } }')

    assert data == {"movie": None}


async def test_stitch_documentation_query_works_as_written(movies: GraphQLClient) -> None:
    await create_movie(movies, title="Alien", year=1979)
    await create_movie(movies, title="Heat")

    data = await movies.data("{ movies { title year } }")

    assert data == {"movies": [{"title": "Alien", "year": 1979}, {"title": "Heat", "year": None}]}


async def test_ids_differ_between_nodes(movies: GraphQLClient) -> None:
    ids = {(await create_movie(movies, title=f"M{i}"))["id"] for i in range(5)}

    assert len(ids) == 5


async def test_count_with_and_without_filter(movies: GraphQLClient) -> None:
    for year in (1979, 1986, 1995):
        await create_movie(movies, title=f"M{year}", year=year)

    data = await movies.data(
        "{ all: moviesCount recent: moviesCount(where: {year_gt: 1980}) "
        'none: moviesCount(where: {title: "nope"}) }'
    )

    assert data == {"all": 3, "recent": 2, "none": 0}


async def test_created_nodes_survive_a_restart(
    make_project: Any, client_for: Any, tmp_path: Any
) -> None:
    project = make_project()
    first: GraphQLClient = await client_for(project)
    await create_movie(first, title="Alien", year=1979)
    # A second app over the same folder reads the same SQLite file.
    second: GraphQLClient = await client_for(project)

    assert await second.data("{ movies { title year } }") == {
        "movies": [{"title": "Alien", "year": 1979}]
    }
    if not databases.on_postgresql():
        assert (project.root / ".bastion" / "data.db").is_file()


# -- update -----------------------------------------------------------------------------


async def test_update_changes_given_fields_and_keeps_others(
    movies: GraphQLClient, clock: FrozenClock
) -> None:
    created = await create_movie(movies, title="Alien", year=1978, rating=8.5, tags=["space"])
    clock.advance(60)

    data = await movies.data(
        f"mutation($id: ID!) {{ updateMovie(id: $id, data: {{year: 1979}}) {{ {MOVIE_FIELDS} }} }}",
        {"id": created["id"]},
    )

    assert data["updateMovie"] == {
        **created,
        "year": 1979,
        "updatedAt": "2030-01-01T00:01:00.000Z",
    }
    stored = await movies.data(
        "query($id: ID!) { movie(id: $id) { year createdAt updatedAt } }", {"id": created["id"]}
    )
    assert stored["movie"] == {
        "year": 1979,
        "createdAt": "2030-01-01T00:00:00.000Z",
        "updatedAt": "2030-01-01T00:01:00.000Z",
    }


async def test_update_with_null_clears_an_optional_field(movies: GraphQLClient) -> None:
    created = await create_movie(movies, title="Alien", year=1979, tags=["space"], extra={"a": 1})

    data = await movies.data(
        "mutation($id: ID!) { updateMovie(id: $id, data: {year: null, tags: null, extra: null})"
        " { title year tags extra } }",
        {"id": created["id"]},
    )

    assert data["updateMovie"] == {"title": "Alien", "year": None, "tags": None, "extra": None}


async def test_update_with_null_on_a_required_field_is_refused(movies: GraphQLClient) -> None:
    created = await create_movie(movies, title="Alien")

    body = await movies.gql(
        "mutation($id: ID!) { updateMovie(id: $id, data: {title: null}) { title } }",
        {"id": created["id"]},
    )

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "title" in body["errors"][0]["message"]
    assert await titles(movies) == ["Alien"]


async def test_update_with_empty_data_changes_nothing(
    movies: GraphQLClient, clock: FrozenClock
) -> None:
    created = await create_movie(movies, title="Alien")
    clock.advance(60)

    data = await movies.data(
        "mutation($id: ID!) { updateMovie(id: $id, data: {}) { title updatedAt } }",
        {"id": created["id"]},
    )

    assert data["updateMovie"] == {"title": "Alien", "updatedAt": "2030-01-01T00:00:00.000Z"}


# -- delete -----------------------------------------------------------------------------


async def test_delete_returns_the_node_as_it_was_and_removes_it(movies: GraphQLClient) -> None:
    created = await create_movie(movies, title="Alien", year=1979)
    await create_movie(movies, title="Heat")

    data = await movies.data(
        "mutation($id: ID!) { deleteMovie(id: $id) { id title year } }", {"id": created["id"]}
    )

    assert data["deleteMovie"] == {"id": created["id"], "title": "Alien", "year": 1979}
    after = await movies.data(
        "query($id: ID!) { movie(id: $id) { title } moviesCount }", {"id": created["id"]}
    )
    assert after == {"movie": None, "moviesCount": 1}


# -- values -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("2024-05-01T12:00:00Z", "2024-05-01T12:00:00.000Z"),
        ("2024-05-01T12:00:00.123Z", "2024-05-01T12:00:00.123Z"),
        ("2024-05-01T14:00:00+02:00", "2024-05-01T12:00:00.000Z"),
        ("2024-05-01T12:00:00", "2024-05-01T12:00:00.000Z"),  # no offset: taken as UTC
    ],
)
async def test_datetime_round_trip_in_utc(movies: GraphQLClient, given: str, shown: str) -> None:
    created = await create_movie(movies, title="Alien", released=given)

    stored = await movies.data(
        "query($id: ID!) { movie(id: $id) { released } }", {"id": created["id"]}
    )

    assert created["released"] == shown
    assert stored["movie"]["released"] == shown


async def test_datetime_in_a_literal_and_in_a_filter(movies: GraphQLClient) -> None:
    await movies.data(
        'mutation { createMovie(data: {title: "Old", released: "1979-05-25T00:00:00Z"}) { id } }'
    )
    await create_movie(movies, title="New", released="2024-05-01T12:00:00Z")

    data = await movies.data(
        '{ movies(where: {released_gt: "2000-01-01T00:00:00+01:00"}) { title released } }'
    )

    assert data == {"movies": [{"title": "New", "released": "2024-05-01T12:00:00.000Z"}]}


async def test_datetimes_read_back_find_their_node(
    movies: GraphQLClient, clock: FrozenClock
) -> None:
    # The API shows milliseconds, so what is stored must not be finer than what was shown.
    clock.now = clock.now.replace(microsecond=123456)
    created = await create_movie(movies, title="Alien", released="2024-05-01T12:00:00.987654Z")
    clock.advance(0.000999)
    updated = await movies.data(
        "mutation($id: ID!) { updateMovie(id: $id, data: {year: 1979}) { updatedAt } }",
        {"id": created["id"]},
    )

    assert created["createdAt"] == "2030-01-01T00:00:00.123Z"
    assert created["released"] == "2024-05-01T12:00:00.987Z"
    assert updated["updateMovie"]["updatedAt"] == "2030-01-01T00:00:00.124Z"
    for where in (
        {"createdAt": created["createdAt"]},
        {"createdAt_lte": created["createdAt"]},
        {"released": created["released"]},
        {"released_gte": created["released"]},
        {"updatedAt": updated["updateMovie"]["updatedAt"]},
    ):
        found = await movies.data(
            "query($where: MovieWhereInput) { movies(where: $where) { title } }", {"where": where}
        )
        assert found == {"movies": [{"title": "Alien"}]}, where


async def test_list_of_datetimes_and_datetime_default(make_project: Any, client_for: Any) -> None:
    schema = """
    type Event {
      name: String!
      dates: [DateTime!]
      at: DateTime @default(value: "2020-01-01T10:00:00+02:00")
    }
    """
    client: GraphQLClient = await client_for(make_project(schema))

    created = await client.data(
        'mutation { createEvent(data: {name: "e", dates: ["2024-05-01T14:00:00+02:00",'
        ' "2024-05-02T12:00:00.5Z"]}) { dates at } }'
    )
    stored = await client.data("{ events { dates at } }")

    expected = {
        "dates": ["2024-05-01T12:00:00.000Z", "2024-05-02T12:00:00.500Z"],
        "at": "2020-01-01T08:00:00.000Z",
    }
    assert created == {"createEvent": expected}
    assert stored == {"events": [expected]}


async def test_bad_datetime_is_bad_user_input(movies: GraphQLClient) -> None:
    body = await movies.gql(
        "mutation($data: MovieCreateInput!) { createMovie(data: $data) { id } }",
        {"data": {"title": "Alien", "released": "next tuesday"}},
    )

    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "ISO 8601" in body["errors"][0]["message"]
    assert await titles(movies) == []


@pytest.mark.parametrize(
    "value",
    [
        {"cast": ["Weaver", "Skerritt"], "budget": 11.0, "sequel": True, "notes": None},
        [1, "two", {"three": [3]}],
        "just a string",
        42,
        True,
    ],
)
async def test_json_round_trip(movies: GraphQLClient, value: Any) -> None:
    created = await create_movie(movies, title="Alien", extra=value)

    stored = await movies.data(
        "query($id: ID!) { movie(id: $id) { extra } }", {"id": created["id"]}
    )

    assert created["extra"] == value
    assert stored["movie"]["extra"] == value


async def test_json_as_a_literal(movies: GraphQLClient) -> None:
    data = await movies.data(
        'mutation { createMovie(data: {title: "Alien", extra: {cast: ["Weaver"], n: 1.5}})'
        " { extra } }"
    )

    assert data["createMovie"]["extra"] == {"cast": ["Weaver"], "n": 1.5}


async def test_list_field_round_trip_keeps_order(movies: GraphQLClient) -> None:
    created = await create_movie(movies, title="Alien", tags=["space", "horror", "space"])
    empty = await create_movie(movies, title="Heat", tags=[])

    assert created["tags"] == ["space", "horror", "space"]
    assert empty["tags"] == []
    data = await movies.data("{ movies { tags } }")
    assert data["movies"] == [{"tags": ["space", "horror", "space"]}, {"tags": []}]


async def test_list_field_refuses_null_items(movies: GraphQLClient) -> None:
    body = await movies.gql(
        "mutation($data: MovieCreateInput!) { createMovie(data: $data) { id } }",
        {"data": {"title": "Alien", "tags": ["space", None]}},
    )

    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_enum_round_trip_and_unknown_value(movies: GraphQLClient) -> None:
    created = await create_movie(movies, title="Alien", genre="SCIFI")
    literal = await movies.data(
        'mutation { createMovie(data: {title: "Heat", genre: ACTION}) { genre } }'
    )
    bad = await movies.gql(
        "mutation($data: MovieCreateInput!) { createMovie(data: $data) { id } }",
        {"data": {"title": "Up", "genre": "CARTOON"}},
    )

    assert created["genre"] == "SCIFI"
    assert literal["createMovie"]["genre"] == "ACTION"
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert await titles(movies) == ["Alien", "Heat"]


async def test_boolean_default_applies_only_when_not_given(movies: GraphQLClient) -> None:
    defaulted = await create_movie(movies, title="Alien")
    given = await create_movie(movies, title="Heat", seen=True)
    explicit_false = await create_movie(movies, title="Up", seen=False)

    assert defaulted["seen"] is False
    assert given["seen"] is True
    assert explicit_false["seen"] is False
    data = await movies.data("{ movies(where: {seen: false}) { title } }")
    assert data["movies"] == [{"title": "Alien"}, {"title": "Up"}]


async def test_defaults_of_every_kind(make_project: Any, client_for: Any) -> None:
    schema = """
    enum Level { LOW HIGH }
    type Task {
      name: String!
      done: Boolean! @default(value: false)
      priority: Int @default(value: 3)
      weight: Float @default(value: 0.5)
      level: Level @default(value: LOW)
      note: String @default(value: "none")
    }
    """
    client: GraphQLClient = await client_for(make_project(schema))

    data = await client.data(
        'mutation { a: createTask(data: {name: "a"}) { done priority weight level note } '
        'b: createTask(data: {name: "b", done: true, priority: 1, level: HIGH, note: "x"})'
        " { done priority weight level note } }"
    )

    assert data == {
        "a": {"done": False, "priority": 3, "weight": 0.5, "level": "LOW", "note": "none"},
        "b": {"done": True, "priority": 1, "weight": 0.5, "level": "HIGH", "note": "x"},
    }


async def test_required_field_is_required_by_the_schema(movies: GraphQLClient) -> None:
    body = await movies.gql("mutation { createMovie(data: {year: 1979}) { id } }")

    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "title" in body["errors"][0]["message"]


async def test_server_managed_fields_are_not_inputs(movies: GraphQLClient) -> None:
    body = await movies.gql(
        'mutation { createMovie(data: {title: "A", createdAt: "2020-01-01T00:00:00Z"}) { id } }'
    )

    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


# -- ordering and paging ----------------------------------------------------------------


async def test_default_order_is_creation_order(movies: GraphQLClient) -> None:
    names = ["Zulu", "Alpha", "Mike", "Bravo", "Yankee", "Charlie"]
    for name in names:
        await create_movie(movies, title=name)

    assert await titles(movies) == names
    assert await titles(movies, "(first: 3)") == names[:3]
    assert await titles(movies, "(skip: 3)") == names[3:]


async def test_order_by_several_fields(movies: GraphQLClient) -> None:
    for title, year in [("B", 1990), ("A", 1990), ("D", 1980), ("C", 2000)]:
        await create_movie(movies, title=title, year=year)

    assert await titles(movies, "(orderBy: [year_DESC, title_ASC])") == ["C", "A", "B", "D"]
    assert await titles(movies, "(orderBy: title_DESC)") == ["D", "C", "B", "A"]


async def test_ties_keep_creation_order(movies: GraphQLClient) -> None:
    for title in ["Zulu", "Alpha", "Mike"]:
        await create_movie(movies, title=title, year=2000)

    assert await titles(movies, "(orderBy: [year_ASC])") == ["Zulu", "Alpha", "Mike"]
    assert await titles(movies, "(orderBy: [year_DESC])") == ["Zulu", "Alpha", "Mike"]


async def test_nulls_sort_last_ascending_and_first_descending(movies: GraphQLClient) -> None:
    for title, year in [("none1", None), ("b", 1990), ("none2", None), ("a", 1980)]:
        await create_movie(movies, title=title, year=year)

    assert await titles(movies, "(orderBy: year_ASC)") == ["a", "b", "none1", "none2"]
    assert await titles(movies, "(orderBy: year_DESC)") == ["none1", "none2", "b", "a"]


async def test_order_by_id_and_timestamps(movies: GraphQLClient, clock: FrozenClock) -> None:
    for title in ["first", "second", "third"]:
        await create_movie(movies, title=title)
        clock.advance(1)

    assert await titles(movies, "(orderBy: id_DESC)") == ["third", "second", "first"]
    assert await titles(movies, "(orderBy: createdAt_DESC)") == ["third", "second", "first"]


async def test_order_by_does_not_offer_json_or_list_fields(movies: GraphQLClient) -> None:
    body = await movies.gql("{ movies(orderBy: tags_ASC) { title } }")

    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("(first: 2)", ["m0", "m1"]),
        ("(skip: 2)", ["m2", "m3", "m4"]),
        ("(first: 2, skip: 2)", ["m2", "m3"]),
        ("(first: 0)", []),
        ("(skip: 5)", []),
        ("(first: 100)", ["m0", "m1", "m2", "m3", "m4"]),
        ("(first: 2, skip: 1, orderBy: title_DESC)", ["m3", "m2"]),
    ],
)
async def test_first_and_skip(movies: GraphQLClient, args: str, expected: list[str]) -> None:
    for i in range(5):
        await create_movie(movies, title=f"m{i}")

    assert await titles(movies, args) == expected


@pytest.mark.parametrize("args", ["(first: -1)", "(skip: -1)"])
async def test_negative_first_or_skip_is_bad_user_input(movies: GraphQLClient, args: str) -> None:
    await create_movie(movies, title="Alien")

    body = await movies.gql(f"{{ movies{args} {{ title }} }}")

    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["path"] == ["movies"]
    assert ("first" if "first" in args else "skip") in error["message"]
