"""Rules in bastion.yml: checked at load with messages naming the rule; compiled, not re-read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from bastion.errors import ProjectError
from bastion.project import Project, load_project
from tests.conftest import write_project
from tests.permissions.conftest import SCHEMA, World

BAD_RULES = [
    ({"Film": {"read": "everyone"}}, "permissions.Film: unknown type 'Film'"),
    ({"Movie": {"read": "everybody"}}, "permissions.Movie.read: unknown rule 'everybody'"),
    ({"Movie": {"update": {"ownr": {"id": "$viewer.id"}}}},
     "permissions.Movie.update.ownr: Movie has no field or filter 'ownr'"),
    ({"Movie": {"update": {"owner": {"id": "$viewer.uid"}}}},
     "permissions.Movie.update.owner.id: unknown variable '$viewer.uid'"),
    ({"Movie": {"read": {"budget_gt": "lots"}}},
     "permissions.Movie.read.budget_gt: 'lots' does not fit budget (Int)"),
    ({"Movie": {"read": {"title_in": "Alien"}}},
     "permissions.Movie.read.title_in: expected a list"),
    ({"Movie": {"read": {"OR": {}}}}, "permissions.Movie.read.OR: expected a list of filters"),
    ({"Movie": {"fields": {"cost": {"read": "root"}}}},
     "permissions.Movie.fields.cost: Movie has no field 'cost'"),
    ({"Movie": {"delete": {}}}, "permissions.Movie.delete: a filter rule must be a non-empty"),
    ({"Movie": {"read": {"budget": "$viewer.id"}}},
     "permissions.Movie.read.budget: $viewer.id is an id and cannot fit budget"),
]  # fmt: skip


@pytest.mark.parametrize(("rules", "message"), BAD_RULES)
def test_bad_rules_stop_the_start(tmp_path: Path, rules: dict[str, Any], message: str) -> None:
    root = write_project(tmp_path / "p", SCHEMA, permissions=rules)
    with pytest.raises(ProjectError) as raised:
        load_project(root)
    assert any(message in line for line in raised.value.problems), raised.value.problems
    assert all(str(root / "bastion.yml") in line for line in raised.value.problems)


def test_unknown_rule_keys_are_refused(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", SCHEMA, permissions={"Movie": {"reed": "everyone"}})
    with pytest.raises(ProjectError, match=r"unknown key 'permissions.Movie.reed'"):
        load_project(root)


async def test_type_without_rules_is_root_only(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    client = await client_for(make_project(SCHEMA, permissions={}))
    body = await client.gql('mutation { createNote(data: {text: "x"}) { id } }')
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await client.data("{ notes { id } }")) == {"notes": []}


async def test_require_login(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    project = make_project(
        SCHEMA, auth={"require_login": True, "providers": {"local-userpass": {"signup": True}}}
    )
    client = await client_for(project)
    body = await client.gql("{ notes { id } viewer { user { id } } }")
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    login = await client.data(
        'mutation { registerUserEmailPassword(input: {email: "a@b.co", password: "k7#qpw2m"})'
        " { accessToken } }"
    )
    token = login["registerUserEmailPassword"]["accessToken"]
    body = await client.gql("{ notes { id } }", headers={"Authorization": f"Bearer {token}"})
    assert body == {"data": {"notes": []}}


async def test_a_rule_adds_no_statement(world: World) -> None:
    engine = world.client.app.state.service.store.db.engine
    await world.gql("B", "{ movies { title budget owner { id } } }")  # warm the session cache
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        await world.gql("B", "{ movies { title budget owner { id } } }")
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    # One SELECT for the movies (rule and budget flag inside it), one for their owners.
    assert len(statements) == 2, statements
