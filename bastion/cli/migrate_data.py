"""``bastion migrate-data``: copy a project's whole database into another one.

The usual move is from the SQLite file of a project that outgrew one machine to PostgreSQL:
every table — the model's data and the authentication tables (users' passwords, sessions,
refresh tokens, keys, audit) — is copied in one transaction on the target, then counted on
both sides. Users stay logged in: their refresh tokens go along.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import NoReturn

import click
from pydantic import ValidationError
from sqlalchemy.engine import URL

from bastion.errors import BastionError
from bastion.project import load_project
from bastion.project.config import DatabaseConfig
from bastion.project.loading import Project, async_database_url
from bastion.store.auth.tables import new_metadata
from bastion.store.copy import TableCount, copy_rows, ensure_empty
from bastion.store.database import Database
from bastion.store.startup import shown_url, start_failure
from bastion.store.sync import sync_schema
from bastion.store.tables import build_tables


@click.command("migrate-data")
@click.argument(
    "directory", required=False, default=".", type=click.Path(file_okay=False, path_type=Path)
)
@click.option(
    "--to",
    "to_url",
    required=True,
    metavar="URL",
    help="The target database, e.g. postgresql://user:password@host/db (created tables).",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Delete the rows the target holds first (else it must be empty).",
)
def migrate_data(directory: Path, to_url: str, replace: bool) -> None:
    """Copy every table of the project in DIRECTORY into the database at --to.

    Point database.url at the target afterwards. Stop the server first: writes made during
    the copy would not be in it.
    """
    try:
        DatabaseConfig(url=to_url)
    except ValidationError as invalid:
        message = invalid.errors()[0]["msg"].removeprefix("Value error, ")
        raise click.BadParameter(message, param_hint="--to") from None
    target = async_database_url(to_url, directory.resolve())
    try:
        project = load_project(directory)
        if target == project.database_url:
            raise click.BadParameter("the target is the project's own database", param_hint="--to")
        counts = asyncio.run(_migrate(project, target, replace))
    except BastionError as error:
        _fail(error)
    except Exception as error:
        known = start_failure(target, error)
        if known is None:
            raise
        _fail(known)
    total = sum(c.target for c in counts)
    click.echo(f"Copied {total} rows in {len(counts)} tables into {shown_url(target)}.")
    click.echo("Set database.url in bastion.yml to it and start the server.")


async def _migrate(project: Project, target_url: URL, replace: bool) -> list[TableCount]:
    tables = build_tables(project.model, new_metadata())
    metadata, model_tables = tables.metadata, list(tables.by_type)
    source = Database(project.database_url, pool=project.database_pool)
    target = Database(target_url, pool=project.database_pool)
    try:
        if not replace:
            await ensure_empty(target, metadata)
        await sync_schema(target, metadata, model_tables)
        counts = await copy_rows(source, target, metadata)
    finally:
        await source.close()
        await target.close()
    width = max(len(c.table) for c in counts)
    for count in counts:
        click.echo(f"  {count.table:<{width}}  {count.target:>8} rows (source: {count.source})")
    return counts


def _fail(error: BastionError) -> NoReturn:
    for line in str(error).splitlines():
        click.echo(f"error: {line}", err=True)
    sys.exit(1)
