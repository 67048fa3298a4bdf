"""``bastion deploy``: apply a project to its database: the model, then the root tokens.

The model's changes come from Alembic's comparison (:mod:`bastion.store.schema_plan`). Exit status:
0 when everything was applied (or, with ``--dry-run``, planned), 1 when a change was refused
(destructive without ``--force``, or blocked by the data) or the project is invalid; nothing
is changed then.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.auth.cluster import EventLog
from bastion.auth.events import ProjectDeployed
from bastion.auth.root_tokens import Deployed
from bastion.errors import BastionError
from bastion.project import Project, load_project
from bastion.project.deployed import META_KEY, source_of
from bastion.project.service import Service
from bastion.store.auth.meta import MetaRows
from bastion.store.auth.tables import EVENT_TABLE, META_TABLE, new_metadata
from bastion.store.database import Database
from bastion.store.sync import SyncReport, deploy_schema, describe
from bastion.store.tables import build_tables
from bastion.tools.clock import system_clock


async def _deploy(project: Project, force: bool, dry_run: bool) -> tuple[SyncReport, Deployed]:
    tables = build_tables(project.model, new_metadata())
    by_name = tables.metadata.tables
    # Rebuilt SQLite tables are checked for dangling references before the commit instead.
    db = Database(project.database_url, enforce_foreign_keys=False, pool=project.database_pool)
    source = source_of(project)
    events = EventLog.over(db, by_name[EVENT_TABLE], system_clock)

    async def record(conn: AsyncConnection) -> None:
        # With the tables' changes, or not at all: the serving nodes read this record and
        # serve it (see bastion.project.redeploy); the event wakes them at once.
        await MetaRows(by_name[META_TABLE]).put(conn, META_KEY, source.to_text())
        await events.record(conn, ProjectDeployed(source.version))

    try:
        report = await deploy_schema(
            db, tables.metadata, list(tables.by_type), force=force, dry_run=dry_run, also=record
        )
    finally:
        await db.close()
    names = project.config.root_tokens
    service = Service(project)
    try:
        if dry_run:
            return report, await service.auth.root_tokens.plan(names)
        await service.start()  # seeds a new database, makes the functions' token
        return report, await service.auth.root_tokens.deploy(names)
    finally:
        await service.stop()


@click.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
@click.option("--force", is_flag=True, help="Also apply the changes that drop or convert data.")
def deploy(directory: Path | None, dry_run: bool, force: bool) -> None:
    """Apply the project in DIRECTORY to its database: the model, then the root tokens.

    Every change is listed; those marked "destructive" drop or convert data and need --force.
    """
    try:
        project = load_project(directory or Path("."))
        report, tokens = asyncio.run(_deploy(project, force, dry_run))
    except BastionError as error:
        for line in str(error).splitlines():
            click.echo(f"error: {line}", err=True)
        sys.exit(1)
    for change in report.changes:
        click.echo(describe(change))
    for name in tokens.created:
        hint = "" if dry_run else f" (bastion root-token get {name})"
        click.echo(f"+ {'would create' if dry_run else 'created'} root token {name}{hint}")
    for name in tokens.revoked:
        verb = "would revoke" if dry_run else "revoked"
        click.echo(f"- {verb} root token {name}: it is no longer in bastion.yml")
    if dry_run:
        click.echo("Dry run: nothing was changed.")
    elif not report.changes and not tokens.created and not tokens.revoked:
        click.echo("Deployed: nothing to change")
    else:
        click.echo("Deployed.")
