"""``bastion root-token``: print, list and rotate the project's root tokens."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from bastion.auth.root_tokens import RootTokenInfo
from bastion.cli.common import project_option, run_with_service
from bastion.project import load_project
from bastion.project.service import Service


@click.group("root-token")
def root_token() -> None:
    """Print, list and rotate the project's root tokens."""


@root_token.command("get")
@click.argument("name")
@project_option
def get(name: str, project_dir: Path) -> None:
    """Print the root token NAME."""

    async def action(service: Service) -> str:
        return await service.auth.root_tokens.get(name)

    click.echo(run_with_service(project_dir, action))


@root_token.command("rotate")
@click.argument("name")
@project_option
def rotate(name: str, project_dir: Path) -> None:
    """Issue a new root token NAME and print it; the old one stops working at once."""

    async def action(service: Service) -> str:
        return await service.auth.root_tokens.rotate(name)

    token = run_with_service(project_dir, action)
    click.echo(f"Rotated root token {name}; the old token no longer works.", err=True)
    click.echo(token)


@root_token.command("list")
@project_option
def list_tokens(project_dir: Path) -> None:
    """List the root tokens: name, created, rotated, last used (never the tokens)."""

    async def action(service: Service) -> list[RootTokenInfo]:
        return await service.auth.root_tokens.list()

    def when(moment: datetime | None) -> str:
        return moment.isoformat(timespec="seconds") if moment else "never"

    # run_with_service answers a missing or bad project with its error; only then is it read.
    infos = run_with_service(project_dir, action)
    declared = set(load_project(project_dir).config.root_tokens)
    for info in infos:
        note = "" if info.name in declared else "  (not in bastion.yml: run bastion deploy)"
        click.echo(
            f"{info.name}  created {when(info.created_at)}  rotated {when(info.rotated_at)}"
            f"  last used {when(info.last_used_at)}{note}"
        )
