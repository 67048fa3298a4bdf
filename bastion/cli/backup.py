"""``bastion backup PATH`` and ``bastion restore PATH`` (see :mod:`bastion.project.backups`)."""

from __future__ import annotations

from pathlib import Path

import click

from bastion import __version__
from bastion.cli.common import project_option
from bastion.cli.failures import note_database
from bastion.project import load_project
from bastion.project.backups import restore_backup, take_backup


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@project_option
def backup(path: Path, project_dir: Path) -> None:
    """Back the project up into the new folder PATH, also while it serves: the database, the
    server secret and the signing keys, with a manifest of checksums."""
    project = load_project(project_dir)
    note_database(project.database_url)
    files = take_backup(project, path, __version__)
    click.echo(f"backed up {len(files)} files to {path}")


@click.command()
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@project_option
def restore(path: Path, project_dir: Path) -> None:
    """Put the backup in PATH back into the project: refused while a server runs on it."""
    project = load_project(project_dir)
    note_database(project.database_url)
    files = restore_backup(project, path)
    click.echo(f"restored {len(files)} files from {path}; start the server again")
