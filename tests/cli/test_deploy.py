"""``bastion deploy``: the plan, ``--dry-run``, ``--force``, and the start that waits for it.

Real SQLite files; the CLI is run as a user runs it, and the database is read beside it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

from bastion.cli import main
from bastion.project import Project
from tests import databases
from tests.store.test_sync import (
    BASE,
    STORED_DATA,
    database_schema,
    refusal,
    restart_with,
    serving,
)


def deploy(project: Project, *flags: str) -> Result:
    return CliRunner().invoke(main, ["deploy", str(project.root), *flags])


async def adeploy(project: Project, *flags: str) -> Result:
    return await asyncio.to_thread(deploy, project, *flags)


def rows(project: Project, sql: str) -> list[tuple[object, ...]]:
    return databases.query(project.root, sql, write=True)


def columns(project: Project, table: str) -> list[str]:
    return databases.columns(project.root, table)


async def test_a_destructive_change_waits_for_force(started: Project) -> None:
    before = database_schema(started)
    project = restart_with(started.root, BASE.replace("  rating: Float\n", ""))

    # The server refuses to start and says what to do.
    error = await refusal(project)
    assert "Movie.rating" in error.message and "bastion deploy" in error.message

    planned = await adeploy(project, "--dry-run")
    assert planned.exit_code == 0, planned.output
    assert "! (destructive) drop field Movie.rating (1 rows hold values)" in planned.output
    assert "Dry run: nothing was changed." in planned.output
    assert database_schema(started) == before

    refused = await adeploy(project)
    assert refused.exit_code == 1
    assert "drop field Movie.rating" in refused.output
    assert "bastion deploy --force" in refused.output
    assert database_schema(started) == before

    forced = await adeploy(project, "--force")
    assert forced.exit_code == 0, forced.output
    assert "rating" not in columns(project, "Movie")
    async with serving(project) as client:
        data = await client.data("{ movies { title year director { name } } }")
    assert data["movies"] == [
        {"title": m["title"], "year": m["year"], "director": m["director"]}
        for m in STORED_DATA["movies"]
    ]


async def test_a_removed_type_and_its_relation_go_with_force(started: Project) -> None:
    schema = BASE.replace("  director: Person\n", "").split("type Person")[0]
    project = restart_with(started.root, schema)
    refused = await adeploy(project)
    assert refused.exit_code == 1
    assert "drop type Person and its 1 rows" in refused.output
    assert "drop field Movie.directorId (2 rows hold values)" in refused.output

    forced = await adeploy(project, "--force")
    assert forced.exit_code == 0, forced.output
    assert "Person" not in databases.table_names(project.root)
    if not databases.on_postgresql():  # PostgreSQL alters tables in place, checking references
        assert rows(project, "PRAGMA foreign_key_check") == []
        # Other tables' references to Movie and User survived the rebuild.
        fks = rows(project, "SELECT * FROM pragma_foreign_key_list('_bastion_session')")
        assert any(fk[2] == "User" for fk in fks)
    async with serving(project) as client:
        assert await client.data("{ moviesCount }") == {"moviesCount": 2}


@pytest.mark.parametrize(
    ("old", "new", "query", "expected"),
    [
        ("year: Int", "year: String", "{ movies { year } }", ["1979", "1985"]),
        ("year: Int", "year: Float", "{ movies { year } }", [1979.0, 1985.0]),
    ],
    ids=["Int to String", "Int to Float"],
)
async def test_a_type_change_converts_values_with_force(
    started: Project, old: str, new: str, query: str, expected: list[object]
) -> None:
    project = restart_with(started.root, BASE.replace(old, new))
    assert (await adeploy(project)).exit_code == 1
    forced = await adeploy(project, "--force")
    assert forced.exit_code == 0, forced.output
    assert "convert field Movie.year" in forced.output
    async with serving(project) as client:
        data = await client.data(query)
    assert [m["year"] for m in data["movies"]] == expected


async def test_text_that_does_not_read_as_a_number_blocks_the_change(started: Project) -> None:
    with_code = BASE.replace("year: Int", "year: Int\n  code: String")
    async with serving(restart_with(started.root, with_code)) as client:
        await client.data('mutation { createMovie(data: {title: "Heat", code: "12"}) { id } }')
        await client.data('mutation { createMovie(data: {title: "Up", code: "abc"}) { id } }')
    project = restart_with(started.root, with_code.replace("code: String", "code: Int"))
    before = database_schema(project)
    blocked = await adeploy(project, "--force")
    assert blocked.exit_code == 1
    assert "x (blocked) field Movie.code changed type (String -> Int)" in blocked.output
    assert "'abc'" in blocked.output
    assert database_schema(project) == before
    # Fix the data, and the same deploy goes through, every value converted.
    rows(project, "UPDATE \"Movie\" SET code = '7' WHERE code = 'abc'")
    project = restart_with(started.root, with_code.replace("code: String", "code: Int"))
    forced = await adeploy(project, "--force")
    assert forced.exit_code == 0, forced.output
    assert sorted(
        r[0] for r in rows(project, 'SELECT code FROM "Movie" WHERE code IS NOT NULL')
    ) == [7, 12]


async def test_required_and_optional_need_a_deploy_but_no_force(started: Project) -> None:
    # Legend has no rating: making it required is blocked until every row has one.
    project = restart_with(started.root, BASE.replace("rating: Float", "rating: Float!"))
    blocked = await adeploy(project, "--force")
    assert blocked.exit_code == 1
    assert "Movie.rating was made required, but 1 rows have no value" in blocked.output

    project = restart_with(started.root, BASE.replace("year: Int", "year: Int!"))
    error = await refusal(project)
    assert "make field Movie.year required" in error.message
    assert "bastion deploy" in error.message
    applied = await adeploy(project)  # every movie has a year: nothing is lost
    assert applied.exit_code == 0, applied.output
    async with serving(project) as client:
        body = await client.gql('mutation { createMovie(data: {title: "Heat"}) { id } }')
        assert body["errors"]  # year is required now, by the schema and the database
        assert (await client.data("{ moviesCount }")) == {"moviesCount": 2}

    project = restart_with(started.root, BASE)
    assert (await adeploy(project)).exit_code == 0  # optional again
    async with serving(project) as client:
        await client.data('mutation { createMovie(data: {title: "Heat"}) { id } }')


async def test_empty_leftovers_are_cleaned_up_without_force(started: Project) -> None:
    with_extra = BASE.replace("rating: Float", "rating: Float\n  tagline: String") + (
        "\ntype Draft {\n  text: String\n}\n"
    )
    async with serving(restart_with(started.root, with_extra)):
        pass
    project = restart_with(started.root, BASE)
    async with serving(project):
        pass  # a start leaves the empty leftovers alone
    assert "tagline" in columns(project, "Movie")
    cleaned = await adeploy(project)
    assert cleaned.exit_code == 0, cleaned.output
    assert "- drop field Movie.tagline (no values)" in cleaned.output
    assert "- drop type Draft (no rows)" in cleaned.output
    assert "tagline" not in columns(project, "Movie")


async def test_nothing_to_do(started: Project) -> None:
    result = await adeploy(started)
    assert result.exit_code == 0
    assert "Deployed: nothing to change" in result.output


def test_a_bad_project_stops_deploy(make_project: Callable[..., Project]) -> None:
    project = make_project(BASE)
    (project.root / "schema.graphql").write_text("type {", encoding="utf-8")
    result = deploy(project)
    assert result.exit_code == 1
    assert "error:" in result.output and "Traceback" not in result.output


def test_a_new_database_is_planned_as_types_and_bastions_own_tables(
    make_project: Callable[..., Project],
) -> None:
    project = make_project(BASE)
    result = deploy(project, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "+ add type Movie\n" in result.output
    assert "+ add Bastion's table _bastion_session\n" in result.output
    assert "add type _bastion" not in result.output
