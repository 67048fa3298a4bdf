"""GraphQL request limits: depth, aliases, tokens, directives, cost, page size, body size,
and production mode (introspection for root only, no suggestions).

Every refused document answers QUERY_TOO_COMPLEX (or FORBIDDEN, BAD_USER_INPUT) before any
resolver runs: a refused mutation writes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from bastion.errors import ProjectError
from bastion.project import Project
from tests.conftest import GraphQLClient

STRICT = {"Accept": "application/graphql-response+json"}


async def start(
    make_project: Callable[..., Project], client_for: Callable[..., Any], **config: Any
) -> GraphQLClient:
    client: GraphQLClient = await client_for(make_project(**config))
    return client


def chain(depth: int) -> str:
    """A query ``depth`` fields deep: movies { director { movies { ... title } } }, each list
    of one item so that only its depth counts."""
    fields = ["movies(first: 1)" if i % 2 == 0 else "director" for i in range(depth - 1)]
    leaf = "title" if (depth - 2) % 2 == 0 else "name"
    return "{ " + " { ".join([*fields, leaf]) + " }" * (depth - 1) + " }"


def refused(body: dict[str, Any], limit: str) -> dict[str, Any]:
    """The one error of a document refused for ``limit``; no data at all."""
    assert "data" not in body, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX", error
    assert error["extensions"]["limit"] == limit, error
    return error  # type: ignore[no-any-return]


# -- depth ---------------------------------------------------------------------------------


async def test_twelve_levels_run_and_thirteen_are_refused(movies: GraphQLClient) -> None:
    assert (await movies.gql(chain(12))) == {"data": {"movies": []}}

    error = refused(await movies.gql(chain(13)), "depth")
    assert error["extensions"]["max"] == 12
    assert error["extensions"]["found"] == 13
    assert error["message"] == "The document nests fields too deeply (13); the limit is 12"


async def test_depth_counts_through_fragments(movies: GraphQLClient) -> None:
    # Six levels in the operation, seven more in two fragments: 13 once flattened.
    query = (
        "query { movies(first: 1) { director { movies(first: 1) { director {"
        " movies(first: 1) { director { ...deep } } } } } } }"
        " fragment deep on Person { movies(first: 1) { director { ...deeper } } }"
        " fragment deeper on Person { ... on Person { movies(first: 1) { director {"
        " movies(first: 1) { director { name } } } } } }"
    )
    error = refused(await movies.gql(query), "depth")
    assert error["extensions"]["found"] == 13


async def test_introspection_does_not_count_towards_depth(movies: GraphQLClient) -> None:
    # The usual explorer query nests ofType far past 12 levels.
    of_type = "kind name " + "ofType { kind name " * 9 + "}" * 9
    query = f"{{ __schema {{ types {{ fields {{ type {{ {of_type} }} }} }} }} }}"
    body = await movies.gql(query)
    assert "errors" not in body, body


async def test_fragments_chained_past_the_stack_are_refused_not_a_crash(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    # Only possible with the token limit off: 3,000 fragments, each one level deeper.
    client = await start(make_project, client_for, graphql={"max_tokens": None, "max_depth": None})
    chained = [
        f"fragment f{i} on Movie {{ director {{ movies(first: 1) {{ ...f{i + 1} }} }} }}"
        for i in range(3000)
    ]
    query = "{ movies(first: 1) { ...f0 } } " + " ".join(chained)
    query += " fragment f3000 on Movie { title }"
    body = await client.gql(query)
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "limit": "depth"}


# -- aliases and directives ------------------------------------------------------------------


async def test_thirty_aliases_run_and_thirty_one_are_refused(movies: GraphQLClient) -> None:
    def aliased(n: int) -> str:
        return "{ " + " ".join(f"a{i}: moviesCount" for i in range(n)) + " }"

    body = await movies.gql(aliased(30))
    assert body["data"]["a29"] == 0
    error = refused(await movies.gql(aliased(31)), "aliases")
    assert error["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "limit": "aliases",
        "max": 30,
        "found": 31,
    }


async def test_aliases_in_a_fragment_count_at_each_spread(movies: GraphQLClient) -> None:
    fragment = "fragment f on Query { " + " ".join(f"a{i}: moviesCount" for i in range(8)) + " }"
    query = "{ ...f x: movies { title } ... on Query { ...f ...f ...f } } " + fragment
    error = refused(await movies.gql(query), "aliases")
    assert error["extensions"]["found"] == 33


async def test_a_fragment_bomb_is_measured_without_expanding_it(movies: GraphQLClient) -> None:
    # Each fragment spreads the one below it twice: 2**40 aliases once written out.
    fragments = ["fragment f0 on Query { a: moviesCount b: moviesCount }"]
    fragments += [f"fragment f{i} on Query {{ ...f{i - 1} ...f{i - 1} }}" for i in range(1, 40)]
    query = "{ ...f39 } " + " ".join(fragments)
    began = time.perf_counter()
    error = refused(await movies.gql(query), "aliases")
    assert error["extensions"]["found"] == 2**40
    # Not a timing assertion of speed, a guard against walking 2**40 nodes: that would not end.
    assert time.perf_counter() - began < 30


async def test_more_than_fifty_directives_are_refused(movies: GraphQLClient) -> None:
    def directed(n: int) -> str:
        return "{ moviesCount " + "@include(if: true) " * n + "}"

    # graphql-core refuses a repeated non-repeatable directive; the count comes first.
    error = refused(await movies.gql(directed(51)), "directives")
    assert error["extensions"]["found"] == 51
    body = await movies.gql(directed(2))
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


# -- tokens --------------------------------------------------------------------------------


async def test_a_document_of_more_than_2000_tokens_is_refused_while_parsing(
    movies: GraphQLClient,
) -> None:
    query = "{ " + "moviesCount " * 2001 + "}"
    response = await movies.http.post("/graphql", json={"query": query}, headers=STRICT)
    assert response.status_code == 400
    error = refused(response.json(), "tokens")
    assert error["extensions"]["max"] == 2000

    # Whitespace and comments are no way around it.
    comments = "{ moviesCount\n" + "# x\n" * 5000 + "}"
    body = await movies.gql(comments)
    refused(body, "tokens")


# -- cost and page size ----------------------------------------------------------------------


NESTED = "query($n: Int) { movies(first: $n) { title director { movies(first: $n) { title } } } }"


async def test_cost_counts_nested_lists_with_their_first(movies: GraphQLClient) -> None:
    # 700 movies, 700 directors, 700 x 700 of their movies: 491,400 objects at most.
    assert "errors" not in await movies.gql(NESTED, {"n": 700})
    # 800 + 800 + 640,000.
    error = refused(await movies.gql(NESTED, {"n": 800}), "cost")
    assert error["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "limit": "cost",
        "max": 500_000,
        "found": 641_600,
    }


async def test_lists_without_first_count_as_a_default_page(movies: GraphQLClient) -> None:
    # 100 + 100 + 100 x 100 + 100 x 100 + 100 x 100 x 100: three levels of default pages.
    query = "{ movies { director { movies { director { movies { title } } } } } }"
    error = refused(await movies.gql(query), "cost")
    assert error["extensions"]["found"] == 100 + 100 + 10_000 + 10_000 + 1_000_000
    # Costed once for the cached document, refused every time.
    assert refused(await movies.gql(query), "cost") == error


async def test_a_cost_follows_the_variables_that_feed_it_and_only_those(
    movies: GraphQLClient,
) -> None:
    # `first: $n` feeds the cost: each request is costed with its own n, in any order.
    for n, allowed in ((800, False), (700, True), (800, False), (1, True)):
        body = await movies.gql(NESTED, {"n": n})
        assert ("errors" not in body) is allowed, (n, body)
    # A variable that feeds no `first` leaves the cost as it is, whatever its value.
    query = (
        "query($t: String) { movies(where: {title: $t}) "
        "{ director { movies { director { movies { title } } } } } }"
    )
    errors = [refused(await movies.gql(query, {"t": t}), "cost") for t in ("A", None, "B")]
    assert errors[0]["extensions"]["found"] == 100 + 100 + 10_000 + 10_000 + 1_000_000
    assert errors[1] == errors[0] == errors[2]


async def test_a_refused_mutation_writes_nothing(movies: GraphQLClient) -> None:
    creates = " ".join(f'm{i}: createMovie(data: {{title: "M{i}"}}) {{ id }}' for i in range(31))
    refused(await movies.gql(f"mutation {{ {creates} }}"), "aliases")
    assert await movies.data("{ moviesCount }") == {"moviesCount": 0}


async def test_a_list_without_first_answers_one_default_page(movies: GraphQLClient) -> None:
    creates = ", ".join(f'{{title: "M{i:03}"}}' for i in range(150))
    create = f'createPerson(data: {{name: "P", movies: {{create: [{creates}]}}}}) {{ id }}'
    await movies.data(f"mutation {{ {create} }}")

    data = await movies.data("{ movies(orderBy: [title_ASC]) { title } moviesCount }")
    assert len(data["movies"]) == 100
    assert data["moviesCount"] == 150
    data = await movies.data("{ people { movies { title } } }")
    assert len(data["people"][0]["movies"]) == 100
    data = await movies.data("{ movies(first: 150) { title } }")
    assert len(data["movies"]) == 150
    data = await movies.data("{ movies(orderBy: [title_ASC], skip: 100) { title } }")
    assert [m["title"] for m in data["movies"]][:2] == ["M100", "M101"]


async def test_first_above_the_maximum_is_bad_input(movies: GraphQLClient) -> None:
    body = await movies.gql("{ movies(first: 1001) { title } }")
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "max": 1000}
    assert error["message"] == "`first` may be at most 1000 (page with `skip`)"
    assert error["path"] == ["movies"]
    body = await movies.gql("{ people(first: 1) { movies(first: 5000) { title } } }")
    assert body == {"data": {"people": []}}  # no parent, the relation never runs
    assert "errors" not in await movies.gql("{ movies(first: 1000) { title } }")


# -- configuration ---------------------------------------------------------------------------


async def test_every_limit_is_configurable(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    tight = await start(
        make_project,
        client_for,
        graphql={
            "max_depth": 3,
            "max_aliases": 1,
            "max_tokens": 40,
            "max_directives": 1,
            "max_cost": 10,
            "max_page_size": 5,
            "default_page_size": 2,
        },
    )
    refused(await tight.gql(chain(4)), "depth")
    refused(await tight.gql("{ a: moviesCount b: moviesCount }"), "aliases")
    refused(await tight.gql("{ " + "moviesCount " * 41 + "}"), "tokens")
    refused(
        await tight.gql("{ moviesCount @include(if: true) m: moviesCount @skip(if: false) }"),
        "directives",
    )
    refused(
        await tight.gql("{ movies(first: 5) { director { name } } people(first: 5) { name } }"),
        "cost",
    )
    body = await tight.gql("{ movies(first: 6) { title } }")
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "max": 5}


async def test_null_turns_a_limit_off(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    loose = await start(
        make_project, client_for, graphql={"max_depth": None, "max_aliases": None, "max_cost": None}
    )
    assert "errors" not in await loose.gql(chain(20))
    assert "errors" not in await loose.gql(
        "{ " + " ".join(f"a{i}: moviesCount" for i in range(40)) + " }"
    )


@pytest.mark.parametrize(
    ("graphql", "message"),
    [
        ({"max_depth": 0}, "graphql.max_depth: Input should be greater than or equal to 1"),
        ({"max_cost": "lots"}, "graphql.max_cost"),
        ({"depth": 3}, "unknown key 'graphql.depth'"),
        (
            {"default_page_size": 50, "max_page_size": 10},
            "default_page_size (50) is larger than max_page_size (10)",
        ),
    ],
)
def test_bad_limits_are_named(
    make_project: Callable[..., Project], graphql: dict[str, Any], message: str
) -> None:
    with pytest.raises(ProjectError) as caught:
        make_project(graphql=graphql)
    assert message in str(caught.value)


def test_a_bad_mode_is_named(make_project: Callable[..., Project]) -> None:
    with pytest.raises(ProjectError) as caught:
        make_project(mode="prod")
    assert "mode: Input should be 'development' or 'production'" in str(caught.value)


async def test_the_body_limit_is_configurable(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    small = await start(make_project, client_for, http={"max_body_bytes": 2048})
    query = "{ moviesCount }" + " " * 3000
    response = await small.http.post("/graphql", json={"query": query})
    assert response.status_code == 413
    assert response.json()["errors"][0]["message"] == ("The request body is larger than 2048 bytes")


# -- production mode -------------------------------------------------------------------------


INTROSPECT = "{ __schema { queryType { name } } }"


async def production(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> tuple[GraphQLClient, str]:
    client = await start(make_project, client_for, mode="production", root_tokens=["ops"])
    tokens = client.app.state.service.auth.root_tokens
    await tokens.deploy(["ops"])
    return client, await tokens.get("ops")


async def test_production_mode_keeps_introspection_for_root_tokens(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    client, root = await production(make_project, client_for)

    response = await client.http.post("/graphql", json={"query": INTROSPECT}, headers=STRICT)
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "message": "Introspection is turned off (mode: production) for all but root tokens",
                "extensions": {"code": "FORBIDDEN"},
            }
        ]
    }
    hidden = await client.gql('{ movies { title } t: __type(name: "Movie") { name } }')
    assert hidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "data" not in hidden

    as_root = await client.gql(INTROSPECT, headers={"Authorization": f"Bearer {root}"})
    assert as_root == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
    # __typename is no introspection of the schema.
    assert await client.data("{ __typename }") == {"__typename": "Query"}


async def test_production_mode_suggests_no_names(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    client, _root = await production(make_project, client_for)
    developer = await start(make_project, client_for)

    typo = "{ movies { titel } }"
    (error,) = (await client.gql(typo))["errors"]
    assert "Did you mean" not in error["message"]
    (hint,) = (await developer.gql(typo))["errors"]
    assert "Did you mean 'title'?" in hint["message"]

    enum_typo = "query { movies(where: {genre: ACTON}) { title } }"
    for body in (
        await client.gql(enum_typo),
        await client.gql(
            "query($g: Genre) { movies(where: {genre: $g}) { title } }", {"g": "ACTON"}
        ),
    ):
        assert all("Did you mean" not in e["message"] for e in body["errors"]), body


async def test_development_mode_answers_introspection_to_everyone(movies: GraphQLClient) -> None:
    assert await movies.data(INTROSPECT) == {"__schema": {"queryType": {"name": "Query"}}}
