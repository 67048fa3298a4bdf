"""Whether the SQLite file being written is still the one at the database's path.

Deleting or replacing ``data.db`` under a running server is silent for SQLite: the process
keeps its open file, every further write is acknowledged into a file no path reaches any more,
and the next start finds nothing (or another database). :class:`FileIdentity` remembers the
file's device and inode when the database is opened and compares them with the path's before
each commit: from the first mismatch on, every write is refused as ``SERVICE_UNAVAILABLE``
(nothing is acknowledged that cannot be kept), the log says why once, and ``/readyz`` fails.
The refusal lasts until the server is restarted: the operator must decide which file is the
database.

A second marker file beside the database (``data.db.created``) says that the project had a
database: when the database is missing and the marker is not, a start is refused instead of
making a new, empty database (:func:`check_not_lost`).
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from bastion.errors import Unavailable
from bastion.tools.private_files import write_private_file

log = logging.getLogger("bastion.store")

RETRY_LOST_SECONDS = 60
MARKER_SUFFIX = ".created"


class DatabaseMissing(Unavailable):
    """The project had a database at this path, and it is gone."""


def marker_of(path: Path) -> Path:
    """The marker file that says a database was made at ``path``."""
    return path.with_name(path.name + MARKER_SUFFIX)


def check_not_lost(path: Path) -> None:
    """Refuse to go on when ``path`` is missing but its marker says a database was there."""
    marker = marker_of(path)
    if path.exists() or not marker.exists():
        return
    raise DatabaseMissing(
        f"the database {path} is missing, but this project had one ({marker} says so): "
        f"restore it (bastion restore BACKUP), or delete {marker.name} to start with an "
        "empty database",
        RETRY_LOST_SECONDS,
    )


def mark_created(path: Path) -> None:
    """Note, once, that a database exists at ``path``."""
    marker = marker_of(path)
    if marker.exists():
        return
    note = {"database": str(path), "marked_at": datetime.now(UTC).isoformat(timespec="seconds")}
    try:
        write_private_file(marker, json.dumps(note).encode() + b"\n")
    except FileExistsError:
        pass  # another process wrote it first
    except OSError as error:
        # A read-only or full disk: the database's own open names the problem better.
        log.debug("could not write %s: %s", marker, error)


class FileIdentity:
    """The device and inode of the database file this process writes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        stat = os.stat(path)
        self._identity = (stat.st_dev, stat.st_ino)
        self.lost: str | None = None
        """Why writes are refused, once the file was found removed or replaced."""

    def check_known(self) -> None:
        """Raise :class:`~bastion.errors.Unavailable` when :meth:`check` found the file lost
        already; no look at the file (the writer looks once per commit, not per write)."""
        if self.lost is not None:
            raise Unavailable(self.lost, RETRY_LOST_SECONDS)

    def check(self) -> None:
        """Raise :class:`~bastion.errors.Unavailable` when the path no longer leads to the file
        this process opened."""
        if self.lost is None:
            try:
                stat = os.stat(self.path)
            except FileNotFoundError:
                what = "removed"
            else:
                if (stat.st_dev, stat.st_ino) == self._identity:
                    return
                what = "replaced"
            self.lost = (
                f"The database file {self.path} was {what} while the server was running; "
                "writes are refused until the server is restarted"
            )
            log.error(
                "%s (no write after this is acknowledged; restore the database from a backup "
                "or put the file back, then restart)",
                self.lost,
            )
        raise Unavailable(self.lost, RETRY_LOST_SECONDS)
