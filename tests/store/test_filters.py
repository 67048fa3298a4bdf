"""Every filter of the generated ``where`` inputs, over a real SQLite file.

One data set, then a table of (where, expected titles or names). Results are compared as sets:
ordering has its own tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bastion.project import Project
from tests.conftest import GraphQLClient

SEED = """
mutation {
  ridley: createPerson(data: {name: "Ridley Scott", born: 1937, movies: {create: [
    {title: "Alien", year: 1979, rating: 8.5, genre: SCIFI, seen: true,
     released: "1979-05-25T00:00:00Z", tags: ["space", "horror"]},
    {title: "Blade Runner", year: 1982, rating: 8.1, genre: SCIFI,
     released: "1982-06-25T00:00:00Z"}
  ]}}) { id }
  james: createPerson(data: {name: "James Cameron", born: 1954, movies: {create: [
    {title: "Aliens", year: 1986, rating: 8.4, genre: ACTION, seen: true,
     released: "1986-07-18T00:00:00Z"}
  ]}}) { id }
  michael: createPerson(data: {name: "Michael Mann", born: 1943, movies: {create: [
    {title: "Heat", year: 1995, rating: 8.3, genre: DRAMA, released: "1995-12-15T00:00:00Z"}
  ]}}) { id }
  jane: createPerson(data: {name: "Jane Doe", movies: {create: [{title: "Mystery"}]}}) { id }
  nobody: createPerson(data: {name: "Nobody", born: 1990}) { id }
  loose: createMovie(data: {title: "100% Real_Story", year: 2000}) { id }
}
"""

ALL_MOVIES = {"Alien", "Blade Runner", "Aliens", "Heat", "Mystery", "100% Real_Story"}
ALL_PEOPLE = {"Ridley Scott", "James Cameron", "Michael Mann", "Jane Doe", "Nobody"}


@pytest.fixture
async def seeded(movies: GraphQLClient) -> GraphQLClient:
    """The movies client with the data set above."""
    await movies.data(SEED)
    return movies


async def movie_titles(client: GraphQLClient, where: dict[str, Any]) -> set[str]:
    """Titles matching ``where`` (a variable), checked against the count of the same filter."""
    data = await client.data(
        "query($where: MovieWhereInput) { movies(where: $where) { title } "
        "moviesCount(where: $where) }",
        {"where": where},
    )
    found = {m["title"] for m in data["movies"]}
    assert data["moviesCount"] == len(found)
    return found


async def person_names(client: GraphQLClient, where: dict[str, Any]) -> set[str]:
    """Names of the people matching ``where``."""
    data = await client.data(
        "query($where: PersonWhereInput) { people(where: $where) { name } "
        "peopleCount(where: $where) }",
        {"where": where},
    )
    found = {p["name"] for p in data["people"]}
    assert data["peopleCount"] == len(found)
    return found


MOVIE_FILTERS: list[tuple[dict[str, Any], set[str]]] = [
    # equality, and null in equality
    ({}, ALL_MOVIES),
    ({"title": "Alien"}, {"Alien"}),
    ({"title": "alien"}, set()),
    ({"year": 1979}, {"Alien"}),
    ({"year": None}, {"Mystery"}),
    ({"year_not": None}, ALL_MOVIES - {"Mystery"}),
    ({"rating": 8.4}, {"Aliens"}),
    ({"genre": "SCIFI"}, {"Alien", "Blade Runner"}),
    ({"seen": True}, {"Alien", "Aliens"}),
    ({"released": "1979-05-25T02:00:00+02:00"}, {"Alien"}),
    # _not matches nulls too
    ({"title_not": "Alien"}, ALL_MOVIES - {"Alien"}),
    ({"year_not": 1979}, ALL_MOVIES - {"Alien"}),
    ({"genre_not": "SCIFI"}, {"Aliens", "Heat", "Mystery", "100% Real_Story"}),
    ({"seen_not": True}, ALL_MOVIES - {"Alien", "Aliens"}),
    ({"released_not": "1979-05-25T00:00:00Z"}, ALL_MOVIES - {"Alien"}),
    # _in / _not_in (nulls are "not in")
    ({"title_in": ["Alien", "Heat", "Nope"]}, {"Alien", "Heat"}),
    ({"title_in": []}, set()),
    ({"year_in": [1979, 1995]}, {"Alien", "Heat"}),
    ({"genre_in": ["ACTION", "DRAMA"]}, {"Aliens", "Heat"}),
    ({"year_not_in": [1979, 1995]}, ALL_MOVIES - {"Alien", "Heat"}),
    ({"genre_not_in": ["SCIFI"]}, {"Aliens", "Heat", "Mystery", "100% Real_Story"}),
    ({"title_not_in": []}, ALL_MOVIES),
    # comparisons (nulls never match)
    ({"year_lt": 1982}, {"Alien"}),
    ({"year_lte": 1982}, {"Alien", "Blade Runner"}),
    ({"year_gt": 1986}, {"Heat", "100% Real_Story"}),
    ({"year_gte": 1986}, {"Aliens", "Heat", "100% Real_Story"}),
    ({"rating_gt": 8.3}, {"Alien", "Aliens"}),
    ({"rating_lte": 8.3}, {"Blade Runner", "Heat"}),
    ({"released_lt": "1985-01-01T00:00:00Z"}, {"Alien", "Blade Runner"}),
    ({"released_gte": "1986-07-18T00:00:00Z"}, {"Aliens", "Heat"}),
    ({"title_lt": "B"}, {"Alien", "Aliens", "100% Real_Story"}),
    ({"title_gte": "H"}, {"Heat", "Mystery"}),
    # string matching: case-sensitive, and % and _ are plain characters
    ({"title_contains": "lien"}, {"Alien", "Aliens"}),
    ({"title_contains": "LIEN"}, set()),
    ({"title_contains": "%"}, {"100% Real_Story"}),
    ({"title_contains": "_"}, {"100% Real_Story"}),
    ({"title_contains": "l_e"}, set()),
    ({"title_not_contains": "lien"}, ALL_MOVIES - {"Alien", "Aliens"}),
    ({"title_starts_with": "Al"}, {"Alien", "Aliens"}),
    ({"title_starts_with": "al"}, set()),
    ({"title_starts_with": "100%"}, {"100% Real_Story"}),
    ({"title_not_starts_with": "Al"}, ALL_MOVIES - {"Alien", "Aliens"}),
    ({"title_ends_with": "s"}, {"Aliens"}),
    ({"title_ends_with": "_Story"}, {"100% Real_Story"}),
    ({"title_not_ends_with": "n"}, ALL_MOVIES - {"Alien"}),
    # several keys in one object are ANDed
    ({"genre": "SCIFI", "year_gt": 1980}, {"Blade Runner"}),
    # AND / OR / NOT lists
    ({"AND": [{"genre": "SCIFI"}, {"year_gt": 1980}]}, {"Blade Runner"}),
    ({"AND": []}, ALL_MOVIES),
    ({"OR": [{"year": 1979}, {"title": "Heat"}]}, {"Alien", "Heat"}),
    ({"OR": []}, set()),
    (
        {"OR": [{"AND": [{"genre": "SCIFI"}, {"year_lt": 1980}]}, {"genre": "DRAMA"}]},
        {"Alien", "Heat"},
    ),
    ({"NOT": [{"genre": "SCIFI"}]}, {"Aliens", "Heat", "Mystery", "100% Real_Story"}),
    ({"NOT": [{"year": 1979}, {"year": 1995}]}, ALL_MOVIES - {"Alien", "Heat"}),
    ({"NOT": [{"year_gt": 1980}]}, {"Alien", "Mystery"}),
    ({"NOT": [{"NOT": [{"genre": "SCIFI"}]}]}, {"Alien", "Blade Runner"}),
    ({"NOT": []}, ALL_MOVIES),
    # a null list is no filter (while an empty OR has no alternative that holds)
    ({"AND": None}, ALL_MOVIES),
    ({"OR": None}, ALL_MOVIES),
    ({"NOT": None}, ALL_MOVIES),
    ({"OR": None, "year": 1979}, {"Alien"}),
    # through the to-one relation
    ({"director": {"name": "Ridley Scott"}}, {"Alien", "Blade Runner"}),
    ({"director": {"born_lt": 1950}}, {"Alien", "Blade Runner", "Heat"}),
    ({"director": {"born": None}}, {"Mystery"}),
    ({"director": None}, {"100% Real_Story"}),
    ({"director": {}}, ALL_MOVIES - {"100% Real_Story"}),
    ({"director": {"movies_some": {"genre": "DRAMA"}}}, {"Heat"}),
    ({"NOT": [{"director": {"name": "Ridley Scott"}}]}, ALL_MOVIES - {"Alien", "Blade Runner"}),
    ({"OR": [{"director": {"name": "Jane Doe"}}, {"year": 1995}]}, {"Mystery", "Heat"}),
]


@pytest.mark.parametrize(
    ("where", "expected"), MOVIE_FILTERS, ids=[str(w) for w, _ in MOVIE_FILTERS]
)
async def test_movie_filter(
    seeded: GraphQLClient, where: dict[str, Any], expected: set[str]
) -> None:
    assert await movie_titles(seeded, where) == expected


PERSON_FILTERS: list[tuple[dict[str, Any], set[str]]] = [
    ({"movies_some": {"genre": "SCIFI"}}, {"Ridley Scott"}),
    ({"movies_some": {}}, ALL_PEOPLE - {"Nobody"}),
    ({"movies_none": {}}, {"Nobody"}),
    ({"movies_none": {"genre": "SCIFI"}}, ALL_PEOPLE - {"Ridley Scott"}),
    # every: vacuously true without movies; a null value fails the condition
    ({"movies_every": {"genre": "SCIFI"}}, {"Ridley Scott", "Nobody"}),
    ({"movies_every": {"year_gt": 1980}}, {"James Cameron", "Michael Mann", "Nobody"}),
    ({"movies_none": {"year_gt": 1980}}, {"Jane Doe", "Nobody"}),
    ({"movies_some": {"year_lt": 1980}, "born_lt": 1940}, {"Ridley Scott"}),
    ({"movies_some": {"title_contains": "lien"}}, {"Ridley Scott", "James Cameron"}),
    ({"NOT": [{"movies_some": {}}]}, {"Nobody"}),
    ({"born_not": 1937}, ALL_PEOPLE - {"Ridley Scott"}),
    ({"movies_some": {"director": {"born_gt": 1950}}}, {"James Cameron"}),
]


@pytest.mark.parametrize(
    ("where", "expected"), PERSON_FILTERS, ids=[str(w) for w, _ in PERSON_FILTERS]
)
async def test_person_filter(
    seeded: GraphQLClient, where: dict[str, Any], expected: set[str]
) -> None:
    assert await person_names(seeded, where) == expected


async def test_filter_by_id(seeded: GraphQLClient) -> None:
    data = await seeded.data("{ movies { id title } }")
    ids = {m["title"]: m["id"] for m in data["movies"]}

    assert await movie_titles(seeded, {"id": ids["Heat"]}) == {"Heat"}
    assert await movie_titles(seeded, {"id_in": [ids["Heat"], ids["Alien"]]}) == {"Heat", "Alien"}
    assert await movie_titles(seeded, {"id_not": ids["Heat"]}) == ALL_MOVIES - {"Heat"}


async def test_filter_as_a_literal(seeded: GraphQLClient) -> None:
    data = await seeded.data(
        "{ movies(where: {OR: [{genre: SCIFI, year_gt: 1980},"
        ' {director: {name_starts_with: "Mi"}}]}) { title } }'
    )

    assert {m["title"] for m in data["movies"]} == {"Blade Runner", "Heat"}


@pytest.mark.parametrize("key", ["year_lt", "title_contains", "title_in", "genre_not_in"])
async def test_null_where_a_value_is_needed_is_bad_user_input(
    seeded: GraphQLClient, key: str
) -> None:
    body = await seeded.gql(
        "query($where: MovieWhereInput) { movies(where: $where) { title } }",
        {"where": {key: None}},
    )

    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert key in body["errors"][0]["message"]


async def test_null_to_many_filter_is_bad_user_input(seeded: GraphQLClient) -> None:
    body = await seeded.gql("{ people(where: {movies_some: null}) { name } }")

    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "movies_some" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    "where",
    [
        "{nope: 1}",
        '{tags_contains: "space"}',  # list fields are not filterable
        "{extra: 1}",  # nor JSON fields
        '{genre_contains: "SCI"}',  # string matching is for strings only
        '{year_contains: "19"}',
        "{seen_in: [true]}",  # booleans take equality only
        '{year: "1979"}',
    ],
)
async def test_filters_the_schema_does_not_offer(seeded: GraphQLClient, where: str) -> None:
    body = await seeded.gql(f"{{ movies(where: {where}) {{ title }} }}")

    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_wrong_type_in_a_filter_variable_is_bad_user_input(seeded: GraphQLClient) -> None:
    body = await seeded.gql(
        "query($where: MovieWhereInput) { movies(where: $where) { title } }",
        {"where": {"year_gt": "old"}},
    )

    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# -- an optional string field: negations include the nodes without a value ---------------

NOTES_SCHEMA = """
type Note {
  text: String
  n: Int
}
"""

NOTE_FILTERS: list[tuple[dict[str, Any], set[int]]] = [
    ({"text": None}, {3}),
    ({"text_not": "apple"}, {2, 3}),
    ({"text_not_in": ["apple"]}, {2, 3}),
    ({"text_not_contains": "pp"}, {2, 3}),
    ({"text_not_starts_with": "a"}, {2, 3}),
    ({"text_not_ends_with": "e"}, {2, 3}),
    ({"text_contains": "a"}, {1, 2}),
    ({"text_lt": "b"}, {1}),
    ({"NOT": [{"text": "apple"}]}, {2, 3}),
    ({"NOT": [{"text_contains": "pp"}]}, {2, 3}),
    ({"NOT": [{"text_in": ["apple", "banana"]}]}, {3}),
    ({"NOT": [{"text_lt": "b"}]}, {2, 3}),
    ({"NOT": [{"text_not": "apple"}]}, {1}),
]


@pytest.mark.parametrize(("where", "expected"), NOTE_FILTERS, ids=[str(w) for w, _ in NOTE_FILTERS])
async def test_negations_match_missing_values(
    make_project: Callable[..., Project],
    client_for: Callable[..., Any],
    where: dict[str, Any],
    expected: set[int],
) -> None:
    client: GraphQLClient = await client_for(make_project(NOTES_SCHEMA))
    await client.data(
        'mutation { a: createNote(data: {text: "apple", n: 1}) { id } '
        'b: createNote(data: {text: "banana", n: 2}) { id } '
        "c: createNote(data: {n: 3}) { id } }"
    )

    data = await client.data(
        "query($where: NoteWhereInput) { notes(where: $where) { n } }", {"where": where}
    )

    assert {note["n"] for note in data["notes"]} == expected
