"""Copies of a database that can be taken while it serves, and put back.

SQLite: the online backup API (``sqlite3.Connection.backup``) copies every page under one read
snapshot, so the copy is a consistent database even while writers commit (in WAL mode they
are not blocked). PostgreSQL: ``pg_dump`` in its custom format (one consistent snapshot, too)
and ``pg_restore``; the password goes through the environment, never the command line.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL

from bastion.errors import BastionError
from bastion.tools.private_files import PRIVATE_MODE, sync_folder

_SIDE_FILES = ("-wal", "-shm", "-journal")


class BackupFailed(BastionError):
    """A backup or a restore could not be made; nothing was changed."""


def copy_sqlite(source: Path, target: Path) -> None:
    """Copy the live database ``source`` into the new file ``target`` (checked, synced)."""
    if not source.is_file():
        raise BackupFailed(f"{source}: no database file to back up")
    # mode=rw: never create an empty database where one was expected.
    src = sqlite3.connect(f"file:{source}?mode=rw", uri=True, timeout=30)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
        os.close(fd)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # all pages in one step: one snapshot
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            verdict = dst.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            dst.close()
    finally:
        src.close()
    if verdict != "ok":
        raise BackupFailed(f"{target}: the copy failed its integrity check ({verdict})")
    _fsync(target)


def put_back_sqlite(copy: Path, target: Path) -> None:
    """Make ``copy`` the database at ``target``: checked, written beside it, then renamed
    over it, with the old database's WAL and shared-memory files removed first (a stale WAL
    would otherwise be replayed into the restored database)."""
    src = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    try:
        verdict = src.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        src.close()
    if verdict != "ok":
        raise BackupFailed(f"{copy}: not a sound SQLite database ({verdict})")
    temp = target.with_name(f".{target.name}.restoring")
    temp.unlink(missing_ok=True)
    shutil.copyfile(copy, temp)
    os.chmod(temp, PRIVATE_MODE)
    _fsync(temp)
    for suffix in _SIDE_FILES:
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(temp, target)
    sync_folder(target.parent)


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """The libpq URL of ``url`` (no driver, no password) and the environment with the password."""
    plain = url.set(drivername="postgresql", password=None)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return plain.render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    if shutil.which(command[0]) is None:
        raise BackupFailed(
            f"{command[0]} is not installed: install PostgreSQL's client programs "
            "(Debian: apt-get install postgresql-client)"
        )
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise BackupFailed(f"{what} failed: {last}")


def dump_postgresql(url: URL, target: Path) -> None:
    """``pg_dump`` the database at ``url`` into ``target`` (custom format)."""
    dsn, env = _libpq(url)
    _run(
        ["pg_dump", "--format=custom", "--no-owner", f"--file={target}", f"--dbname={dsn}"],
        env,
        "pg_dump",
    )
    os.chmod(target, PRIVATE_MODE)


def restore_postgresql(url: URL, dump: Path) -> None:
    """``pg_restore`` ``dump`` into the database at ``url``, replacing what it holds, in one
    transaction (all or nothing)."""
    dsn, env = _libpq(url)
    _run(
        [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            f"--dbname={dsn}",
            str(dump),
        ],
        env,
        "pg_restore",
    )


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
