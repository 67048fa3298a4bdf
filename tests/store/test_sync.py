"""Start-up sync: a project folder restarted with a changed schema keeps its data.

Safe changes (new types, new optional fields, new or dropped @unique on clean data) are applied
at start; a change that would lose or reinterpret data stops the start with a message naming it,
and leaves the database exactly as it was.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from bastion import create_app, load_project
from bastion.errors import SchemaChangeRefused
from bastion.project import Project
from bastion.project.service import Service
from bastion.tools.clock import FrozenClock
from tests import databases
from tests.conftest import MOVIES_SCHEMA, STARTUP_TIMEOUT, GraphQLClient, write_project

BASE = """
type Movie {
  title: String! @unique
  year: Int
  rating: Float
  director: Person
}

type Person {
  name: String! @unique
  movies: [Movie!]!
}
"""


@asynccontextmanager
async def serving(project: Project) -> AsyncIterator[GraphQLClient]:
    """Start the app of ``project`` (sync included), and stop it when the block ends."""
    app = create_app(project, clock=FrozenClock())
    async with (
        LifespanManager(app, startup_timeout=STARTUP_TIMEOUT) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://testserver"
        ) as http,
    ):
        yield GraphQLClient(http, app)


def restart_with(root: Path, schema: str) -> Project:
    """Rewrite the folder's schema (and its open permissions) and load it again."""
    return load_project(write_project(root, schema))


async def refusal(project: Project) -> SchemaChangeRefused:
    """Start ``project`` the way ``bastion serve`` does, expecting the start to be refused."""
    service = Service(project, FrozenClock())
    try:
        with pytest.raises(SchemaChangeRefused) as caught:
            await service.start()
    finally:
        await service.stop()
    return caught.value


def database_schema(project: Project) -> list[tuple[str, str]]:
    """Every table and index of the database with its definition, read beside the app."""
    return databases.schema(project.root)


@pytest.fixture
async def started(make_project: Callable[..., Project]) -> Project:
    """A project of BASE, started once, holding two movies and a director."""
    project = make_project(BASE)
    async with serving(project) as client:
        await client.data(
            'mutation { createPerson(data: {name: "Ridley Scott", movies: {create: ['
            '{title: "Alien", year: 1979, rating: 8.5}, {title: "Legend", year: 1985}]}}) { id } }'
        )
    return project


STORED = "{ movies { title year rating director { name } } }"
STORED_DATA = {
    "movies": [
        {"title": "Alien", "year": 1979, "rating": 8.5, "director": {"name": "Ridley Scott"}},
        {"title": "Legend", "year": 1985, "rating": None, "director": {"name": "Ridley Scott"}},
    ]
}


async def assert_untouched(project: Project, before: list[tuple[str, str]]) -> None:
    """The database has the tables it had, and the original schema still serves the data."""
    assert database_schema(project) == before
    async with serving(restart_with(project.root, BASE)) as client:
        assert await client.data(STORED) == STORED_DATA


# -- a fresh database -------------------------------------------------------------------


async def test_a_fresh_project_gets_its_tables_in_wal_mode(
    make_project: Callable[..., Project],
) -> None:
    project = make_project(MOVIES_SCHEMA)

    async with serving(project) as client:
        assert await client.data("{ movies { title } people { name } }") == {
            "movies": [],
            "people": [],
        }

    names = {name for name, _ in database_schema(project)}
    assert {"Movie", "Person", "User"} <= names
    if not databases.on_postgresql():
        assert databases.query(project.root, "PRAGMA journal_mode") == [("wal",)]


async def test_restart_with_the_same_schema_changes_nothing(started: Project) -> None:
    before = database_schema(started)

    async with serving(restart_with(started.root, BASE)) as client:
        assert await client.data(STORED) == STORED_DATA

    assert database_schema(started) == before


# -- safe changes are applied -----------------------------------------------------------


async def test_new_type_and_new_optional_fields_are_added_and_data_kept(started: Project) -> None:
    schema = BASE.replace("rating: Float", "rating: Float\n  tagline: String\n  seen: Boolean") + (
        "\ntype Studio {\n  name: String!\n  founded: DateTime\n}\n"
    )

    async with serving(restart_with(started.root, schema)) as client:
        assert await client.data(STORED) == STORED_DATA
        old = await client.data("{ movies { title tagline seen } }")
        await client.data(
            'mutation { createMovie(data: {title: "Heat", tagline: "A Los Angeles crime saga",'
            ' seen: true}) { id } createStudio(data: {name: "Fox",'
            ' founded: "1935-05-31T00:00:00Z"}) { id } }'
        )
        new = await client.data(
            '{ movies(where: {title: "Heat"}) { tagline seen } studios { name founded } }'
        )

    assert old == {
        "movies": [
            {"title": "Alien", "tagline": None, "seen": None},
            {"title": "Legend", "tagline": None, "seen": None},
        ]
    }
    assert new == {
        "movies": [{"tagline": "A Los Angeles crime saga", "seen": True}],
        "studios": [{"name": "Fox", "founded": "1935-05-31T00:00:00.000Z"}],
    }


async def test_a_new_optional_relation_gets_a_working_foreign_key(started: Project) -> None:
    schema = BASE.replace("director: Person", "director: Person\n  studio: Studio") + (
        "\ntype Studio {\n  name: String! @unique\n  movies: [Movie!]!\n}\n"
    )

    async with serving(restart_with(started.root, schema)) as client:
        created = await client.data(
            'mutation { createStudio(data: {name: "Fox", movies: {connect: [{title: "Alien"}]}})'
            " { id movies { title } } }"
        )
        assert created["createStudio"]["movies"] == [{"title": "Alien"}]
        await client.data(
            "mutation($id: ID!) { deleteStudio(id: $id) { id } }",
            {"id": created["createStudio"]["id"]},
        )
        after = await client.data("{ movies { title studio { name } } }")

    # onDelete SET_NULL is done by the database, so the key column must really reference Studio.
    assert after == {
        "movies": [{"title": "Alien", "studio": None}, {"title": "Legend", "studio": None}]
    }


async def test_a_new_unique_on_distinct_values_is_enforced(started: Project) -> None:
    schema = BASE.replace("year: Int", "year: Int @unique")

    async with serving(restart_with(started.root, schema)) as client:
        body = await client.gql(
            'mutation { createMovie(data: {title: "Copy", year: 1979}) { id } }'
        )
        assert body["errors"][0]["extensions"] == {"code": "CONFLICT", "field": "year"}
        assert await client.data(STORED) == STORED_DATA


async def test_a_dropped_unique_allows_duplicates(started: Project) -> None:
    schema = BASE.replace("title: String! @unique", "title: String!")

    async with serving(restart_with(started.root, schema)) as client:
        await client.data('mutation { createMovie(data: {title: "Alien", year: 1986}) { id } }')
        data = await client.data('{ moviesCount(where: {title: "Alien"}) }')

    assert data == {"moviesCount": 2}


async def test_an_empty_optional_field_may_be_removed_and_added_back(started: Project) -> None:
    with_tagline = BASE.replace("rating: Float", "rating: Float\n  tagline: String")
    async with serving(restart_with(started.root, with_tagline)) as client:
        await client.data('mutation { createMovie(data: {title: "Heat"}) { id } }')

    # Nobody has a value for the field, so nothing is lost by dropping it from the model.
    async with serving(restart_with(started.root, BASE)) as client:
        without = await client.data("{ movies { title } }")
    async with serving(restart_with(started.root, with_tagline)) as client:
        await client.data(
            'mutation { createMovie(data: {title: "Up", tagline: "Adventure"}) { id } }'
        )
        again = await client.data("{ movies { title tagline } }")

    assert [m["title"] for m in without["movies"]] == ["Alien", "Legend", "Heat"]
    assert again["movies"][-2:] == [
        {"title": "Heat", "tagline": None},
        {"title": "Up", "tagline": "Adventure"},
    ]


async def test_a_type_without_rows_may_be_removed(started: Project) -> None:
    async with serving(restart_with(started.root, BASE + "\ntype Draft { text: String }\n")):
        pass

    async with serving(restart_with(started.root, BASE)) as client:
        assert await client.data(STORED) == STORED_DATA


# -- unsafe changes are refused ---------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "named"),
    [
        # a removed field holding data
        (lambda s: s.replace("  rating: Float\n", ""), "Movie.rating"),
        # a changed type
        (lambda s: s.replace("year: Int", "year: String"), "Movie.year"),
        (lambda s: s.replace("rating: Float", "rating: Int"), "Movie.rating"),
        # a field made required
        (lambda s: s.replace("year: Int", "year: Int!"), "Movie.year"),
        # a new required field on a table with rows
        (lambda s: s.replace("year: Int", "year: Int\n  country: String!"), "Movie.country"),
        # a removed relation holding links
        (
            lambda s: s.replace("  director: Person\n", "").replace("  movies: [Movie!]!\n", ""),
            "Movie.directorId",
        ),
        # a removed type holding rows
        (lambda s: s.replace("  director: Person\n", "").split("type Person")[0], "Person"),
    ],
    ids=[
        "removed field",
        "Int to String",
        "Float to Int",
        "made required",
        "new required field",
        "removed relation",
        "removed type",
    ],
)
async def test_unsafe_changes_are_refused_and_nothing_changes(
    started: Project, change: Callable[[str], str], named: str
) -> None:
    before = database_schema(started)
    # A safe change rides along: it must not be applied either when the start is refused.
    schema = change(BASE) + "\ntype Extra {\n  note: String\n}\n"

    error = await refusal(restart_with(started.root, schema))

    assert named in error.message
    assert "nothing was changed" in error.message
    assert error.code == "SCHEMA_CHANGE_REFUSED"
    await assert_untouched(started, before)


async def test_every_refused_change_is_named(started: Project) -> None:
    schema = BASE.replace("year: Int", "year: String").replace("  rating: Float\n", "")

    error = await refusal(restart_with(started.root, schema))

    assert "Movie.year" in error.message
    assert "Movie.rating" in error.message


async def test_a_new_unique_on_duplicate_data_is_refused(started: Project) -> None:
    async with serving(started) as client:
        await client.data('mutation { createMovie(data: {title: "Alien 2", year: 1979}) { id } }')
    before = database_schema(started)

    error = await refusal(
        restart_with(started.root, BASE.replace("year: Int", "year: Int @unique"))
    )

    assert "Movie.year" in error.message
    assert "duplicate" in error.message
    assert database_schema(started) == before
    async with serving(restart_with(started.root, BASE)) as client:
        assert await client.data("{ moviesCount(where: {year: 1979}) }") == {"moviesCount": 2}


async def test_the_app_does_not_start_on_a_refused_change(started: Project) -> None:
    project = restart_with(started.root, BASE.replace("year: Int", "year: Boolean"))
    app = create_app(project, clock=FrozenClock())

    with pytest.raises(SchemaChangeRefused) as caught:
        async with LifespanManager(app, startup_timeout=STARTUP_TIMEOUT):
            pass

    assert "Movie.year" in str(caught.value)


# -- type changes the database cannot see: text and JSON columns --------------------------

VALUES = """
enum Genre { ACTION DRAMA SCIFI }

type Movie {
  title: String!
  genre: Genre
  note: String
  tags: [String!]
  extra: JSON
}
"""


@pytest.fixture
async def valued(make_project: Callable[..., Project]) -> Project:
    """A project of VALUES holding one movie with every field set."""
    project = make_project(VALUES)
    async with serving(project) as client:
        await client.data(
            'mutation { createMovie(data: {title: "Alien", genre: SCIFI, note: "ACTION",'
            ' tags: ["space"], extra: {budget: 11}}) { id } }'
        )
    return project


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ("enum Genre { ACTION DRAMA SCIFI }", "enum Genre { ACTION DRAMA }", "SCIFI"),
        ("note: String", "note: Genre\n  other: String", "Movie.note"),
        ("tags: [String!]", "tags: [Int!]", "[String] -> [Int]"),
        ("extra: JSON", "extra: [String!]", "JSON -> [String]"),
    ],
    ids=["enum lost a used value", "text to enum", "list item type", "JSON to list"],
)
async def test_value_type_changes_that_leave_unreadable_values_are_refused(
    valued: Project, old: str, new: str, named: str
) -> None:
    before = database_schema(valued)
    # note: "ACTION" fits the enum, so "text to enum" is refused only for the second row.
    async with serving(valued) as client:
        await client.data('mutation { createMovie(data: {title: "Heat", note: "crime"}) { id } }')

    error = await refusal(restart_with(valued.root, VALUES.replace(old, new)))

    assert named in error.message
    assert database_schema(valued) == before
    async with serving(restart_with(valued.root, VALUES)) as client:
        assert (await client.data("{ movies { genre note tags extra } }"))["movies"] == [
            {"genre": "SCIFI", "note": "ACTION", "tags": ["space"], "extra": {"budget": 11}},
            {"genre": None, "note": "crime", "tags": None, "extra": None},
        ]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("enum Genre { ACTION DRAMA SCIFI }", "enum Genre { ACTION DRAMA SCIFI WESTERN }"),
        ("enum Genre { ACTION DRAMA SCIFI }", "enum Genre { ACTION SCIFI }"),
        ("note: String", "note: Genre"),
        ("genre: Genre", "genre: String"),
        ("tags: [String!]", "tags: JSON"),
    ],
    ids=[
        "enum gained a value",
        "enum lost an unused value",
        "text that fits to enum",
        "enum to text",
        "list to JSON",
    ],
)
async def test_value_type_changes_that_keep_values_readable_are_applied(
    valued: Project, old: str, new: str
) -> None:
    async with serving(restart_with(valued.root, VALUES.replace(old, new))) as client:
        data = await client.data("{ movies { genre note tags extra } }")

    assert data["movies"] == [
        {"genre": "SCIFI", "note": "ACTION", "tags": ["space"], "extra": {"budget": 11}}
    ]


async def test_a_list_of_an_empty_field_may_change_its_item_type(valued: Project) -> None:
    schema = VALUES.replace("  extra: JSON\n", "  extra: JSON\n  scores: [String!]\n")
    async with serving(restart_with(valued.root, schema)):
        pass

    async with serving(restart_with(valued.root, schema.replace("[String!]\n}", "[Int!]\n}"))) as c:
        data = await c.data(
            'mutation { createMovie(data: {title: "Heat", scores: [1, 2]}) { scores } }'
        )

    assert data == {"createMovie": {"scores": [1, 2]}}
