"""What a database failure means to a client: busy, unreachable, full — or a bug.

The drivers raise their own exceptions, wrapped by SQLAlchemy. The few that are not bugs but
states of the database (another process holds SQLite's write lock, PostgreSQL is restarting or
unreachable, the disk is full) are turned here, in one place, into errors with stable codes,
so every edge (GraphQL, the Stitch routes, the CLI) answers them the same way:
``SERVICE_UNAVAILABLE`` with a ``retryAfter`` (the same request may succeed later), or
``STORAGE_FULL`` (an operator must make room). Anything else stays a bug.
"""

from __future__ import annotations

import logging
import sqlite3

from sqlalchemy import exc

from bastion.errors import BastionError, StorageFull, Unavailable

# SQLite's primary result codes (https://www.sqlite.org/rescode.html).
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14

# PostgreSQL SQLSTATEs: classes 08 (connection), 57P (operator intervention: shutdown, crash
# recovery), 53 (insufficient resources), 40 (serialization failure, deadlock).
_PG_FULL = "53100"
_PG_RETRYABLE_PREFIXES = ("08", "57P", "53", "40")

log = logging.getLogger("bastion.store")

BUSY = "The database is busy; retry shortly"
CHANGED = "The database's schema changed during the request (a deploy); retry"
UNREACHABLE = "The database cannot be reached; retry shortly"
FULL = "The database's disk is full; nothing was written"

# How long a client should wait before retrying, by cause: a busy database frees up fast, an
# unreachable one (a restart, a fail-over) takes seconds.
RETRY_BUSY_SECONDS = 1
RETRY_UNREACHABLE_SECONDS = 5


def stale_plan(error: BaseException | None) -> bool:
    """Whether ``error`` is PostgreSQL refusing a statement a connection prepared before a
    deploy changed its table (asyncpg's ``InvalidCachedStatementError``). The transaction it
    happened in is spoiled, but nothing of it was done, and the driver has dropped its cached
    statements by then: the same work succeeds if run again, in a new transaction."""
    original = error.orig if isinstance(error, exc.DBAPIError) else error
    return type(original).__name__ == "InvalidCachedStatementError"


def meaning(error: BaseException) -> BastionError | None:
    """The coded error ``error`` stands for, or None when it is a bug."""
    if isinstance(error, BastionError):
        return error
    if stale_plan(error):
        return Unavailable(CHANGED, RETRY_BUSY_SECONDS)
    if isinstance(error, exc.TimeoutError):
        # No pooled connection came free in time: the server is overloaded.
        return Unavailable(BUSY, RETRY_BUSY_SECONDS)
    original = error.orig if isinstance(error, exc.DBAPIError) else error
    if isinstance(original, sqlite3.Error):
        return _sqlite(original)
    state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if isinstance(state, str):
        return _postgresql(state)
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return Unavailable(UNREACHABLE, RETRY_UNREACHABLE_SECONDS)
    if isinstance(original, OSError):
        # A refused, dropped or timed-out connection to a database server.
        return Unavailable(UNREACHABLE, RETRY_UNREACHABLE_SECONDS)
    return None


def known_state(error: BaseException) -> BastionError | None:
    """:func:`meaning` for an edge about to answer ``error``: a state of the database is
    logged (a warning, no traceback: it is not a bug) and returned as its coded error."""
    known = meaning(error)
    if known is not None and known is not error:
        log.warning("database: %s (%s)", known.message, type(error).__name__)
    return known


def _sqlite(error: sqlite3.Error) -> BastionError | None:
    code = getattr(error, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
        # Another process holds the write lock past the busy timeout.
        return Unavailable(BUSY, RETRY_BUSY_SECONDS)
    if primary == _SQLITE_FULL:
        return StorageFull(FULL)
    if primary == _SQLITE_CANTOPEN:
        return Unavailable(UNREACHABLE, RETRY_UNREACHABLE_SECONDS)
    return None


def _postgresql(state: str) -> BastionError | None:
    if state == _PG_FULL:
        return StorageFull(FULL)
    if state.startswith(_PG_RETRYABLE_PREFIXES):
        busy = state.startswith(("40", "53"))
        return Unavailable(
            BUSY if busy else UNREACHABLE,
            RETRY_BUSY_SECONDS if busy else RETRY_UNREACHABLE_SECONDS,
        )
    return None
