"""``bastion users``: manage the accounts of a project from the command line."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import click

from bastion.auth.accounts import NewUser
from bastion.auth.audit import switched
from bastion.auth.providers.anonymous import PrunedAnonymous, prune_anonymous
from bastion.cli.common import duration, project_option, run_with_service
from bastion.project.service import Service
from bastion.store.auth.tables import IDENTITY_TABLE, PASSWORD_TABLE, SESSION_TABLE


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.UsageError("no password on standard input")
        return password
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@click.group()
def users() -> None:
    """Create, list, deactivate and activate users."""


@users.command("create")
@click.option("--email", required=True, help="The user's email (their login).")
@click.option("--username", help="An optional unique username.")
@click.option("--first-name", help="First name.")
@click.option("--last-name", help="Last name.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input.",
)
@project_option
def create(
    email: str,
    username: str | None,
    first_name: str | None,
    last_name: str | None,
    password_stdin: bool,
    project_dir: Path,
) -> None:
    """Create a user with a password (asked for without echo)."""
    password = _read_password(password_stdin)

    async def action(service: Service) -> tuple[str, str]:
        digest = await service.auth.accounts.hash_new_password(password, email)
        async with service.store.db.write() as conn:
            user_id = await service.auth.accounts.create(
                conn, NewUser(email, password, username, first_name, last_name), digest
            )
        return user_id, service.store.emails.check(email)

    user_id, stored = run_with_service(project_dir, action)
    click.echo(f"Created user {stored} ({user_id})")


@users.command("list")
@project_option
def list_users(project_dir: Path) -> None:
    """List the users: id, email, username, active.

    An address with characters beyond ASCII is marked, its text escaped beside it, so a
    look-alike (a Cyrillic letter among Latin ones) stands out.
    """

    async def action(service: Service) -> list[dict[str, object]]:
        async with service.store.db.read() as conn:
            return await service.auth.accounts.list(conn)

    for user in run_with_service(project_dir, action):
        state = "active" if user["isActive"] else "deactivated"
        email = str(user["email"] or "-")
        if not email.isascii():
            email += f" [non-ASCII: {email.encode('ascii', 'backslashreplace').decode()}]"
        click.echo(f"{user['id']}  {email}  {user['username'] or '-'}  {state}")


def _set_active(email: str, project_dir: Path, active: bool) -> None:
    async def action(service: Service) -> None:
        async with service.store.db.write() as conn:
            user_id = await service.auth.accounts.set_active(conn, email, active)
            await service.auth.audit.record(switched(user_id, active, "cli"), conn)
        if not active:
            await service.auth.sessions.end_all(user_id)

    run_with_service(project_dir, action)
    click.echo(f"{'Activated' if active else 'Deactivated'} {email}")


@users.command("deactivate")
@click.argument("email")
@project_option
def deactivate(email: str, project_dir: Path) -> None:
    """Deactivate a user: their sessions end and they cannot log in."""
    _set_active(email, project_dir, False)


@users.command("activate")
@click.argument("email")
@project_option
def activate(email: str, project_dir: Path) -> None:
    """Let a deactivated user log in again."""
    _set_active(email, project_dir, True)


@users.command("prune-anonymous")
@click.option(
    "--older-than",
    "older_than",
    required=True,
    callback=duration,
    help="Remove anonymous users made longer ago than this (30d, 12h...) and unused since.",
)
@project_option
def prune_anonymous_users(older_than: timedelta, project_dir: Path) -> None:
    """Delete old anonymous users and their data (as their relations' onDelete says)."""

    async def action(service: Service) -> PrunedAnonymous:
        tables = service.store.tables.metadata.tables
        return await prune_anonymous(
            service.store,
            tables[IDENTITY_TABLE],
            tables[PASSWORD_TABLE],
            tables[SESSION_TABLE],
            service.clock() - older_than,
        )

    pruned = run_with_service(project_dir, action)
    for line in pruned.kept:
        click.echo(f"kept {line}", err=True)
    click.echo(f"Deleted {pruned.deleted} anonymous user{'s' if pruned.deleted != 1 else ''}")
