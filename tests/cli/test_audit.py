"""``bastion audit tail``: the audit log of a project, read from the command line."""

from __future__ import annotations

import asyncio
from typing import Any

from click.testing import CliRunner

from tests.auth.conftest import Auth


async def test_the_cli_tails_the_log(auth: Auth) -> None:
    from bastion.cli import main

    await auth.register("ann@example.com")
    await auth.login("ann@example.com", "wrong")
    project = str(auth.service.project.root)

    def run(*args: str) -> Any:
        return CliRunner().invoke(main, ["audit", "tail", *args, "--project", project])

    every = await asyncio.to_thread(run)
    assert every.exit_code == 0, every.output
    lines = every.output.strip().splitlines()
    assert [line.split()[1] for line in lines] == ["login", "login_failed"]
    assert "provider=local-userpass" in lines[0] and "ip=127.0.0.1" in lines[0]
    only = await asyncio.to_thread(run, "--type", "login", "--user", "ann@example.com")
    assert len(only.output.strip().splitlines()) == 1
    unknown = await asyncio.to_thread(run, "--user", "nobody@example.com")
    assert unknown.exit_code == 1 and "No user with email nobody@example.com" in unknown.output
    bad = await asyncio.to_thread(run, "--type", "nonsense")
    assert bad.exit_code == 2
