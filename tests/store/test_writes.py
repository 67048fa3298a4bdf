"""Relations: nested create/connect/disconnect, onDelete, one-to-one and self relations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bastion.project import Project
from bastion.tools.clock import FrozenClock
from tests.conftest import GraphQLClient

RELATIONS_SCHEMA = """
type Studio {
  name: String! @unique
  films: [Film!]!
}

type Film {
  title: String! @unique
  studio: Studio!
}

type Post {
  title: String! @unique
  comments: [Comment!]!
}

type Comment {
  text: String! @unique
  post: Post! @relation(onDelete: CASCADE)
  flags: [Flag!]!
}

type Flag {
  reason: String!
  comment: Comment! @relation(onDelete: RESTRICT)
}

type Worker {
  name: String! @unique
  desk: Desk
}

type Desk {
  number: Int! @unique
  owner: Worker
}

type Employee {
  name: String! @unique
  manager: Employee @relation(name: "Reports")
  reports: [Employee!]! @relation(name: "Reports")
}
"""


@pytest.fixture
async def rel(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> GraphQLClient:
    """A client of a fresh project with the relations schema."""
    client: GraphQLClient = await client_for(make_project(RELATIONS_SCHEMA))
    return client


def code_of(body: dict[str, Any]) -> str:
    """The code of the first error of a response."""
    code: str = body["errors"][0]["extensions"]["code"]
    return code


async def directors(client: GraphQLClient) -> dict[str, str | None]:
    """Each movie's title with its director's name."""
    data = await client.data("{ movies { title director { name } } }")
    return {m["title"]: m["director"]["name"] if m["director"] else None for m in data["movies"]}


async def filmographies(client: GraphQLClient) -> dict[str, list[str]]:
    """Each person's name with the titles of their movies."""
    data = await client.data("{ people { name movies { title } } }")
    return {p["name"]: [m["title"] for m in p["movies"]] for p in data["people"]}


# -- nested create and connect ----------------------------------------------------------


async def test_create_with_a_nested_to_one_create(movies: GraphQLClient) -> None:
    data = await movies.data(
        'mutation { createMovie(data: {title: "Alien", director: {create: {name: "Ridley Scott",'
        " born: 1937}}}) { title director { name born movies { title } } } }"
    )

    assert data["createMovie"] == {
        "title": "Alien",
        "director": {"name": "Ridley Scott", "born": 1937, "movies": [{"title": "Alien"}]},
    }


@pytest.mark.parametrize("by", ["name", "id"])
async def test_create_connecting_an_existing_node(movies: GraphQLClient, by: str) -> None:
    person = await movies.data(
        'mutation { createPerson(data: {name: "Ridley Scott"}) { id name } }'
    )
    key = person["createPerson"][by]

    await movies.data(
        'mutation($where: PersonWhereUniqueInput!) { createMovie(data: {title: "Alien",'
        " director: {connect: $where}}) { id } }",
        {"where": {by: key}},
    )

    assert await directors(movies) == {"Alien": "Ridley Scott"}
    assert await movies.data("{ peopleCount }") == {"peopleCount": 1}


async def test_create_with_nested_to_many_create_and_connect(movies: GraphQLClient) -> None:
    await movies.data('mutation { createMovie(data: {title: "Legend"}) { id } }')

    data = await movies.data(
        'mutation { createPerson(data: {name: "Ridley Scott", movies: {'
        'create: [{title: "Alien", year: 1979}, {title: "Blade Runner", year: 1982}],'
        ' connect: [{title: "Legend"}]}}) { name movies(orderBy: title_ASC) { title } } }'
    )

    assert data["createPerson"] == {
        "name": "Ridley Scott",
        "movies": [{"title": "Alien"}, {"title": "Blade Runner"}, {"title": "Legend"}],
    }
    assert await directors(movies) == {
        "Legend": "Ridley Scott",
        "Alien": "Ridley Scott",
        "Blade Runner": "Ridley Scott",
    }


async def test_connecting_a_missing_node_writes_nothing(movies: GraphQLClient) -> None:
    body = await movies.gql(
        'mutation { createMovie(data: {title: "Alien", director: {connect: {name: "Nobody"}}})'
        " { id } }"
    )

    assert body["data"] is None
    assert code_of(body) == "NOT_FOUND"
    assert "Person" in body["errors"][0]["message"]
    assert await directors(movies) == {}


@pytest.mark.parametrize(
    "director",
    [
        '{create: {name: "A"}, connect: {name: "B"}}',
        "{}",
        '{connect: {name: "B", id: "000000000000000000000000"}}',
        "{connect: {}}",
    ],
)
async def test_a_to_one_input_takes_exactly_one_operation(
    movies: GraphQLClient, director: str
) -> None:
    await movies.data('mutation { createPerson(data: {name: "B"}) { id } }')

    body = await movies.gql(
        f'mutation {{ createMovie(data: {{title: "Alien", director: {director}}}) {{ id }} }}'
    )

    assert code_of(body) == "BAD_USER_INPUT"
    assert await directors(movies) == {}
    assert await movies.data("{ peopleCount }") == {"peopleCount": 1}


async def test_nested_child_cannot_set_its_own_parent(movies: GraphQLClient) -> None:
    body = await movies.gql(
        'mutation { createPerson(data: {name: "A", movies: {create: [{title: "Alien",'
        ' director: {create: {name: "B"}}}]}}) { id } }'
    )

    assert code_of(body) == "BAD_USER_INPUT"
    assert await filmographies(movies) == {}


async def test_a_failing_nested_create_writes_nothing(movies: GraphQLClient) -> None:
    await movies.data('mutation { createMovie(data: {title: "Alien"}) { id } }')

    body = await movies.gql(
        'mutation { createPerson(data: {name: "Ridley Scott", movies: {create: '
        '[{title: "Blade Runner"}, {title: "Alien"}]}}) { id } }'
    )

    assert code_of(body) == "CONFLICT"
    assert body["data"] is None
    assert await directors(movies) == {"Alien": None}
    assert await filmographies(movies) == {}


# -- update: connect, disconnect, create ------------------------------------------------


async def test_update_to_one_connect_moves_and_disconnect_clears(
    movies: GraphQLClient, clock: FrozenClock
) -> None:
    await movies.data(
        'mutation { a: createPerson(data: {name: "A", movies: {create: [{title: "M"}]}}) { id }'
        ' b: createPerson(data: {name: "B"}) { id } }'
    )
    movie = (await movies.data('{ movies(where: {title: "M"}) { id } }'))["movies"][0]
    clock.advance(5)

    moved = await movies.data(
        'mutation($id: ID!) { updateMovie(id: $id, data: {director: {connect: {name: "B"}}})'
        " { director { name } updatedAt } }",
        {"id": movie["id"]},
    )
    assert moved["updateMovie"] == {
        "director": {"name": "B"},
        "updatedAt": "2030-01-01T00:00:05.000Z",
    }
    assert await filmographies(movies) == {"A": [], "B": ["M"]}

    cleared = await movies.data(
        "mutation($id: ID!) { updateMovie(id: $id, data: {director: {disconnect: true}})"
        " { director { name } } }",
        {"id": movie["id"]},
    )
    assert cleared["updateMovie"] == {"director": None}
    assert await filmographies(movies) == {"A": [], "B": []}


async def test_update_to_one_nested_create(movies: GraphQLClient) -> None:
    created = await movies.data('mutation { createMovie(data: {title: "M"}) { id } }')

    await movies.data(
        'mutation($id: ID!) { updateMovie(id: $id, data: {director: {create: {name: "New"}}})'
        " { id } }",
        {"id": created["createMovie"]["id"]},
    )

    assert await directors(movies) == {"M": "New"}


async def test_update_to_many_connect_create_disconnect(movies: GraphQLClient) -> None:
    await movies.data(
        'mutation { a: createPerson(data: {name: "A", movies: {create: [{title: "A1"},'
        ' {title: "A2"}]}}) { id } b: createPerson(data: {name: "B", movies: {create: '
        '[{title: "B1"}]}}) { id } }'
    )
    person = (await movies.data('{ people(where: {name: "A"}) { id } }'))["people"][0]

    data = await movies.data(
        "mutation($id: ID!) { updatePerson(id: $id, data: {movies: {"
        'disconnect: [{title: "A1"}], connect: [{title: "B1"}], create: [{title: "A3"}]}})'
        " { movies(orderBy: title_ASC) { title } } }",
        {"id": person["id"]},
    )

    assert data["updatePerson"]["movies"] == [{"title": "A2"}, {"title": "A3"}, {"title": "B1"}]
    assert await directors(movies) == {
        "A1": None,
        "A2": "A",
        "B1": "A",
        "A3": "A",
    }


async def test_disconnecting_a_node_that_is_not_linked_is_not_found(
    movies: GraphQLClient,
) -> None:
    await movies.data(
        'mutation { a: createPerson(data: {name: "A", movies: {create: [{title: "A1"}]}}) { id }'
        ' b: createPerson(data: {name: "B", movies: {create: [{title: "B1"}]}}) { id } }'
    )
    person = (await movies.data('{ people(where: {name: "A"}) { id } }'))["people"][0]

    body = await movies.gql(
        "mutation($id: ID!) { updatePerson(id: $id, data: {born: 1950, movies: {"
        'disconnect: [{title: "A1"}, {title: "B1"}]}}) { id } }',
        {"id": person["id"]},
    )

    assert code_of(body) == "NOT_FOUND"
    assert body["errors"][0]["message"] == "No Movie in movies matches the given title"
    assert await directors(movies) == {"A1": "A", "B1": "B"}
    assert (await movies.data("{ people { born } }"))["people"] == [{"born": None}, {"born": None}]


async def test_update_to_many_set_replaces_the_list(movies: GraphQLClient) -> None:
    await movies.data(
        'mutation { a: createPerson(data: {name: "A", movies: {create: [{title: "A1"},'
        ' {title: "A2"}]}}) { id } b: createPerson(data: {name: "B", movies: {create: '
        '[{title: "B1"}]}}) { id } }'
    )
    person = (await movies.data('{ people(where: {name: "A"}) { id } }'))["people"][0]

    data = await movies.data(
        "mutation($id: ID!) { updatePerson(id: $id, data: {movies: {"
        'set: [{title: "A2"}, {title: "B1"}], create: [{title: "A3"}]}})'
        " { movies(orderBy: title_ASC) { title } } }",
        {"id": person["id"]},
    )

    assert data["updatePerson"]["movies"] == [{"title": "A2"}, {"title": "A3"}, {"title": "B1"}]
    assert await directors(movies) == {"A1": None, "A2": "A", "B1": "A", "A3": "A"}
    emptied = await movies.data(
        "mutation($id: ID!) { updatePerson(id: $id, data: {movies: {set: []}}) "
        "{ movies { title } } }",
        {"id": person["id"]},
    )
    assert emptied["updatePerson"]["movies"] == []


async def test_set_goes_alone_and_keeps_required_links(rel: GraphQLClient) -> None:
    await rel.data(
        'mutation { createStudio(data: {name: "S", films: {create: [{title: "F"}]}}) { id } }'
    )
    studio = (await rel.data("{ studios { id } }"))["studios"][0]["id"]
    mixed = await rel.gql(
        "mutation($id: ID!) { updateStudio(id: $id, data: {films: "
        '{set: [], connect: [{title: "F"}]}}) { id } }',
        {"id": studio},
    )
    assert code_of(mixed) == "BAD_USER_INPUT"
    dropped = await rel.gql(
        "mutation($id: ID!) { updateStudio(id: $id, data: {films: {set: []}}) { id } }",
        {"id": studio},
    )
    assert code_of(dropped) == "BAD_USER_INPUT"
    assert "required" in dropped["errors"][0]["message"]
    films = await rel.data("{ films { title studio { name } } }")
    assert films["films"] == [{"title": "F", "studio": {"name": "S"}}]


# -- required relations and onDelete ----------------------------------------------------


async def test_a_required_relation_must_be_given(rel: GraphQLClient) -> None:
    body = await rel.gql('mutation { createFilm(data: {title: "F"}) { id } }')

    # The input type is shared with nested creates (where the parent sets the link), so the
    # store, not the schema, says the link is missing.
    assert code_of(body) == "BAD_USER_INPUT"
    assert body["errors"][0]["message"] == "Film.studio is required"
    assert await rel.data("{ filmsCount }") == {"filmsCount": 0}


async def test_a_required_relation_cannot_be_disconnected(rel: GraphQLClient) -> None:
    await rel.data(
        'mutation { createStudio(data: {name: "S", films: {create: [{title: "F"}]}}) { id } }'
    )
    film = (await rel.data("{ films { id } }"))["films"][0]
    studio = (await rel.data("{ studios { id } }"))["studios"][0]

    to_one = await rel.gql(
        "mutation($id: ID!) { updateFilm(id: $id, data: {studio: {disconnect: true}}) { id } }",
        {"id": film["id"]},
    )
    to_many = await rel.gql(
        "mutation($id: ID!) { updateStudio(id: $id, data: {films: "
        '{disconnect: [{title: "F"}]}}) { id } }',
        {"id": studio["id"]},
    )

    assert code_of(to_one) == "BAD_USER_INPUT"
    assert code_of(to_many) == "BAD_USER_INPUT"
    assert (await rel.data("{ films { title studio { name } } }"))["films"] == [
        {"title": "F", "studio": {"name": "S"}}
    ]


async def test_on_delete_set_null_keeps_the_children(movies: GraphQLClient) -> None:
    created = await movies.data(
        'mutation { createPerson(data: {name: "A", movies: {create: [{title: "M1"},'
        ' {title: "M2"}]}}) { id } }'
    )

    deleted = await movies.data(
        "mutation($id: ID!) { deletePerson(id: $id) { name } }",
        {"id": created["createPerson"]["id"]},
    )

    assert deleted == {"deletePerson": {"name": "A"}}
    assert await directors(movies) == {"M1": None, "M2": None}


async def test_on_delete_restrict_refuses_and_keeps_everything(rel: GraphQLClient) -> None:
    created = await rel.data(
        'mutation { createStudio(data: {name: "S", films: {create: [{title: "F"}]}}) { id } }'
    )

    body = await rel.gql(
        "mutation($id: ID!) { deleteStudio(id: $id) { name } }",
        {"id": created["createStudio"]["id"]},
    )

    assert body["data"] is None
    assert code_of(body) == "CONFLICT"
    assert "Film.studio" in body["errors"][0]["message"]
    assert await rel.data("{ studios { name films { title } } }") == {
        "studios": [{"name": "S", "films": [{"title": "F"}]}]
    }


async def test_on_delete_restrict_allows_once_unlinked(rel: GraphQLClient) -> None:
    created = await rel.data(
        'mutation { createStudio(data: {name: "S", films: {create: [{title: "F"}]}}) { id } }'
    )
    film = (await rel.data("{ films { id } }"))["films"][0]

    await rel.data(
        "mutation($studio: ID!, $film: ID!) { deleteFilm(id: $film) { id }"
        " deleteStudio(id: $studio) { id } }",
        {"studio": created["createStudio"]["id"], "film": film["id"]},
    )

    assert await rel.data("{ studiosCount filmsCount }") == {"studiosCount": 0, "filmsCount": 0}


async def test_on_delete_cascade_deletes_the_children(rel: GraphQLClient) -> None:
    created = await rel.data(
        'mutation { keep: createPost(data: {title: "keep", comments: {create: [{text: "k"}]}})'
        ' { id } drop: createPost(data: {title: "drop", comments: {create: [{text: "d1"},'
        ' {text: "d2"}]}}) { id } }'
    )

    await rel.data(
        "mutation($id: ID!) { deletePost(id: $id) { title } }", {"id": created["drop"]["id"]}
    )

    assert await rel.data("{ posts { title } comments { text post { title } } }") == {
        "posts": [{"title": "keep"}],
        "comments": [{"text": "k", "post": {"title": "keep"}}],
    }


async def test_cascade_blocked_by_a_restrict_further_down_deletes_nothing(
    rel: GraphQLClient,
) -> None:
    created = await rel.data(
        'mutation { createPost(data: {title: "p", comments: {create: [{text: "c",'
        ' flags: {create: [{reason: "spam"}]}}]}}) { id } }'
    )

    body = await rel.gql(
        "mutation($id: ID!) { deletePost(id: $id) { title } }", {"id": created["createPost"]["id"]}
    )

    assert code_of(body) == "CONFLICT"
    # Three nested default pages could be a million flags: the last one asks for fewer.
    assert await rel.data("{ posts { title comments { text flags(first: 10) { reason } } } }") == {
        "posts": [{"title": "p", "comments": [{"text": "c", "flags": [{"reason": "spam"}]}]}]
    }


# -- one-to-one -------------------------------------------------------------------------


async def workers(client: GraphQLClient) -> dict[str, int | None]:
    """Each worker's name with the number of their desk."""
    data = await client.data("{ workers { name desk { number owner { name } } } }")
    result: dict[str, int | None] = {}
    for worker in data["workers"]:
        desk = worker["desk"]
        if desk is not None:
            assert desk["owner"]["name"] == worker["name"]
        result[worker["name"]] = desk["number"] if desk else None
    return result


async def test_one_to_one_from_either_side(rel: GraphQLClient) -> None:
    await rel.data(
        'mutation { a: createWorker(data: {name: "A", desk: {create: {number: 1}}}) { id }'
        ' b: createDesk(data: {number: 2, owner: {create: {name: "B"}}}) { id }'
        ' c: createWorker(data: {name: "C"}) { id } }'
    )

    assert await workers(rel) == {"A": 1, "B": 2, "C": None}
    data = await rel.data("{ desks(orderBy: number_ASC) { number owner { name } } }")
    assert data["desks"] == [
        {"number": 1, "owner": {"name": "A"}},
        {"number": 2, "owner": {"name": "B"}},
    ]


async def test_one_to_one_connect_replaces_the_current_link(rel: GraphQLClient) -> None:
    created = await rel.data(
        'mutation { a: createWorker(data: {name: "A", desk: {create: {number: 1}}}) { id }'
        " d: createDesk(data: {number: 2}) { id } }"
    )

    await rel.data(
        "mutation($id: ID!) { updateWorker(id: $id, data: {desk: {connect: {number: 2}}}) { id } }",
        {"id": created["a"]["id"]},
    )

    assert await workers(rel) == {"A": 2}
    desks = await rel.data("{ desks(orderBy: number_ASC) { number owner { name } } }")
    assert desks["desks"] == [{"number": 1, "owner": None}, {"number": 2, "owner": {"name": "A"}}]


async def test_one_to_one_disconnect_from_the_side_without_the_key(rel: GraphQLClient) -> None:
    created = await rel.data(
        'mutation { createWorker(data: {name: "A", desk: {create: {number: 1}}}) { id } }'
    )

    data = await rel.data(
        "mutation($id: ID!) { updateWorker(id: $id, data: {desk: {disconnect: true}})"
        " { desk { number } } }",
        {"id": created["createWorker"]["id"]},
    )

    assert data["updateWorker"] == {"desk": None}
    assert await rel.data("{ desks { number owner { name } } }") == {
        "desks": [{"number": 1, "owner": None}]
    }


async def test_one_to_one_key_is_unique(rel: GraphQLClient) -> None:
    await rel.data(
        'mutation { createWorker(data: {name: "A", desk: {create: {number: 1}}}) { id } }'
    )

    body = await rel.gql(
        'mutation { createDesk(data: {number: 2, owner: {connect: {name: "A"}}}) { id } }'
    )

    assert code_of(body) == "CONFLICT"
    assert "owner" in body["errors"][0]["message"]
    assert await workers(rel) == {"A": 1}
    assert await rel.data("{ desksCount }") == {"desksCount": 1}


async def test_one_to_one_filters(rel: GraphQLClient) -> None:
    await rel.data(
        'mutation { a: createWorker(data: {name: "A", desk: {create: {number: 1}}}) { id }'
        ' b: createWorker(data: {name: "B"}) { id } }'
    )

    with_desk = await rel.data("{ workers(where: {desk: {number_gte: 1}}) { name } }")
    without = await rel.data("{ workers(where: {desk: null}) { name } }")
    owned = await rel.data('{ desks(where: {owner: {name: "A"}}) { number } }')

    assert with_desk == {"workers": [{"name": "A"}]}
    assert without == {"workers": [{"name": "B"}]}
    assert owned == {"desks": [{"number": 1}]}


async def test_deleting_one_side_of_a_one_to_one_unlinks_the_other(rel: GraphQLClient) -> None:
    created = await rel.data(
        'mutation { createWorker(data: {name: "A", desk: {create: {number: 1}}}) { id } }'
    )

    await rel.data(
        "mutation($id: ID!) { deleteWorker(id: $id) { id } }",
        {"id": created["createWorker"]["id"]},
    )

    assert await rel.data("{ desks { number owner { name } } }") == {
        "desks": [{"number": 1, "owner": None}]
    }


# -- self relation ----------------------------------------------------------------------


async def test_self_relation(rel: GraphQLClient) -> None:
    await rel.data(
        'mutation { createEmployee(data: {name: "Boss", reports: {create: ['
        '{name: "Ann", reports: {create: [{name: "Ann2"}]}}, {name: "Bob"}]}}) { id } }'
    )

    tree = await rel.data(
        '{ employee: employees(where: {name: "Boss"}) { name manager { name }'
        " reports(orderBy: name_ASC) { name manager { name } reports(first: 10) { name } } } }"
    )
    assert tree["employee"] == [
        {
            "name": "Boss",
            "manager": None,
            "reports": [
                {"name": "Ann", "manager": {"name": "Boss"}, "reports": [{"name": "Ann2"}]},
                {"name": "Bob", "manager": {"name": "Boss"}, "reports": []},
            ],
        }
    ]
    managers = await rel.data(
        "{ employees(where: {reports_some: {}}, orderBy: name_ASC) { name } }"
    )
    assert managers == {"employees": [{"name": "Ann"}, {"name": "Boss"}]}
    under_boss = await rel.data(
        '{ employees(where: {manager: {name: "Boss"}}, orderBy: name_ASC) { name } }'
    )
    assert under_boss == {"employees": [{"name": "Ann"}, {"name": "Bob"}]}


async def test_self_relation_delete_sets_null(rel: GraphQLClient) -> None:
    await rel.data(
        'mutation { createEmployee(data: {name: "Boss", reports: {create: [{name: "Ann"}]}})'
        " { id } }"
    )
    boss = (await rel.data('{ employees(where: {name: "Boss"}) { id } }'))["employees"][0]

    await rel.data("mutation($id: ID!) { deleteEmployee(id: $id) { id } }", {"id": boss["id"]})

    assert await rel.data("{ employees { name manager { name } } }") == {
        "employees": [{"name": "Ann", "manager": None}]
    }


async def test_self_relation_connect_to_itself(rel: GraphQLClient) -> None:
    created = await rel.data('mutation { createEmployee(data: {name: "Solo"}) { id } }')

    data = await rel.data(
        "mutation($id: ID!) { updateEmployee(id: $id, data: {manager: {connect: {id: $id}}})"
        " { manager { name } reports { name } } }",
        {"id": created["createEmployee"]["id"]},
    )

    assert data["updateEmployee"] == {"manager": {"name": "Solo"}, "reports": [{"name": "Solo"}]}


# -- a relation declared on one side only -------------------------------------------------


async def test_a_list_declared_only_on_the_parent(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    schema = """
    type Album { name: String! @unique tracks: [Track!]! }
    type Track { title: String! @unique }
    """
    client: GraphQLClient = await client_for(make_project(schema))
    await client.data('mutation { createTrack(data: {title: "loose"}) { id } }')

    created = await client.data(
        'mutation { createAlbum(data: {name: "A", tracks: {create: [{title: "one"}],'
        ' connect: [{title: "loose"}]}}) { id tracks(orderBy: title_ASC) { title } } }'
    )
    assert created["createAlbum"]["tracks"] == [{"title": "loose"}, {"title": "one"}]
    found = await client.data('{ albums(where: {tracks_some: {title: "one"}}) { name } }')
    assert found == {"albums": [{"name": "A"}]}

    await client.data(
        "mutation($id: ID!) { deleteAlbum(id: $id) { name } }", {"id": created["createAlbum"]["id"]}
    )
    assert await client.data("{ tracks { title } }") == {
        "tracks": [{"title": "loose"}, {"title": "one"}]
    }


async def test_a_to_one_declared_only_on_the_child(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    schema = """
    type Track { title: String! album: Album }
    type Album { name: String! @unique }
    """
    client: GraphQLClient = await client_for(make_project(schema))

    await client.data(
        'mutation { createTrack(data: {title: "one", album: {create: {name: "A"}}}) { id } }'
    )
    data = await client.data('{ tracks(where: {album: {name: "A"}}) { title album { name } } }')

    assert data == {"tracks": [{"title": "one", "album": {"name": "A"}}]}
