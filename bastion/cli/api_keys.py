"""``bastion api-keys``: the server API keys of a project.

A server key logs in through the api-key provider as a user of its own, made for it (no
email, no password); the Stitch profile shows that user as ``type: server``. The key is
printed once: only its SHA-256 is stored.
"""

from __future__ import annotations

from pathlib import Path

import click

from bastion.auth.providers.api_keys import NewApiKey, ServerKey
from bastion.cli.common import project_option, run_with_service
from bastion.errors import BastionError, Code
from bastion.project.service import Service


def _require_provider(service: Service) -> None:
    if not service.auth.logins.providers.api_key.enabled:
        raise BastionError(
            "the api-key provider is off: set auth.providers.api-key.enabled: true in bastion.yml",
            Code.BAD_REQUEST,
        )


@click.group("api-keys")
def api_keys() -> None:
    """Create, list and delete server API keys."""


@api_keys.command("create")
@click.argument("name")
@project_option
def create(name: str, project_dir: Path) -> None:
    """Create a server key NAME and print it (the only time it is shown)."""

    async def action(service: Service) -> NewApiKey:
        _require_provider(service)
        return await service.auth.api_keys.create_server(name)

    new = run_with_service(project_dir, action)
    click.echo(
        f"Created server API key {new.key.name!r} ({new.key.id}). It is shown only now:", err=True
    )
    click.echo(new.secret)


@api_keys.command("list")
@project_option
def list_keys(project_dir: Path) -> None:
    """List the server keys: name, id, created, last used, state (never the keys)."""

    async def action(service: Service) -> list[ServerKey]:
        return await service.auth.api_keys.servers()

    for server in run_with_service(project_dir, action):
        key = server.key
        used = key.last_used_at.isoformat(timespec="seconds") if key.last_used_at else "never"
        state = "disabled" if key.disabled else "enabled"
        created = key.created_at.isoformat(timespec="seconds")
        click.echo(f"{key.name}  {key.id}  created {created}  last used {used}  {state}")


@api_keys.command("delete")
@click.argument("name")
@project_option
def delete(name: str, project_dir: Path) -> None:
    """Delete the server key NAME, its user and its sessions."""

    async def action(service: Service) -> None:
        await service.auth.api_keys.delete_server(name)

    run_with_service(project_dir, action)
    click.echo(f"Deleted server API key {name!r}")
