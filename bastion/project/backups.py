"""``bastion backup`` and ``bastion restore``: the database and the project's private files.

A backup is a folder holding:

- ``database.sqlite`` (SQLite, a consistent copy made while the server may be writing) or
  ``database.pgdump`` (PostgreSQL, ``pg_dump``'s custom format);
- every file of ``.bastion/`` but the database, its side files, the metrics folder and the lock:
  the server secret (``secret``) among them (which opens the signing keys kept in the
  database), each with its mode;
- ``bastion-backup.json``, the manifest: each file's name, mode, size and SHA-256, and what the
  backup does not hold (a secret given in ``BASTION_SECRET``, the project's own files).

A restore checks every file against the manifest before it changes anything, refuses while a
server runs on the project, then puts the files back with their modes and replaces the database.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bastion.project.loading import Project
from bastion.project.running import LOCK_FILE, nobody_serving
from bastion.store.backup import (
    BackupFailed,
    copy_sqlite,
    dump_postgresql,
    put_back_sqlite,
    restore_postgresql,
)
from bastion.tools.private_files import (
    PRIVATE_FOLDER_MODE,
    make_private_folder,
    write_private_file,
)

MANIFEST = "bastion-backup.json"
SQLITE_COPY = "database.sqlite"
POSTGRESQL_DUMP = "database.pgdump"
FORMAT = 1

# Not backed up from .bastion/: the figures of running processes and the serving lock.
_SKIPPED_FOLDERS = ("metrics",)


@dataclass(frozen=True)
class BackedUp:
    """One file of a backup, as its manifest lists it."""

    name: str
    mode: int
    size: int
    sha256: str


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _database_file(project: Project) -> Path | None:
    url = project.database_url
    return Path(url.database or "") if url.get_backend_name() == "sqlite" else None


def _private_files(project: Project) -> list[Path]:
    """The files of ``.bastion/`` a backup holds (relative), the database excepted."""
    root = project.data_dir
    database = _database_file(project)
    skipped = {LOCK_FILE}
    if database is not None and database.parent == root:
        skipped |= {database.name, *(database.name + s for s in ("-wal", "-shm", "-journal"))}
    found = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or path.is_symlink():
            continue
        if relative.parts[0] in _SKIPPED_FOLDERS or relative.as_posix() in skipped:
            continue
        if path.name.startswith(".") and path.name.endswith((".tmp", ".restoring")):
            continue  # a write in progress
        found.append(relative)
    return found


def take_backup(project: Project, target: Path, version: str) -> list[BackedUp]:
    """Back ``project`` up into the new folder ``target``; the files it wrote. ``version`` is
    Bastion's, noted in the manifest."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupFailed(f"{target}: exists and is not an empty folder; choose a new path")
    make_private_folder(target)
    os.chmod(target, PRIVATE_FOLDER_MODE)
    written: list[BackedUp] = []
    database = _database_file(project)
    if database is not None:
        copy_sqlite(database, target / SQLITE_COPY)
        written.append(_listed(target, Path(SQLITE_COPY)))
    else:
        dump_postgresql(project.database_url, target / POSTGRESQL_DUMP)
        written.append(_listed(target, Path(POSTGRESQL_DUMP)))
    for relative in _private_files(project):
        source = project.data_dir / relative
        mode = source.stat().st_mode & 0o777
        write_private_file(target / "files" / relative, source.read_bytes())
        os.chmod(target / "files" / relative, mode)
        written.append(_listed(target, Path("files") / relative))
    left_out = ["bastion.yml, schema.graphql and the project's other files (keep them in git)"]
    if os.environ.get("BASTION_SECRET"):
        left_out.append("the server secret given in BASTION_SECRET: keep it where it is set")
    manifest = {
        "format": FORMAT,
        "bastion": version,
        "project": project.config.name,
        "app_id": project.config.app_id,
        "taken_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": "sqlite" if database is not None else "postgresql",
        "files": [vars(item) for item in written],
        "not_included": left_out,
    }
    write_private_file(target / MANIFEST, json.dumps(manifest, indent=2).encode() + b"\n")
    return written


def _listed(folder: Path, relative: Path) -> BackedUp:
    path = folder / relative
    stat = path.stat()
    return BackedUp(relative.as_posix(), stat.st_mode & 0o777, stat.st_size, _digest(path))


def _read_manifest(source: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text("utf-8"))
    except FileNotFoundError:
        raise BackupFailed(f"{source}: no {MANIFEST}; not a Bastion backup") from None
    except ValueError:
        raise BackupFailed(f"{source / MANIFEST}: not valid JSON") from None
    if manifest.get("format") != FORMAT:
        raise BackupFailed(f"{source}: a backup of another format ({manifest.get('format')})")
    return manifest


def check_backup(source: Path) -> list[BackedUp]:
    """Every file of the backup at ``source``, checked against its manifest."""
    manifest = _read_manifest(source)
    items = [BackedUp(**item) for item in manifest["files"]]
    for item in items:
        relative = Path(item.name)
        if relative.is_absolute() or ".." in relative.parts:
            raise BackupFailed(f"{source / MANIFEST}: {item.name!r} is outside the backup")
        path = source / relative
        if not path.is_file():
            raise BackupFailed(f"{path}: missing from the backup")
        if path.stat().st_size != item.size or _digest(path) != item.sha256:
            raise BackupFailed(f"{path}: damaged (its size or SHA-256 differs from the manifest)")
    return items


def restore_backup(project: Project, source: Path) -> list[BackedUp]:
    """Put the backup at ``source`` back into ``project``; refused while a server runs."""
    items = check_backup(source)
    database = _database_file(project)
    kind = "sqlite" if database is not None else "postgresql"
    if _read_manifest(source)["database"] != kind:
        raise BackupFailed(f"{source}: a backup of a {kind} project is needed here")
    make_private_folder(project.data_dir)
    with nobody_serving(project.data_dir):
        for item in items:
            relative = Path(item.name)
            if relative.parts[0] != "files":
                continue
            target = project.data_dir / Path(*relative.parts[1:])
            write_private_file(target, (source / relative).read_bytes(), replace=True)
            os.chmod(target, item.mode)
        if database is not None:
            put_back_sqlite(source / SQLITE_COPY, database)
        else:
            restore_postgresql(project.database_url, source / POSTGRESQL_DUMP)
    return items
