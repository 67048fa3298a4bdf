"""What Bastion writes to disk is its owner's alone: 0600 files, 0700 folders, any umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bastion.project import Project


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o000, 0o022], ids=["umask-000", "umask-022"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


@pytest.mark.sqlite_only(reason="the modes of the SQLite file and its -wal and -shm files")
async def test_database_wal_shm_and_state_folder_are_private(
    umask: int, make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    project = make_project()
    client = await client_for(project)
    await client.data('mutation { createPerson(data: {name: "Ada"}) { id } }')
    state = project.root / ".bastion"
    # The database is open and has written: SQLite has made its -wal and -shm files.
    made = {p.name: mode(p) for p in state.iterdir() if p.name.startswith("data.db")}
    assert made == {
        "data.db": 0o600,
        "data.db-wal": 0o600,
        "data.db-shm": 0o600,
        "data.db.created": 0o600,  # the marker that the project has a database
    }
    assert mode(state / "serve.lock") == 0o600
    assert mode(state) == 0o700
    assert mode(state / "secret") == 0o600
