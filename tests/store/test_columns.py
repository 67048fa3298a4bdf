"""Column types that behave the same on SQLite and PostgreSQL, seen through the API."""

from __future__ import annotations

from tests.conftest import GraphQLClient

# Code point order: capitals before small letters, accented letters after both.
TITLES = ["Zoe", "adam", "bob", "Émile"]


async def test_text_sorts_and_compares_by_code_point_on_every_database(
    movies: GraphQLClient,
) -> None:
    # The test databases of a PostgreSQL run sort linguistically ("adam" before "Zoe"):
    # only the columns' own collation gives this order.
    for title in reversed(TITLES):
        await movies.data(
            "mutation($t: String!) { createMovie(data: {title: $t}) { id } }", {"t": title}
        )
    ordered = await movies.data("{ movies(orderBy: [title_ASC]) { title } }")
    assert [m["title"] for m in ordered["movies"]] == TITLES
    below = await movies.data('{ movies(where: {title_lt: "a"}, orderBy: [title_DESC]) { title } }')
    assert [m["title"] for m in below["movies"]] == ["Zoe"]


async def test_unique_text_differs_by_case(movies: GraphQLClient) -> None:
    await movies.data('mutation { createMovie(data: {title: "alien"}) { id } }')
    await movies.data('mutation { createMovie(data: {title: "Alien"}) { id } }')
    count = await movies.data("{ moviesCount }")
    assert count == {"moviesCount": 2}
