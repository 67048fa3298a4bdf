"""``bastion token create``: a temporary token bound to a node, made from the command line."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from click.testing import CliRunner

from bastion.cli import main
from bastion.project import Project
from tests.auth.node_project import RULES, SCHEMA, VIEWER, bearer
from tests.conftest import served


async def test_cli_token_create(make_project: Callable[..., Project]) -> None:
    project = make_project(SCHEMA, permissions=RULES)

    def run(*args: str) -> Any:
        return CliRunner().invoke(main, ["token", "create", *args, "--project", str(project.root)])

    # The CLI runs on the real clock: so does this app.
    async with served(project.root) as http:
        made_movie = await http.post(
            "/graphql", json={"query": 'mutation { createMovie(data: {title: "Alien"}) { id } }'}
        )
        alien = made_movie.json()["data"]["createMovie"]["id"]
        made = await asyncio.to_thread(run, "--type", "Movie", "--id", alien, "--lifetime", "2h")
        assert made.exit_code == 0, made.output
        body = await http.post(
            "/graphql", json={"query": VIEWER}, headers=bearer(made.stdout.strip())
        )
        assert body.json()["data"]["viewer"]["node"]["id"] == alien
    # Bad input is a usage error naming the option: exit 2, no traceback.
    for args, message in (
        (("--type", "Nope", "--id", alien), "--type: No type 'Nope' in the model (types: Movie"),
        (("--type", "Movie", "--id", "0" * 24), f"--id: no Movie with id {'0' * 24}"),
        (("--type", "Movie", "--id", "x"), "--id: 'x' is not a node id"),
        (("--type", "Movie", "--id", alien, "--lifetime", "soon"), "--lifetime"),
        (("--type", "Movie", "--id", alien, "--lifetime", "500d"), "--lifetime: A node token"),
    ):
        refused = await asyncio.to_thread(run, *args)
        assert refused.exit_code == 2, refused.output
        assert message in refused.output and "Traceback" not in refused.output
        assert refused.stdout == ""
