"""Errors are GraphQL errors with a code, and a failed mutation writes nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from bastion.project import Project
from tests.conftest import GraphQLClient

MISSING_ID = "000000000000000000000000"


async def snapshot(client: GraphQLClient) -> dict[str, Any]:
    """Everything stored in the movies project, to compare before and after a failure."""
    return await client.data(
        "{ movies { id title year director { name } createdAt updatedAt } people { id name } }"
    )


async def seed(client: GraphQLClient) -> dict[str, str]:
    """Two movies and a director; returns the ids by title or name."""
    data = await client.data(
        'mutation { alien: createMovie(data: {title: "Alien", year: 1979, director: {create:'
        ' {name: "Ridley Scott"}}}) { id director { id } } heat: createMovie(data:'
        ' {title: "Heat", year: 1995}) { id } }'
    )
    return {
        "Alien": data["alien"]["id"],
        "Heat": data["heat"]["id"],
        "Ridley Scott": data["alien"]["director"]["id"],
    }


# -- unique violations ------------------------------------------------------------------


async def test_create_with_a_taken_unique_value_is_a_conflict(movies: GraphQLClient) -> None:
    await seed(movies)
    before = await snapshot(movies)

    body = await movies.gql('mutation { createMovie(data: {title: "Alien"}) { id } }')

    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "CONFLICT", "field": "title"}
    assert "title" in error["message"]
    assert error["path"] == ["createMovie"]
    assert error["locations"] == [{"line": 1, "column": 12}]
    assert await snapshot(movies) == before


async def test_update_to_a_taken_unique_value_is_a_conflict(movies: GraphQLClient) -> None:
    ids = await seed(movies)
    before = await snapshot(movies)

    body = await movies.gql(
        'mutation($id: ID!) { updateMovie(id: $id, data: {title: "Alien", year: 2000}) { id } }',
        {"id": ids["Heat"]},
    )

    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "CONFLICT", "field": "title"}
    assert await snapshot(movies) == before


async def test_conflict_in_a_nested_create_names_the_nested_field(movies: GraphQLClient) -> None:
    await seed(movies)
    before = await snapshot(movies)

    body = await movies.gql(
        'mutation { createMovie(data: {title: "Legend", director: {create:'
        ' {name: "Ridley Scott"}}}) { id } }'
    )

    assert body["errors"][0]["extensions"] == {"code": "CONFLICT", "field": "name"}
    assert "Person" in body["errors"][0]["message"]
    assert await snapshot(movies) == before


async def test_optional_unique_fields_allow_many_nulls(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    client: GraphQLClient = await client_for(
        make_project("type Account { handle: String! email: String @unique }")
    )

    await client.data(
        'mutation { a: createAccount(data: {handle: "a"}) { id } '
        'b: createAccount(data: {handle: "b"}) { id } '
        'c: createAccount(data: {handle: "c", email: "c@example.com"}) { id } }'
    )
    body = await client.gql(
        'mutation { createAccount(data: {handle: "d", email: "c@example.com"}) { id } }'
    )

    assert body["errors"][0]["extensions"] == {"code": "CONFLICT", "field": "email"}
    assert await client.data("{ accountsCount }") == {"accountsCount": 3}


async def test_conflict_names_the_field_whose_name_extends_another(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    client: GraphQLClient = await client_for(
        make_project("type Code { name: String @unique nameCode: String @unique }")
    )
    await client.data('mutation { createCode(data: {name: "a", nameCode: "x"}) { id } }')

    body = await client.gql('mutation { createCode(data: {name: "b", nameCode: "x"}) { id } }')

    assert body["errors"][0]["extensions"] == {"code": "CONFLICT", "field": "nameCode"}
    assert "nameCode" in body["errors"][0]["message"]


async def test_the_same_unique_value_twice_in_one_document_writes_neither(
    movies: GraphQLClient,
) -> None:
    body = await movies.gql(
        'mutation { a: createMovie(data: {title: "Twin"}) { id }'
        ' b: createMovie(data: {title: "Twin"}) { id } }'
    )

    assert body["data"] is None
    assert [e["path"] for e in body["errors"]] == [["b"]]
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert await movies.data("{ moviesCount }") == {"moviesCount": 0}


# -- missing nodes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "mutation",
    [
        'updateMovie(id: $id, data: {title: "X"}) { id }',
        "updateMovie(id: $id, data: {}) { id }",
        "deleteMovie(id: $id) { id }",
        'updatePerson(id: $id, data: {name: "X"}) { id }',
        "deletePerson(id: $id) { id }",
    ],
)
async def test_update_or_delete_of_a_missing_node_is_not_found(
    movies: GraphQLClient, mutation: str
) -> None:
    await seed(movies)
    before = await snapshot(movies)

    body = await movies.gql(f"mutation($id: ID!) {{ {mutation} }}", {"id": MISSING_ID})

    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "NOT_FOUND"}
    assert MISSING_ID in error["message"]
    assert error["path"] == [mutation.split("(")[0]]
    assert await snapshot(movies) == before


async def test_update_of_a_deleted_node_in_the_same_document_is_not_found(
    movies: GraphQLClient,
) -> None:
    ids = await seed(movies)
    before = await snapshot(movies)

    body = await movies.gql(
        "mutation($id: ID!) { deleteMovie(id: $id) { id }"
        " updateMovie(id: $id, data: {year: 1}) { id } }",
        {"id": ids["Heat"]},
    )

    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]
    assert await snapshot(movies) == before


# -- a mutation document is one transaction ----------------------------------------------


async def test_a_failing_last_field_undoes_every_earlier_field(movies: GraphQLClient) -> None:
    ids = await seed(movies)
    before = await snapshot(movies)

    body = await movies.gql(
        "mutation($alien: ID!, $heat: ID!) {"
        ' new: createMovie(data: {title: "Blade Runner",'
        ' director: {connect: {name: "Ridley Scott"}}}) { id }'
        " changed: updateMovie(id: $alien, data: {year: 1980}) { year }"
        " gone: deleteMovie(id: $heat) { id }"
        ' person: createPerson(data: {name: "Michael Mann"}) { id }'
        " missing: deleteMovie(id: $heat) { id } }",
        {"alien": ids["Alien"], "heat": ids["Heat"]},
    )

    assert body["data"] is None
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["missing"], "NOT_FOUND")
    ]
    assert await snapshot(movies) == before


async def test_a_failing_first_field_undoes_the_later_ones(movies: GraphQLClient) -> None:
    await seed(movies)
    before = await snapshot(movies)

    body = await movies.gql(
        'mutation { dup: createMovie(data: {title: "Alien"}) { id }'
        ' ok: createMovie(data: {title: "Fresh"}) { id } }'
    )

    assert body["data"] is None
    assert body["errors"][0]["path"] == ["dup"]
    assert await snapshot(movies) == before


async def test_a_failing_nested_field_of_a_mutation_result_undoes_it(
    movies: GraphQLClient,
) -> None:
    await seed(movies)
    before = await snapshot(movies)

    body = await movies.gql(
        'mutation { createPerson(data: {name: "Michael Mann", movies: {create:'
        ' [{title: "Heat2"}]}}) { name movies(first: -1) { title } } }'
    )

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["errors"][0]["path"] == ["createPerson", "movies"]
    assert await snapshot(movies) == before


async def test_later_fields_see_earlier_writes(movies: GraphQLClient) -> None:
    data = await movies.data(
        'mutation { a: createPerson(data: {name: "P"}) { name movies { title } }'
        ' b: createMovie(data: {title: "M", director: {connect: {name: "P"}}})'
        " { director { name movies { title } } } }"
    )

    assert data == {
        "a": {"name": "P", "movies": []},
        "b": {"director": {"name": "P", "movies": [{"title": "M"}]}},
    }


# -- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($n: Int) { movies(first: $n) { id } }", {"n": "ten"}),
        ("query($n: Int) { movies(first: $n) { id } }", {"n": 1.5}),
        ("query($id: ID!) { movie(id: $id) { id } }", {}),
        ("query($id: ID!) { movie(id: $id) { id } }", {"id": None}),
        (
            "mutation($d: MovieCreateInput!) { createMovie(data: $d) { id } }",
            {"d": {"title": "A", "year": "1979"}},
        ),
        (
            "mutation($d: MovieCreateInput!) { createMovie(data: $d) { id } }",
            {"d": {"title": "A", "nope": 1}},
        ),
        ("mutation($d: MovieCreateInput!) { createMovie(data: $d) { id } }", {"d": {}}),
        (
            "mutation($d: MovieCreateInput!) { createMovie(data: $d) { id } }",
            {"d": {"title": "A", "genre": "WESTERN"}},
        ),
        (
            "mutation($d: MovieCreateInput!) { createMovie(data: $d) { id } }",
            {"d": {"title": "A", "seen": "yes"}},
        ),
        (
            "mutation($d: MovieCreateInput!) { createMovie(data: $d) { id } }",
            {"d": {"title": "A", "tags": [1]}},
        ),
        ("query($o: [MovieOrderByInput!]) { movies(orderBy: $o) { id } }", {"o": ["nope_ASC"]}),
    ],
)
async def test_variables_of_the_wrong_type_are_bad_user_input(
    movies: GraphQLClient, query: str, variables: dict[str, Any]
) -> None:
    body = await movies.gql(query, variables)

    assert "data" not in body
    assert body["errors"]
    for error in body["errors"]:
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "locations" in error
    assert await movies.data("{ moviesCount }") == {"moviesCount": 0}


async def test_unknown_fields_are_validation_errors(movies: GraphQLClient) -> None:
    body = await movies.gql("{ movies { title budget } }")

    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "budget" in body["errors"][0]["message"]
    assert body["errors"][0]["locations"] == [{"line": 1, "column": 18}]


async def test_syntax_errors_are_parse_errors(movies: GraphQLClient) -> None:
    body = await movies.gql("{ movies { title }")

    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


# -- unexpected failures ----------------------------------------------------------------


async def test_an_unexpected_exception_is_logged_and_hidden(
    movies: GraphQLClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    await seed(movies)
    reader = movies.app.state.service.store.reader

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("disk /secret/path melted")

    monkeypatch.setattr(reader, "count", broken)

    with caplog.at_level(logging.ERROR, logger="bastion.graphql"):
        body = await movies.gql(f'{{ moviesCount movie(id: "{MISSING_ID}") {{ id }} }}')

    assert body["errors"] == [
        {
            "message": "Internal server error",
            "locations": [{"line": 1, "column": 3}],
            "path": ["moviesCount"],
            "extensions": {"code": "INTERNAL_SERVER_ERROR"},
        }
    ]
    assert "secret" not in str(body)
    assert any(
        r.exc_info and "disk /secret/path melted" in str(r.exc_info[1]) for r in caplog.records
    )


async def test_a_failing_query_field_leaves_the_others_answered(movies: GraphQLClient) -> None:
    ids = await seed(movies)

    body = await movies.gql(
        "query($id: ID!) { movie(id: $id) { title director { movies(skip: -1) { title } } }"
        " moviesCount }",
        {"id": ids["Alien"]},
    )

    assert body["data"] == {"movie": {"title": "Alien", "director": None}, "moviesCount": 2}
    (error,) = body["errors"]
    assert error["path"] == ["movie", "director", "movies"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
