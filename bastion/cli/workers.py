"""``bastion serve --workers N``: N processes answering on one port.

uvicorn's supervisor binds the port once and starts N worker processes that share the
listening socket; the kernel hands each new connection to one of them, and a worker that dies
is replaced. A process cannot be handed a running app, so each worker builds its own from the
project folder, named to it in the environment: :func:`worker_app` is the factory uvicorn
calls in each.

Everything that must hold across workers (sessions, revocations, throttle counts, keys) lives
in the database already; each worker has its own connection pool (``database.pool``).
"""

from __future__ import annotations

import logging
import os
from logging.handlers import QueueListener

from starlette.types import ASGIApp

from bastion.tools.log_queue import start_background_logging

PROJECT_ENV = "BASTION_SERVE_PROJECT"
FACTORY = f"{__name__}:worker_app"

SQLITE_WARNING = (
    "warning: {workers} workers on SQLite: reads run side by side, but every write takes the "
    "database file's single write lock in turn, across the processes; under heavy writes a "
    "request may wait and then be answered SERVICE_UNAVAILABLE. PostgreSQL takes writes from "
    "every worker at once (see docs/postgresql.md)."
)


def server_logging() -> QueueListener | None:
    """The server's log lines, formatted and written on a thread, not on the event loop (a
    line per request adds up); None when the process had set logging up already."""
    listener = start_background_logging(
        logging.INFO, "%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return listener


def worker_app() -> ASGIApp:
    """The app of one worker process: the project named by ``BASTION_SERVE_PROJECT``."""
    from bastion.http.app import create_app
    from bastion.project import load_project

    server_logging()  # a fresh process: its own log thread (the records go to the shared stderr)
    return create_app(load_project(os.environ[PROJECT_ENV]))
