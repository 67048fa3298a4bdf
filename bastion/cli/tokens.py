"""``bastion token create``: a temporary token bound to a node, for scripts and tests.

A type the model lacks, an id that is no node's, or a lifetime out of range is a usage error:
the option is named and the exit status is 2, as for any bad option.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click

from bastion.cli.common import duration, project_option, run_with_service
from bastion.errors import BadUserInput
from bastion.project.service import Service


@click.group("token")
def token() -> None:
    """Make temporary tokens bound to nodes of the model."""


@token.command("create")
@click.option("--type", "type_name", required=True, help="The node's type, such as Movie.")
@click.option("--id", "node_id", required=True, help="The node's id.")
@click.option(
    "--lifetime",
    default="1h",
    show_default=True,
    callback=duration,
    help="How long the token works (30m, 1h, 7d...).",
)
@project_option
def create(type_name: str, node_id: str, lifetime: timedelta, project_dir: Path) -> None:
    """Print a token that authenticates as the node ID of type TYPE."""

    async def action(service: Service) -> str:
        try:
            issued = service.auth.node_tokens.issue(node_id, type_name, lifetime)
        except BadUserInput as error:
            option = {"type": "--type", "id": "--id"}.get(error.extensions.get("field", ""))
            raise click.BadParameter(error.message, param_hint=option or "--lifetime") from None
        async with service.store.db.read() as conn:
            found = await service.store.reader.by_ids(conn, type_name, [node_id])
        if node_id not in found:
            raise click.BadParameter(f"no {type_name} with id {node_id}", param_hint="--id")
        return issued

    click.echo(run_with_service(project_dir, action))
