"""``bastion keys``: rotate, list, prune and re-seal the keys that sign access tokens.

Nothing here prints key material: a key shows as its kid (public, as in the JWKS), its
algorithm, its dates and its status. Rotation and pruning are written to the audit log.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import click

from bastion.auth.audit import AuditEvent, AuditType
from bastion.auth.key_material import SigningKey
from bastion.auth.keys import KeyStatus, PrunedKeys
from bastion.auth.secret import check_secret
from bastion.cli.common import run_with_service
from bastion.cli.failures import fail, note_database
from bastion.errors import BastionError
from bastion.project import load_project
from bastion.project.config import PROJECT_FILE
from bastion.project.service import Service
from bastion.store import open_store
from bastion.tools.clock import system_clock

directory_argument = click.argument(
    "directory", required=False, type=click.Path(file_okay=False, path_type=Path)
)


def _project_dir(directory: Path | None) -> Path:
    """DIRECTORY (default: the current folder), which must hold a project: a usage error
    (exit 2) otherwise, before anything is made there."""
    folder = directory or Path(".")
    if not (folder / PROJECT_FILE).is_file():
        raise click.BadParameter(
            f"{folder} is not a project folder (no {PROJECT_FILE}; `bastion init` makes one)",
            param_hint="DIRECTORY",
        )
    return folder


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else "-"


def _name(kid: str | None) -> str:
    return kid if kid is not None else "(legacy)"


@click.group("keys")
def keys() -> None:
    """Rotate, list, prune and re-seal the keys that sign access tokens."""


@keys.command("rotate")
@directory_argument
def rotate(directory: Path | None) -> None:
    """Publish a new signing key for the project in DIRECTORY (auth.signing.algorithm).

    The key is published at once and signs some minutes later, once every worker has read
    it; the previous key keeps verifying the tokens it signed until `bastion keys prune`.
    """
    folder = _project_dir(directory)

    async def action(service: Service) -> SigningKey:
        # The new key and the event telling every node commit together.
        key = await service.auth.keys.rotate(service.project.config.auth.signing.algorithm)
        detail = {"kid": key.kid, "algorithm": key.algorithm, "by": "cli"}
        await service.auth.audit.record(AuditEvent(AuditType.KEY_ROTATED, detail=detail))
        return key

    key = run_with_service(folder, action)
    click.echo(
        f"Published key {key.kid} ({key.algorithm}); it signs from {_when(key.activates_at)}, "
        "when every worker has read it."
    )
    click.echo("The previous key keeps verifying its tokens; `bastion keys prune` removes it.")


@keys.command("list")
@directory_argument
def list_keys(directory: Path | None) -> None:
    """List the signing keys: kid, algorithm, created, retired, status (never the keys)."""
    folder = _project_dir(directory)

    async def action(service: Service) -> list[KeyStatus]:
        return service.auth.keys.statuses()

    statuses = run_with_service(folder, action)
    click.echo(f"{'KID':<16}  {'ALG':<5}  {'CREATED':<25}  {'RETIRED':<25}  STATUS")
    for status in statuses:
        click.echo(
            f"{_name(status.kid):<16}  {status.algorithm:<5}  {_when(status.created_at):<25}  "
            f"{_when(status.retired_at):<25}  {_describe(status)}"
        )


def _describe(status: KeyStatus) -> str:
    if status.status == "pending":
        return f"pending (signs from {_when(status.activates_at)})"
    if status.status == "signing" and status.retired_at is not None:
        return f"signing (until {_when(status.retired_at)}, then verifying)"
    if status.status == "verifying" and status.prunable_at is not None:
        return f"verifying (prunable from {_when(status.prunable_at)}: {status.reason})"
    return status.status


@keys.command("prune")
@directory_argument
@click.option(
    "--force",
    is_flag=True,
    help="Also remove retired keys whose tokens may still be valid (they stop working).",
)
def prune(directory: Path | None, force: bool) -> None:
    """Remove the keys of the project in DIRECTORY whose tokens have all expired.

    A retired key is kept until its retirement and the latest expiry of any token it signed
    (node tokens live up to a year), plus 30 s of leeway, have passed. The signing key and a
    pending one are always kept.
    """
    folder = _project_dir(directory)

    async def action(service: Service) -> PrunedKeys:
        # A key pruned with --force (a leaked one) is refused at once: the removal carries
        # the event that makes every node read the keys again.
        pruned = await service.auth.keys.prune(force=force)
        for status in pruned.removed:
            detail = {"kid": _name(status.kid), "algorithm": status.algorithm, "by": "cli"}
            if force and status.status != "prunable":
                detail["forced"] = "tokens it signed may still have been valid"
            await service.auth.audit.record(AuditEvent(AuditType.KEY_PRUNED, detail=detail))
        return pruned

    pruned = run_with_service(folder, action)
    for status in pruned.removed:
        early = " before its tokens expired (--force)" if status.status != "prunable" else ""
        click.echo(f"removed {_name(status.kid)} ({status.algorithm}){early}")
    for status in pruned.kept:
        if status.prunable_at is None:
            click.echo(f"kept {_name(status.kid)} ({status.algorithm}): {_describe(status)}")
        else:
            click.echo(
                f"kept {_name(status.kid)} ({status.algorithm}) until "
                f"{_when(status.prunable_at)}: {status.reason}"
            )
    count = len(pruned.removed)
    click.echo(f"Removed {count} key{'s' if count != 1 else ''}.")


@keys.command("reencrypt")
@directory_argument
@click.option(
    "--old-secret-env",
    "old_env",
    required=True,
    metavar="VAR",
    help="The environment variable holding the previous server secret.",
)
def reencrypt(directory: Path | None, old_env: str) -> None:
    """Seal the stored keys of the project in DIRECTORY with the current server secret.

    After a change of BASTION_SECRET (or of .bastion/secret) the keys in the database no
    longer open and the server refuses to start; this opens them with the previous secret,
    read from the variable VAR, and seals them with the current one. Keys and tokens stay the
    same.
    """
    folder = _project_dir(directory)
    old = os.environ.get(old_env)
    if not old:
        raise click.BadParameter(f"{old_env} is not set", param_hint="--old-secret-env")

    async def action() -> list[str]:
        from bastion.auth.key_reseal import reseal_signing_keys

        project = load_project(folder)
        note_database(project.database_url)
        store = open_store(project.model, project.database_url, system_clock)
        try:
            return await reseal_signing_keys(project, store, old.encode(), system_clock)
        finally:
            await store.close()

    try:
        check_secret(old.encode(), old_env)
        resealed = asyncio.run(action())
    except BastionError as error:
        fail(error)
    count = len(resealed)
    click.echo(f"Sealed {count} key{'s' if count != 1 else ''} with the current server secret.")
