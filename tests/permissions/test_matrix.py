"""The permission matrix: four viewers x four operations x three kinds of rule, cell by cell.

Viewers: anonymous, user A (owner of the seeded nodes), user B, and D, a deactivated user whose
old token must count for nothing. Types: Note (open to everyone), Diary (owner only), Movie
(public, created by any user, changed by its owner, with a `budget` only its owner may read).
"""

from __future__ import annotations

import pytest

from bastion.model.names import names_for
from tests.permissions.conftest import World

VIEWERS = ("anonymous", "A", "B", "D")


def _code(body: dict) -> str | None:
    errors = body.get("errors")
    return errors[0]["extensions"]["code"] if errors else None


# -- read -------------------------------------------------------------------------------

READ = {  # (type, viewer) -> how many nodes the list shows
    ("Note", "anonymous"): 1, ("Note", "A"): 1, ("Note", "B"): 1, ("Note", "D"): 1,
    ("Diary", "anonymous"): 0, ("Diary", "A"): 1, ("Diary", "B"): 0, ("Diary", "D"): 0,
    ("Movie", "anonymous"): 1, ("Movie", "A"): 1, ("Movie", "B"): 1, ("Movie", "D"): 1,
}  # fmt: skip


@pytest.mark.parametrize(("type_name", "who"), sorted(READ))
async def test_read(world: World, type_name: str, who: str) -> None:
    key, names = type_name.lower(), names_for(type_name)
    query = (
        f"query($id: ID!) {{ list: {names.many} {{ id }} count: {names.count} "
        f"one: {names.single}(id: $id) {{ id }} }}"
    )
    body = await world.gql(who, query, id=world.nodes[key])
    expected = READ[(type_name, who)]
    assert "errors" not in body
    assert len(body["data"]["list"]) == expected
    assert body["data"]["count"] == expected
    # A node one may not read answers exactly like a missing one.
    assert body["data"]["one"] == ({"id": world.nodes[key]} if expected else None)


@pytest.mark.parametrize(
    ("who", "visible"), [("anonymous", False), ("A", True), ("B", False), ("D", False)]
)
async def test_field_rule(world: World, who: str, visible: bool) -> None:
    body = await world.gql(who, "{ movies { title budget } }")
    assert body["data"]["movies"] == [{"title": "Alien", "budget": 11 if visible else None}]
    if visible:
        assert "errors" not in body
    else:
        [error] = body["errors"]
        assert error["path"] == ["movies", 0, "budget"]
        assert error["extensions"]["code"] == "FORBIDDEN"


# -- create -----------------------------------------------------------------------------

CREATE = {  # (type, viewer) -> allowed
    ("Note", "anonymous"): True, ("Note", "A"): True, ("Note", "B"): True, ("Note", "D"): True,
    ("Diary", "anonymous"): False, ("Diary", "A"): True, ("Diary", "B"): True,
    ("Diary", "D"): False,
    ("Movie", "anonymous"): False, ("Movie", "A"): True, ("Movie", "B"): True,
    ("Movie", "D"): False,
}  # fmt: skip


@pytest.mark.parametrize(("type_name", "who"), sorted(CREATE))
async def test_create(world: World, type_name: str, who: str) -> None:
    owner = world.users.get(who)
    own = f', owner: {{connect: {{id: "{owner}"}}}}' if owner and who != "D" else ""
    data = {
        "Note": '{text: "new"}',
        "Diary": f'{{text: "new"{own}}}',
        "Movie": f'{{title: "New by {who}"{own}}}',
    }[type_name]
    body = await world.gql(who, f"mutation {{ create{type_name}(data: {data}) {{ id }} }}")
    count = (await world.system(f"{{ n: {names_for(type_name).count} }}"))["n"]
    if CREATE[(type_name, who)]:
        assert _code(body) is None, body
        assert count == 2
    else:
        assert _code(body) == "FORBIDDEN"
        assert body["data"] is None
        assert count == 1  # nothing was written


# -- update and delete ------------------------------------------------------------------

CHANGE = {  # (type, viewer) -> None (allowed) or the error code
    ("Note", "anonymous"): None, ("Note", "A"): None, ("Note", "B"): None, ("Note", "D"): None,
    ("Diary", "anonymous"): "NOT_FOUND", ("Diary", "A"): None, ("Diary", "B"): "NOT_FOUND",
    ("Diary", "D"): "NOT_FOUND",
    ("Movie", "anonymous"): "FORBIDDEN", ("Movie", "A"): None, ("Movie", "B"): "FORBIDDEN",
    ("Movie", "D"): "FORBIDDEN",
}  # fmt: skip
FIELD = {"Note": "text", "Diary": "text", "Movie": "title"}


@pytest.mark.parametrize(("type_name", "who"), sorted(CHANGE))
async def test_update(world: World, type_name: str, who: str) -> None:
    key, field = type_name.lower(), FIELD[type_name]
    document = (
        f"mutation($id: ID!) {{ update{type_name}(id: $id, "
        f'data: {{{field}: "changed"}}) {{ id }} }}'
    )
    body = await world.gql(who, document, id=world.nodes[key])
    stored = (
        await world.system(
            f"query($id: ID!) {{ n: {key}(id: $id) {{ {field} }} }}", id=world.nodes[key]
        )
    )["n"][field]
    assert _code(body) == CHANGE[(type_name, who)]
    assert (stored == "changed") == (CHANGE[(type_name, who)] is None)


@pytest.mark.parametrize(("type_name", "who"), sorted(CHANGE))
async def test_delete(world: World, type_name: str, who: str) -> None:
    key = type_name.lower()
    body = await world.gql(
        who, f"mutation($id: ID!) {{ delete{type_name}(id: $id) {{ id }} }}", id=world.nodes[key]
    )
    left = (await world.system(f"{{ n: {names_for(type_name).count} }}"))["n"]
    assert _code(body) == CHANGE[(type_name, who)]
    assert left == (0 if CHANGE[(type_name, who)] is None else 1)
