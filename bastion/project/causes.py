"""What went wrong with the machine, in one line naming the cause and what to do.

:func:`cause_of` walks an exception's chain (``__cause__``, ``__context__`` and SQLAlchemy's
``orig``) and names the first link whose cause it knows: a file one may not write, a read-only
filesystem, a full disk, a database or Redis that cannot be reached, a busy port. The CLI prints
the line when a command fails (:mod:`bastion.cli.failures`); ``/readyz`` shows it for a check
that fails.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path


class EnvironmentRefused(Exception):
    """A check before serving found the machine not ready: its message is the line to print."""


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException] = [error]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for nxt in (getattr(current, "orig", None), current.__cause__, current.__context__):
            if isinstance(nxt, BaseException):
                todo.append(nxt)


_SQLITE = {
    "SQLITE_READONLY": "the database is read-only; make {db} and its folder writable by this "
    "user, or move the project to a writable filesystem",
    "SQLITE_CANTOPEN": "cannot open the database {db}; check that its folder exists and is "
    "writable by this user",
    "SQLITE_PERM": "no permission to write the database {db}; make it writable by this user",
    "SQLITE_FULL": "the disk holding the database {db} is full; free some space and start again",
    "SQLITE_BUSY": "the database {db} is locked by another program; stop it or wait, then start "
    "again",
    "SQLITE_NOTADB": "{db} is not an SQLite database; restore it from a backup (bastion restore)",
    "SQLITE_CORRUPT": "the database {db} is damaged; restore it from a backup (bastion restore)",
    "SQLITE_IOERR": "the disk holding the database {db} reported an I/O error; check the disk",
}


def _storage_cause(database: str) -> str | None:
    """What the filesystem says about the database's folder: SQLite's own codes blur it (a
    read-only filesystem and a folder one may not write both read "cannot open")."""
    path = Path(database)
    folder = path.parent
    if not path.is_absolute() or not folder.is_dir():
        return None
    stats = os.statvfs(folder)
    if stats.f_flag & os.ST_RDONLY:
        return (
            f"the filesystem holding {database} is read-only; remount it read-write or move "
            "the project to a writable filesystem"
        )
    if stats.f_bavail == 0:
        return f"the disk holding {database} is full; free some space and start again"
    for target in (folder, path):
        if target.exists() and not os.access(target, os.W_OK):
            return (
                f"{target}: permission denied; make it writable by this user (uid "
                f"{os.geteuid()}) or run Bastion as its owner"
            )
    return None


def _sqlite(error: sqlite3.Error, database: str) -> str | None:
    name = getattr(error, "sqlite_errorname", "") or ""
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_FULL")):
        cause = _storage_cause(database)
        if cause is not None:
            return cause
    for prefix, text in _SQLITE.items():
        if name.startswith(prefix):
            return text.format(db=database)
    return None


def _os(error: OSError, database: str) -> str | None:
    where = f"{error.filename}: " if error.filename else ""
    match error.errno:
        case errno.EACCES | errno.EPERM:
            return f"{where}permission denied; make it writable by this user or run as its owner"
        case errno.EROFS:
            return f"{where}the filesystem is read-only; put the project on a writable filesystem"
        case errno.ENOSPC | errno.EDQUOT:
            return f"{where}no space left on the device; free some space and start again"
        case errno.EADDRINUSE:
            return f"{where}the address is in use; stop what listens there or choose --port"
        case errno.ECONNREFUSED | errno.EHOSTUNREACH | errno.ENETUNREACH | errno.ETIMEDOUT:
            return (
                f"cannot reach the database at {database}: {error.strerror or error}; start it "
                "or correct database.url in bastion.yml"
            )
    if isinstance(error, TimeoutError | ConnectionError):
        return (
            f"cannot reach the database at {database}: {error}; start it or correct "
            "database.url in bastion.yml"
        )
    return None


def _named(error: BaseException, database: str) -> str | None:
    """The line for one exception of the chain, if it is one whose cause is known."""
    module = type(error).__module__
    if isinstance(error, EnvironmentRefused):
        return str(error)
    if isinstance(error, sqlite3.Error):
        return _sqlite(error, database)
    if isinstance(error, ModuleNotFoundError) and error.name in ("coredis", "redis"):
        return (
            "auth.throttle.storage names Redis, but its client library is not installed: "
            "pip install 'bastion[redis]'"
        )
    if module.startswith("limits") and "prerequisite not available" in str(error):
        return (
            "auth.throttle.storage names Redis, but its client library is not installed: "
            "pip install 'bastion[redis]'"
        )
    if module.startswith("asyncpg"):
        kind = type(error).__name__
        if kind == "InvalidPasswordError" or kind == "InvalidAuthorizationSpecificationError":
            return f"the database refused the login ({error}); correct database.url"
        if kind == "InvalidCatalogNameError":
            return f"{error}; create it (createdb) or correct database.url"
    if isinstance(error, OSError):
        return _os(error, database)
    return None


def cause_of(error: BaseException, database: str = "the database file") -> str | None:
    """The line naming the cause of ``error`` and the remedy, or None when it is not known;
    ``database`` names the database (its file, or its URL without the password)."""
    for link in _chain(error):
        line = _named(link, database)
        if line is not None:
            return line
    return None
