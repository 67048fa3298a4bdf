"""User emails in their normal form in the database: every write, every filter, and the rows
of an existing project brought to it by ``bastion deploy``.

Real SQLite files: a project from before the rule is made by writing rows beside the app,
as an older Bastion left them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bastion.cli import main
from bastion.errors import SchemaChangeRefused
from bastion.project import Project
from tests import databases
from tests.auth.conftest import Auth, bearer
from tests.auth.test_audit import root_token
from tests.store.test_sync import refusal, serving

SCHEMA = """
type Movie {
  title: String! @unique
  owner: User
}

extend type User {
  movies: [Movie!]!
}
"""
OWNER = """mutation ($e: String!) {
  createMovie(data: {title: $e, owner: {create: {email: $e}}}) { owner { email } }
}"""


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


def sql(project: Project, statement: str, *args: object) -> list[tuple[Any, ...]]:
    return databases.query(project.root, statement, args, write=True)


def deploy(project: Project, *flags: str) -> Result:
    return CliRunner().invoke(main, ["deploy", str(project.root), *flags])


# -- writes and filters ---------------------------------------------------------------------


async def test_every_write_stores_the_normal_form_and_it_is_unique(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    project = make_project(SCHEMA)
    client = await client_for(project)
    created = await client.data(
        'mutation { createUser(data: {email: " Ann@Example.COM "}) { id email } }'
    )
    ann = created["createUser"]["id"]
    assert created["createUser"]["email"] == "ann@example.com"
    # A nested create of a User is a write of an email like any other.
    nested = await client.data(OWNER, {"e": "BOB@Example.com"})
    assert nested["createMovie"]["owner"] == {"email": "bob@example.com"}

    for spelling in (
        "ANN@EXAMPLE.COM",
        "ann@example.com",
        "Ann@\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com",
    ):
        body = await client.gql(
            "mutation ($e: String!) { createUser(data: {email: $e}) { id } }", {"e": spelling}
        )
        assert codes(body) == ["CONFLICT"], (spelling, body)
        assert codes(await client.gql(OWNER, {"e": spelling})) == ["CONFLICT"]  # nested too
    body = await client.gql(
        'mutation ($id: ID!) { updateUser(id: $id, data: {email: "BOB@example.com"}) { id } }',
        {"id": ann},
        headers=bearer(await root_token(Auth(client))),  # root may change an address
    )
    assert codes(body) == ["CONFLICT"]
    assert sql(project, 'SELECT email FROM "User" ORDER BY id') == [
        ("ann@example.com",),
        ("bob@example.com",),
    ]


async def test_filters_and_connects_find_an_address_by_any_spelling(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    client = await client_for(make_project(SCHEMA))
    await client.data('mutation { createUser(data: {email: "ann@example.com"}) { id } }')
    found = await client.data(
        '{ a: usersCount(where: {email: "ANN@Example.com"})'
        ' b: usersCount(where: {email_in: [" Ann@EXAMPLE.com"]})'
        ' c: usersCount(where: {email_contains: "EXAMPLE"})'
        ' d: usersCount(where: {email_not: "ANN@EXAMPLE.COM"}) }'
    )
    assert found == {"a": 1, "b": 1, "c": 1, "d": 0}
    linked = await client.data(
        'mutation { createMovie(data: {title: "Alien",'
        ' owner: {connect: {email: "ANN@EXAMPLE.COM"}}}) { owner { email } } }'
    )
    assert linked["createMovie"]["owner"] == {"email": "ann@example.com"}


# -- a project from before the rule ---------------------------------------------------------


async def legacy(make_project: Callable[..., Project], *emails: str) -> Project:
    """A project whose users were stored with ``emails`` as they were typed, before the rule."""
    project = make_project(SCHEMA)
    async with serving(project) as client:
        for index in range(len(emails)):
            await client.data(
                "mutation ($e: String!) { createUser(data: {email: $e}) { id } }",
                {"e": f"user{index}@example.com"},
            )
    for index, email in enumerate(emails):
        sql(
            project,
            'UPDATE "User" SET email = ? WHERE email = ?',
            email,
            f"user{index}@example.com",
        )
    # An older Bastion recorded no version of the normal form.
    sql(project, "DELETE FROM _bastion_meta WHERE key = 'email_form'")
    return project


async def test_deploy_normalises_the_emails_stored_before(
    make_project: Callable[..., Project],
) -> None:
    project = await legacy(make_project, "Ann@Example.COM", " bob@example.com", "cy@example.com")

    # The server does not serve rows it would no longer find: it asks for a deploy.
    refused = await refusal(project)
    assert "normalise 2 User emails" in refused.message and "bastion deploy" in refused.message
    planned = await asyncio.to_thread(deploy, project, "--dry-run")
    assert planned.exit_code == 0, planned.output
    assert "~ normalise 2 User emails (trimmed, lower-cased, NFC): " in planned.output
    assert "'Ann@Example.COM' -> 'ann@example.com'" in planned.output

    result = await asyncio.to_thread(deploy, project)
    assert result.exit_code == 0, result.output
    assert sql(project, 'SELECT email FROM "User" ORDER BY id') == [
        ("ann@example.com",),
        ("bob@example.com",),
        ("cy@example.com",),
    ]
    async with serving(project) as client:
        found = await client.data('{ usersCount(where: {email: "ANN@example.com"}) }')
    assert found == {"usersCount": 1}
    assert "nothing to change" in (await asyncio.to_thread(deploy, project)).output


async def test_deploy_refuses_emails_that_become_one_address_and_names_them(
    make_project: Callable[..., Project],
) -> None:
    project = await legacy(
        make_project, "bob@example.com", "ann@example.com", "BOB@EXAMPLE.COM", "Ann@Example.com"
    )
    before = sql(project, 'SELECT id, email FROM "User" ORDER BY id')
    ids = {email: row_id for row_id, email in before}

    result = await asyncio.to_thread(deploy, project)

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if "one address" in line]
    assert len(lines) == 2
    assert "(ann@example.com)" in lines[0] and "(bob@example.com)" in lines[1]
    for email in ("ann@example.com", "Ann@Example.com"):
        assert f"{ids[email]} {email!r}" in lines[0]
    for email in ("bob@example.com", "BOB@EXAMPLE.COM"):
        assert f"{ids[email]} {email!r}" in lines[1]
    assert "nothing was changed" in result.output
    assert sql(project, 'SELECT id, email FROM "User" ORDER BY id') == before
    with pytest.raises(SchemaChangeRefused):
        raise await refusal(project)  # and the server does not start on them either
