"""What the command groups share: the ``--project`` option, running against a started
service, and durations such as ``30d``."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import click

from bastion.cli.failures import fail, note_database
from bastion.errors import BastionError
from bastion.project import load_project
from bastion.project.service import Service

T = TypeVar("T")

project_option = click.option(
    "--project",
    "project_dir",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The project folder.",
)


def run_with_service(project_dir: Path, action: Callable[[Service], Awaitable[T]]) -> T:
    """Start the project's service, run ``action``, stop; a BastionError exits 1 with its lines."""

    async def main() -> T:
        project = load_project(project_dir)
        note_database(project.database_url)
        service = Service(project)
        try:  # a start that fails (another server secret, say) releases what it opened too
            await service.start()
            return await action(service)
        finally:
            await service.stop()

    try:
        return asyncio.run(main())
    except BastionError as error:
        fail(error)


_DURATION = re.compile(r"(\d+)([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def duration(_ctx: click.Context, param: click.Parameter, value: str) -> timedelta:
    """A duration such as ``30d``, ``12h`` or ``90m``; a usage error (exit 2) otherwise."""
    match = _DURATION.fullmatch(value.strip())
    if match is None:
        raise click.BadParameter(f"{value!r} is not a duration like 30d, 12h, 90m, 2w", param=param)
    return timedelta(seconds=int(match[1]) * _UNIT_SECONDS[match[2]])
