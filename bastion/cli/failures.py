"""What a failed command prints: one line naming the cause and what to do, and an exit code.

A command fails for one of three kinds of reason, each with its own exit code
(docs/operations.md lists them):

- the project is invalid (``bastion.yml``, the schema, a refused change): exit 1, one line per
  problem, as :class:`~bastion.errors.BastionError` says it;
- the machine refuses (a file it may not write, a read-only filesystem, a full disk, a database
  or Redis it cannot reach, a busy port): exit 3, one line naming the cause and the remedy;
- anything else is a bug in Bastion: exit 70, one line, and the traceback with ``--debug``.

The causes are found by walking the exception's chain (``__cause__``, ``__context__`` and
SQLAlchemy's ``orig``), so a ``sqlite3.OperationalError`` wrapped by SQLAlchemy, or an
``OSError`` raised deep inside a driver, is named as what it is.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, NoReturn

import click
from sqlalchemy.engine import URL

from bastion.errors import BastionError, StorageFull, Unavailable
from bastion.project.causes import cause_of


class ExitCode(IntEnum):
    """The exit codes of the ``bastion`` command."""

    OK = 0
    PROJECT = 1
    """The project is invalid: fix the files the lines name."""
    USAGE = 2
    """The command line is wrong (click's own code)."""
    ENVIRONMENT = 3
    """The machine refused: permissions, read-only or full storage, unreachable services, a
    busy port, a missing database that existed before."""
    BUG = 70
    """An unexpected error (EX_SOFTWARE): run again with ``--debug`` and report it."""


@dataclass(frozen=True)
class Failure:
    """What to print (each line is prefixed with ``error:``) and the code to exit with."""

    lines: list[str]
    exit_code: ExitCode


def explain(error: BaseException, database: str = "the database file") -> Failure:
    """The failure to report for ``error``; ``database`` names the database in the lines."""
    if isinstance(error, Unavailable | StorageFull):
        # A state of the database, not of the project: the driver's cause says more.
        return Failure([cause_of(error, database) or error.message], ExitCode.ENVIRONMENT)
    if isinstance(error, BastionError):
        return Failure(str(error).splitlines() or [error.message], ExitCode.PROJECT)
    line = cause_of(error, database)
    if line is not None:
        return Failure([line], ExitCode.ENVIRONMENT)
    # The exception's type and text, on one line, never its traceback: that is for --debug.
    text = " ".join(str(error).split())[:300]
    return Failure(
        [
            f"unexpected {type(error).__name__}: {text} (run `bastion --debug ...` for the "
            "traceback and report it)"
        ],
        ExitCode.BUG,
    )


_DATABASE_META = "bastion.database"


def note_database(url: URL) -> None:
    """Remember which database the running command uses, so that its failures can name it."""
    context = click.get_current_context(silent=True)
    if context is None:
        return
    if url.get_backend_name() == "sqlite":
        name = url.database or "the database file"
    else:
        name = url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)
    context.find_root().meta[_DATABASE_META] = name


def noted_database() -> str:
    """The database the running command noted (:func:`note_database`), as failures name it."""
    context = click.get_current_context(silent=True)
    if context is None:
        return "the database file"
    name: str = context.find_root().meta.get(_DATABASE_META, "the database file")
    return name


def fail(error: BastionError) -> NoReturn:
    """Print a coded error's lines on stderr, naming the noted database, and exit with its code."""
    failure = explain(error, noted_database())
    for line in failure.lines:
        click.echo(f"error: {line}", err=True)
    sys.exit(getattr(error, "exit_code", failure.exit_code))


def report(context: click.Context, error: Exception) -> NoReturn:
    """Print the failure's lines on stderr and exit with its code."""
    failure = explain(error, context.find_root().meta.get(_DATABASE_META, "the database file"))
    for line in failure.lines:
        click.echo(f"error: {line}", err=True)
    context.exit(failure.exit_code)


class BastionGroup(click.Group):
    """The ``bastion`` command group: a failing command prints its lines, not a traceback
    (unless ``--debug`` was given)."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; report any unexpected exception as :func:`explain` names it."""
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as error:
            if ctx.meta.get(DEBUG_META):
                raise
            report(ctx, error)


DEBUG_META = "bastion.debug"
