"""``bastion prune``: delete what is past its retention now (the server also does it hourly)."""

from __future__ import annotations

from pathlib import Path

import click

from bastion.auth.retention import Pruned
from bastion.cli.common import project_option, run_with_service
from bastion.project.service import Service


@click.command()
@project_option
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
def prune(project_dir: Path, dry_run: bool) -> None:
    """Delete ended sessions, expired refresh tokens, old audit events and forgotten throttle
    rows, after the project's retention: settings."""

    async def action(service: Service) -> Pruned:
        return await service.retention.prune(dry_run=dry_run)

    pruned = run_with_service(project_dir, action)
    verb = "would delete" if dry_run else "deleted"
    click.echo(
        f"{verb}: {pruned.sessions} sessions, {pruned.refresh_tokens} refresh tokens, "
        f"{pruned.audit_events} audit events, {pruned.throttle_rows} throttle rows"
    )
