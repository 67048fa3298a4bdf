"""Backups of a project folder: what they hold, with what modes, and damaged ones refused."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bastion.project import load_project
from bastion.project.backups import MANIFEST, check_backup, restore_backup, take_backup
from bastion.project.service import Service
from bastion.store.backup import BackupFailed
from tests.conftest import write_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = write_project(tmp_path / "p")

    async def start() -> None:
        service = Service(load_project(folder))
        await service.start()
        await service.stop()

    asyncio.run(start())
    return folder


@pytest.mark.sqlite_only(
    reason="the SQLite file in the backup (PostgreSQL: its own round trip below)"
)
def test_a_backup_holds_the_database_and_the_secret_with_their_modes(
    project: Path, tmp_path: Path
) -> None:
    written = take_backup(load_project(project), tmp_path / "b", "1.2.3")
    names = {item.name for item in written}
    assert "database.sqlite" in names
    assert "files/secret" in names
    # The signing keys are in the database, sealed with the secret beside it.
    assert not any(name.startswith("files/keys/") for name in names)
    assert not any("metrics" in name or name.endswith(("-wal", "-shm")) for name in names)
    assert all(item.mode == 0o600 for item in written)
    manifest = json.loads((tmp_path / "b" / MANIFEST).read_text())
    assert manifest["bastion"] == "1.2.3"
    assert (tmp_path / "b").stat().st_mode & 0o777 == 0o700
    assert check_backup(tmp_path / "b") == written


def test_a_damaged_backup_is_refused_and_changes_nothing(project: Path, tmp_path: Path) -> None:
    take_backup(load_project(project), tmp_path / "b", "1")
    secret = project / ".bastion" / "secret"
    before = secret.read_bytes()
    (tmp_path / "b" / "files" / "secret").write_bytes(b"x" * 64)
    with pytest.raises(BackupFailed, match="damaged"):
        restore_backup(load_project(project), tmp_path / "b")
    assert secret.read_bytes() == before


def test_a_backup_into_a_folder_holding_files_is_refused(project: Path, tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x").write_text("mine")
    with pytest.raises(BackupFailed, match="not an empty folder"):
        take_backup(load_project(project), tmp_path / "b", "1")
