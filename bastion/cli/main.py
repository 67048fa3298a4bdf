"""The ``bastion`` command."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import secrets
import string
import sys
from collections.abc import Callable
from pathlib import Path

import click

from bastion import __version__
from bastion.cli.failures import (
    DEBUG_META,
    BastionGroup,
    ExitCode,
    fail,
    note_database,
)
from bastion.errors import BastionError
from bastion.project import Project, examples, load_project
from bastion.project.causes import EnvironmentRefused
from bastion.tools.log_format import LogFormat
from bastion.tools.log_queue import BatchListener

INIT_SCHEMA = """\
# The data model: object types, enums and relations. Every project also has a built-in
# User type (id, email, username, firstName, lastName, isActive, createdAt, updatedAt).

type Movie {
  title: String! @unique
  year: Int
  createdAt: DateTime!
  updatedAt: DateTime!
}
"""

INIT_CONFIG = """\
name: {name}
app_id: {app_id}
# development: introspection for everyone; production: for root tokens only, no suggestions.
mode: development
schema: schema.graphql
database:
  url: sqlite:///.bastion/data.db
server:
  host: 127.0.0.1
  port: 8000
auth:
  providers:
    local-userpass:
      enabled: true
      signup: false
    anon-user:
      enabled: false
# Permanent tokens with full access for your server code: `bastion deploy`, then
# `bastion root-token get NAME`.
root_tokens: []
# Who may do what. A type without rules is open to root tokens only.
permissions:
  Movie:
    read: everyone
    create: authenticated
    update: authenticated
    delete: authenticated
"""


def _load(path: str | Path) -> Project:
    try:
        project = load_project(path)
    except BastionError as error:
        fail(error)
    note_database(project.database_url)
    return project


def _debugging() -> bool:
    context = click.get_current_context(silent=True)
    return bool(context and context.find_root().meta.get(DEBUG_META))


def _logging(
    log_format: LogFormat = "text", level: str = "info", audit: bool = False
) -> BatchListener | None:
    from bastion.cli.workers import server_logging

    return server_logging(log_format, level, audit, debugging=_debugging())


@click.group(
    name="bastion", cls=BastionGroup, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="bastion")
@click.option("--debug", is_flag=True, help="Show the traceback of an unexpected failure.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Bastion: a project folder becomes a GraphQL API with authentication built in.

    Exit codes: 0 done, 1 the project is invalid, 2 wrong usage, 3 the machine refused
    (permissions, read-only or full storage, an unreachable database or Redis, a busy port),
    70 an unexpected error (run with --debug and report it).
    """
    ctx.meta[DEBUG_META] = debug


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def init(directory: Path) -> None:
    """Make a new project in DIRECTORY (bastion.yml and schema.graphql)."""
    if (directory / "bastion.yml").exists():
        click.echo(
            f"error: {directory / 'bastion.yml'} exists already; nothing was written", err=True
        )
        sys.exit(1)
    name = directory.resolve().name
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:50] or "app"
    suffix = "".join(secrets.choice(string.ascii_lowercase) for _ in range(5))
    directory.mkdir(parents=True, exist_ok=True)
    # Quoted (a JSON string is a YAML string): a folder named 2024, yes or "a: b" must still
    # read back as a string name.
    config = INIT_CONFIG.format(name=json.dumps(name), app_id=json.dumps(f"{slug}-{suffix}"))
    (directory / "bastion.yml").write_text(config, encoding="utf-8")
    if not (directory / "schema.graphql").exists():
        (directory / "schema.graphql").write_text(INIT_SCHEMA, encoding="utf-8")
    if not (directory / ".gitignore").exists():
        (directory / ".gitignore").write_text(".bastion/\n", encoding="utf-8")
    click.echo(f"Created project {name} in {directory}. Serve it with: bastion serve {directory}")


async def _preflight(project: Project) -> None:
    from bastion.project.service import Service

    service = Service(project)
    try:
        await service.start()
        # What /readyz checks, checked before serving: an unreachable Redis is a failure at start.
        for check in await service.readiness.checks():
            if not check.ok:
                raise EnvironmentRefused(f"{check.name}: {check.detail}")
    finally:
        await service.stop()


@main.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--host", help="Address to listen on (default: server.host, 127.0.0.1).")
@click.option(
    "--port", type=click.IntRange(1, 65535), help="Port to listen on (default: server.port, 8000)."
)
@click.option(
    "--example", metavar="NAME", help="Serve a shipped example project (copied to ./NAME first)."
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log lines for people (text) or one JSON object per line (json).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    help="The least severe records written (info: one line per request).",
)
@click.option("--log-audit", is_flag=True, help="Write audit events to the log stream too.")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Processes answering on the port (default: server.workers, 1).",
)
def serve(
    directory: Path | None,
    host: str | None,
    port: int | None,
    example: str | None,
    log_format: LogFormat,
    log_level: str,
    log_audit: bool,
    workers: int | None,
) -> None:
    """Serve the project in DIRECTORY (default: the current folder)."""
    listener = _logging(log_format, log_level, log_audit)

    def say(text: str) -> None:
        # With JSON logs, every line the server writes is a JSON object: this one too.
        if log_format == "json":
            logging.getLogger("bastion").info(text)
        else:
            click.echo(text, err=True)

    try:
        logs = {"log_format": log_format, "level": log_level, "audit": log_audit}
        _serve(directory, host, port, example, say, workers, logs, listener)
    finally:
        if listener is not None:
            listener.stop()  # writes what is still queued (a start that failed)


def _serve(
    directory: Path | None,
    host: str | None,
    port: int | None,
    example: str | None,
    say: Callable[[str], None],
    workers: int | None,
    logs: dict[str, object],
    listener: BatchListener | None,
) -> None:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from bastion.cli.listen import bind
    from bastion.cli.metrics_dir import prepare_metrics_dir
    from bastion.cli.workers import (
        FACTORY,
        LOGGING_ENV,
        PROJECT_ENV,
        SQLITE_WARNING,
        logs_written_at_shutdown,
    )
    from bastion.http.server import uvicorn_options

    if example is not None:
        if directory is not None:
            raise click.UsageError("give either DIRECTORY or --example, not both")
        if examples.source(example) is None:
            raise click.BadParameter(
                f"no example named {example!r} (available: {', '.join(examples.available())})",
                param_hint="--example",
            )
        directory = Path(example)
        try:
            copied = examples.materialize(example, directory)
        except BastionError as error:
            fail(error)
        if copied:
            say(f"Copied the example project '{example}' to ./{directory}")
    project = _load(directory or Path("."))
    try:
        asyncio.run(_preflight(project))
    except BastionError as error:
        fail(error)
    prepare_metrics_dir()
    from bastion.http.app import create_app  # only now: it imports prometheus-client

    host = host or project.config.server.host
    port = port or project.config.server.port
    workers = workers or project.config.server.workers
    if workers > 1 and project.database_url.get_backend_name() == "sqlite":
        say(SQLITE_WARNING.format(workers=workers))
    sock = bind(host, port)  # before saying "Serving": a busy port is a failure at start
    say(
        f"Serving {project.config.name}: GraphQL at http://{host}:{port}/graphql"
        + (f" ({workers} workers)" if workers > 1 else "")
    )
    config = uvicorn.Config(
        # Each worker process builds its own app from the folder (bastion.cli.workers).
        # A SIGTERM ends the process once the app has shut down: the log's last lines first.
        FACTORY
        if workers > 1
        else logs_written_at_shutdown(create_app(project, settle_heap=True), listener),
        factory=workers > 1,
        workers=workers,
        # Request heads are capped while they are read (http.max_header_bytes): 431 past it.
        **uvicorn_options(project.config.http.max_header_bytes),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        server_header=False,
        # Client addresses come from bastion.http.client_ip and http.trusted_proxies only.
        proxy_headers=False,
        date_header=True,
    )
    server = uvicorn.Server(config)
    if workers > 1:
        os.environ[PROJECT_ENV] = str(project.root)
        os.environ[LOGGING_ENV] = json.dumps(logs)
        # The supervisor forks the workers on the socket bound above, and replaces any that dies.
        Multiprocess(config, sockets=[sock]).run()
        return
    server.run(sockets=[sock])
    if not server.started:  # the app's start-up failed (logged as one line)
        sys.exit(ExitCode.ENVIRONMENT)


@main.group()
def schema() -> None:
    """Inspect the generated GraphQL schema."""


@schema.command("print")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
def schema_print(directory: Path | None) -> None:
    """Print the GraphQL SDL generated for the project in DIRECTORY."""
    from graphql import print_schema

    from bastion.graphql.build import build_schema

    project = _load(directory or Path("."))
    click.echo(print_schema(build_schema(project.model)))


def _register_subcommands() -> None:
    from bastion.cli.api_keys import api_keys
    from bastion.cli.audit import audit
    from bastion.cli.backup import backup, restore
    from bastion.cli.deploy import deploy
    from bastion.cli.email import email
    from bastion.cli.keys import keys
    from bastion.cli.migrate_data import migrate_data
    from bastion.cli.prune import prune
    from bastion.cli.root_tokens import root_token
    from bastion.cli.tokens import token
    from bastion.cli.users import users

    main.add_command(users)
    main.add_command(api_keys)
    main.add_command(audit)
    main.add_command(deploy)
    main.add_command(email)
    main.add_command(keys)
    main.add_command(migrate_data)
    main.add_command(prune)
    main.add_command(backup)
    main.add_command(restore)
    main.add_command(root_token)
    main.add_command(token)


_register_subcommands()
