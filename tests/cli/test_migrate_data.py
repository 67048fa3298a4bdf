"""``bastion migrate-data``: an SQLite project moves to PostgreSQL with its users and sessions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from bastion.cli import main
from bastion.project import load_project
from tests import databases
from tests.auth.conftest import PASSWORD, SIGNUP, Auth
from tests.conftest import MOVIES_SCHEMA, write_project

SOURCE = {"url": "sqlite:///.bastion/source.db"}
MOVIES = "{ movies(orderBy: [title_ASC]) { title year director { name } } }"

pytestmark = pytest.mark.postgresql_only(
    reason="moves an SQLite project to PostgreSQL: it runs once, in the PostgreSQL run"
)


async def migrate(root: Path, *args: str) -> Result:
    # The command runs its own event loop: a thread stands in for the shell's process.
    return await asyncio.to_thread(
        CliRunner().invoke, main, ["migrate-data", str(root), *args], catch_exceptions=False
    )


def point_at(root: Path, url: str) -> None:
    config = yaml.safe_load((root / "bastion.yml").read_text(encoding="utf-8"))
    config["database"] = {"url": url}
    (root / "bastion.yml").write_text(yaml.safe_dump(config), encoding="utf-8")


async def test_users_stay_logged_in_after_the_move(
    tmp_path: Path, client_for: Callable[..., Any]
) -> None:
    root = write_project(tmp_path / "app", MOVIES_SCHEMA, database=SOURCE, auth=SIGNUP)
    before = Auth(await client_for(load_project(root)))
    pair = await before.register("ann@example.com")
    await before.login_pair("ann@example.com")  # a second session, and audit rows
    await before.client.data(
        'mutation { createMovie(data: {title: "Alien", year: 1979, '
        'director: {create: {name: "Ridley Scott"}}}) { id } }'
    )
    movies = await before.client.data(MOVIES)
    target = databases.pool().take()

    moved = await migrate(root, "--to", target)

    assert moved.exit_code == 0, moved.output
    lines = moved.output.splitlines()
    assert "  User " in moved.output and "  _bastion_session " in moved.output
    session_line = next(line for line in lines if line.strip().startswith("_bastion_session "))
    assert session_line.split()[1:3] == ["2", "rows"] and session_line.endswith("(source: 2)")
    assert lines[-2].startswith("Copied ") and lines[-2].endswith(f"into {target}.")

    point_at(root, target)
    after = Auth(await client_for(load_project(root)))
    assert await after.client.data(MOVIES) == movies
    # The refresh token issued on SQLite refreshes on PostgreSQL; the password still logs in,
    # and new audit rows get keys past the copied ones.
    refreshed = await after.refresh(pair["refreshToken"])
    assert "errors" not in refreshed, refreshed
    access = refreshed["data"]["refreshToken"]["accessToken"]
    assert (await after.viewer(access) or {})["email"] == "ann@example.com"
    assert "errors" not in await after.login("ann@example.com", PASSWORD)
    assert (await after.login("ann@example.com", "wrong password"))["errors"]


async def test_a_target_holding_data_is_refused_unless_replaced(
    tmp_path: Path, client_for: Callable[..., Any]
) -> None:
    root = write_project(tmp_path / "app", MOVIES_SCHEMA, database=SOURCE, auth=SIGNUP)
    client = await client_for(load_project(root))
    await client.data('mutation { createMovie(data: {title: "Alien"}) { id } }')
    target = databases.pool().take()
    assert (await migrate(root, "--to", target)).exit_code == 0
    await client.data('mutation { createMovie(data: {title: "Heat"}) { id } }')

    refused = await migrate(root, "--to", target)
    assert refused.exit_code == 1
    assert "error: the target database already holds data: " in refused.output
    assert "Movie (1 rows)" in refused.output and "(--replace deletes it first)" in refused.output
    assert databases.query(root, 'SELECT count(*) FROM "Movie"') == [(2,)]

    replaced = await migrate(root, "--to", target, "--replace")
    assert replaced.exit_code == 0, replaced.output
    point_at(root, target)
    assert databases.query(root, 'SELECT title FROM "Movie" ORDER BY title') == [
        ("Alien",),
        ("Heat",),
    ]


async def test_a_bad_target_url_is_refused_before_anything_runs(tmp_path: Path) -> None:
    root = write_project(tmp_path / "app", database=SOURCE)
    refused = await migrate(root, "--to", "mysql://db/app")
    assert refused.exit_code == 2
    assert "expected a sqlite:/// or postgresql:// URL" in refused.output
