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

import json
import logging
import os

from starlette.types import ASGIApp, Receive, Scope, Send

from bastion.tools.log_format import (
    TEXT_FORMAT,
    LogFormat,
    RequestIdFilter,
    formatter_for,
    last_line_of_tracebacks,
)
from bastion.tools.log_queue import BatchListener, start_background_logging

PROJECT_ENV = "BASTION_SERVE_PROJECT"
# The log settings of `bastion serve` (format, level, audit), as JSON, for each worker.
LOGGING_ENV = "BASTION_SERVE_LOGGING"
FACTORY = f"{__name__}:worker_app"

SQLITE_WARNING = (
    "warning: {workers} workers on SQLite: reads run side by side, but every write takes the "
    "database file's single write lock in turn, across the processes; under heavy writes a "
    "request may wait and then be answered SERVICE_UNAVAILABLE. PostgreSQL takes writes from "
    "every worker at once (see docs/postgresql.md)."
)


def server_logging(
    log_format: LogFormat = "text",
    level: str = "info",
    audit: bool = False,
    *,
    debugging: bool = False,
) -> BatchListener | None:
    """The server's log lines, formatted and written on a thread, not on the event loop (a
    line per request adds up); None when the process had set logging up already."""
    listener = start_background_logging(
        getattr(logging, level.upper()),
        TEXT_FORMAT,
        formatter=formatter_for(log_format),
        filters=[RequestIdFilter()],
    )
    # Python's warnings (a library's deprecation notice) go through the same stream, so a JSON
    # log holds nothing but JSON lines.
    logging.captureWarnings(True)
    if not debugging:
        # uvicorn logs a failed start-up as Starlette's traceback text: its last line names it.
        logging.getLogger("uvicorn.error").addFilter(last_line_of_tracebacks)
    # Audit events go to the log stream too only when asked (they are in the database anyway).
    logging.getLogger("bastion.audit").setLevel(logging.INFO if audit else logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("coredis").setLevel(logging.WARNING)  # its retries, at INFO, are noise
    return listener


def worker_app() -> ASGIApp:
    """The app of one worker process: the project named by ``BASTION_SERVE_PROJECT``."""
    from bastion.http.app import create_app
    from bastion.project import load_project

    # A fresh process: its own log thread, set as `bastion serve` was (records go to the shared
    # stderr).
    listener = server_logging(**json.loads(os.environ.get(LOGGING_ENV) or "{}"))
    app = create_app(load_project(os.environ[PROJECT_ENV]), settle_heap=True)
    return logs_written_at_shutdown(app, listener)


def logs_written_at_shutdown(app: ASGIApp, listener: BatchListener | None) -> ASGIApp:
    """``app``, as served: once it has shut down, ``listener`` (the process's log thread,
    if :func:`server_logging` started one) writes what it holds and hands the writing back.

    Stopped by SIGTERM or Ctrl-C, uvicorn shuts the app down, then raises the signal again so
    that the process ends as the signal would end it: nothing the process meant to do after
    the server returns runs (nor, in a worker of ``--workers``, any exit handler of
    ``multiprocessing``), and the lines still queued would be lost. uvicorn's own last lines
    come after the app's shutdown; they are written as they are logged.
    """
    return app if listener is None else LogsWrittenAtShutdown(app, listener)


class LogsWrittenAtShutdown:
    """A served app whose log listener hands the writing back when the app has shut down
    (:func:`logs_written_at_shutdown`)."""

    def __init__(self, app: ASGIApp, listener: BatchListener) -> None:
        self.app = app
        self._listener = listener

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app's answer; its lifespan followed to the end."""
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self._listener.hand_back()
