"""Attempts to get round the rules; each must fail and write nothing."""

from __future__ import annotations

from tests.permissions.conftest import World


def _forbidden_paths(body: dict) -> list[list]:
    return [e["path"] for e in body.get("errors", []) if e["extensions"]["code"] == "FORBIDDEN"]


async def test_aliases_of_a_forbidden_field(world: World) -> None:
    body = await world.gql("B", "{ movies { a: budget b: budget title } }")
    assert body["data"]["movies"] == [{"a": None, "b": None, "title": "Alien"}]
    assert sorted(_forbidden_paths(body)) == [["movies", 0, "a"], ["movies", 0, "b"]]


async def test_fragments_and_inline_fragments(world: World) -> None:
    body = await world.gql(
        "B",
        "fragment F on Movie { budget } { movies { ...F ... on Movie { again: budget } } }",
    )
    assert body["data"]["movies"] == [{"budget": None, "again": None}]
    assert len(_forbidden_paths(body)) == 2


async def test_forbidden_field_through_a_relation(world: World) -> None:
    body = await world.gql("B", "{ people { name movies { title budget owner { email } } } }")
    movie = body["data"]["people"][0]["movies"][0]
    # The owner is a User that B may not read: null, like a missing node.
    assert movie == {"title": "Alien", "budget": None, "owner": None}
    assert _forbidden_paths(body) == [["people", 0, "movies", 0, "budget"]]


async def test_own_values_through_the_viewer(world: World) -> None:
    body = await world.gql("A", "{ viewer { user { email movies { budget } } } }")
    assert body == {
        "data": {"viewer": {"user": {"email": "a@example.com", "movies": [{"budget": 11}]}}}
    }


async def test_filter_and_order_by_a_hidden_field(world: World) -> None:
    # B cannot tell a budget of 11 from any other: rows whose budget B may not read never match.
    for where in ("{budget: 11}", "{budget_gt: 10}", "{budget_lt: 12}", "{budget_in: [11]}"):
        body = await world.gql("B", f"{{ movies(where: {where}) {{ title }} }}")
        assert body["data"]["movies"] == [], where
    # A negation matches every hidden row whatever its value, so it reveals nothing either.
    for where in ("{NOT: [{budget: 11}]}", "{NOT: [{budget: 5}]}"):
        body = await world.gql("B", f"{{ movies(where: {where}) {{ title }} }}")
        assert body["data"]["movies"] == [{"title": "Alien"}], where
    owner = await world.gql("A", "{ movies(where: {budget: 11}) { title } }")
    assert owner["data"]["movies"] == [{"title": "Alien"}]
    body = await world.gql("B", "{ movies(orderBy: [budget_DESC]) { title } }")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_count_with_a_filter_on_a_hidden_field(world: World) -> None:
    body = await world.gql("B", "{ a: moviesCount(where: {budget: 11}) b: moviesCount }")
    assert body["data"] == {"a": 0, "b": 1}


async def test_filter_through_a_type_that_cannot_be_read(world: World) -> None:
    body = await world.gql("B", '{ movies(where: {owner: {email: "a@example.com"}}) { title } }')
    assert body["data"]["movies"] == []
    body = await world.gql(
        "anonymous", '{ usersCount(where: {diaries_some: {text: "dear diary"}}) }'
    )
    assert body["data"]["usersCount"] == 0


async def test_changing_the_owner_to_someone_else(world: World) -> None:
    # B's account is hidden from A, so it is answered as a missing one.
    body = await world.gql(
        "A",
        "mutation($id: ID!, $b: ID!) { updateMovie(id: $id, data: {owner: {connect: {id: $b}}}) "
        "{ id } }",
        id=world.nodes["movie"],
        b=world.users["B"],
    )
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    check = await world.system(
        "query($id: ID!) { movie(id: $id) { owner { id } } }", id=world.nodes["movie"]
    )
    assert check["movie"]["owner"]["id"] == world.users["A"]


async def test_connecting_a_node_one_may_not_read(world: World) -> None:
    body = await world.gql(
        "B",
        'mutation($a: ID!) { createDiary(data: {text: "mine?", owner: {connect: {id: $a}}}) '
        "{ id } }",
        a=world.users["A"],
    )
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert (await world.system("{ n: diariesCount }"))["n"] == 1


async def test_batch_whose_last_mutation_is_forbidden(world: World) -> None:
    body = await world.gql(
        "B",
        'mutation($id: ID!) { one: createNote(data: {text: "1"}) { id } '
        'two: createNote(data: {text: "2"}) { id } '
        'three: updateMovie(id: $id, data: {title: "Mine now"}) { id } }',
        id=world.nodes["movie"],
    )
    assert body["data"] is None
    assert body["errors"][0]["path"] == ["three"]
    assert (await world.system("{ n: notesCount }"))["n"] == 1


async def test_deactivated_users_old_token_is_anonymous(world: World) -> None:
    body = await world.gql("D", "{ viewer { user { id } } }")
    assert body["data"]["viewer"]["user"] is None
    assert body["extensions"]["authentication"]["code"] == "SESSION_REVOKED"


async def test_a_hidden_link_filters_as_no_link(world: World) -> None:
    await world.system('mutation { createMovie(data: {title: "Orphan"}) { id } }')
    # B sees both movies without an owner: A's because A is hidden from B.
    shown = await world.gql("B", "{ movies(orderBy: title_ASC) { title owner { id } } }")
    assert shown["data"]["movies"] == [
        {"title": "Alien", "owner": None},
        {"title": "Orphan", "owner": None},
    ]
    # So no filter tells the hidden owner from none.
    body = await world.gql(
        "B",
        "{ none: movies(where: {owner: null}, orderBy: title_ASC) { title } "
        "some: movies(where: {NOT: [{owner: null}]}) { title } "
        "n: moviesCount(where: {owner: null}) }",
    )
    assert body["data"] == {"none": [{"title": "Alien"}, {"title": "Orphan"}], "some": [], "n": 2}
    own = await world.gql("A", "{ movies(where: {owner: null}) { title } }")
    assert own["data"]["movies"] == [{"title": "Orphan"}]
