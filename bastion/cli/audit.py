"""``bastion audit tail``: read the audit log of a project."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path

import click

from bastion.auth.audit import AuditEvent, AuditType
from bastion.cli.common import project_option, run_with_service
from bastion.errors import NotFound
from bastion.project.service import Service

FOLLOW_INTERVAL = 1.0  # seconds between two reads of --follow


def _line(event: AuditEvent) -> str:
    at = event.at.isoformat(timespec="seconds") if event.at else "-"
    parts = [at, event.type.value + (" [security]" if event.security else "")]
    for name, value in (
        ("user", event.user_id),
        ("provider", event.provider),
        ("ip", event.ip),
        ("session", event.session_id),
    ):
        if value:
            parts.append(f"{name}={value}")
    if event.detail:
        parts.append(json.dumps(event.detail, sort_keys=True))
    if event.user_agent:
        parts.append(f"agent={json.dumps(event.user_agent)}")
    return "  ".join(parts)


async def _user_id(service: Service, email: str) -> str:
    async with service.store.db.read() as conn:
        found = await service.auth.accounts.by_email(conn, email)
    if found is None:
        raise NotFound(f"No user with email {email}")
    return str(found["id"])


@click.group()
def audit() -> None:
    """Read the audit log (logins, refreshes, revocations, throttling...)."""


@audit.command("tail")
@click.option("-n", "count", default=20, show_default=True, type=click.IntRange(1, 1000),
              help="How many of the newest events.")  # fmt: skip
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events (Ctrl-C stops).")
@click.option(
    "--type",
    "types",
    multiple=True,
    type=click.Choice([t.value for t in AuditType]),
    help="Only events of this type (repeat for several).",
)
@click.option("--user", "email", help="Only events of the user with this email.")
@project_option
def tail(
    count: int, follow: bool, types: tuple[str, ...], email: str | None, project_dir: Path
) -> None:
    """Print the newest events, oldest first; with --follow, then each new one."""

    async def action(service: Service) -> None:
        user_id = await _user_id(service, email) if email else None
        events = await service.auth.audit.tail(count, types=types, user_id=user_id)
        for event in reversed(events):
            click.echo(_line(event))
        last = events[0].id if events else 0
        while follow:
            sys.stdout.flush()
            await asyncio.sleep(FOLLOW_INTERVAL)
            for event in await service.auth.audit.tail(
                1000, types=types, user_id=user_id, after=last
            ):
                click.echo(_line(event))
                last = event.id or last

    with contextlib.suppress(KeyboardInterrupt):
        run_with_service(project_dir, action)
