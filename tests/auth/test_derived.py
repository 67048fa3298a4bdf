"""The project's derivation record: a random salt made once, and whether the project is old."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from bastion.auth.derived import RECORD_KEY, SALT_BYTES
from bastion.errors import ProjectError
from bastion.project import Project, load_project
from bastion.project.service import Service
from bastion.store.auth.tables import META_TABLE
from bastion.tools.clock import FrozenClock
from tests.auth.conftest import age
from tests.conftest import write_project


async def stored_record(project: Project, clock: FrozenClock) -> dict[str, Any]:
    """The record as the database holds it, after a start."""
    service = Service(project, clock)
    await service.start()
    try:
        meta = service.store.tables.metadata.tables[META_TABLE]
        async with service.store.db.read() as conn:
            value = (
                await conn.execute(select(meta.c.value).where(meta.c.key == RECORD_KEY))
            ).scalar_one()
    finally:
        await service.stop()
    record: dict[str, Any] = json.loads(value)
    return record


async def test_a_new_project_gets_a_random_salt_once(
    make_project: Callable[..., Project], clock: FrozenClock
) -> None:
    project = make_project()
    first = await stored_record(project, clock)
    assert len(bytes.fromhex(first["salt"])) == SALT_BYTES
    assert first["legacy"] is False
    assert await stored_record(project, clock) == first  # kept across starts
    assert (await stored_record(make_project(), clock))["salt"] != first["salt"]


async def test_a_project_that_held_data_before_its_record_is_old(
    make_project: Callable[..., Project], clock: FrozenClock
) -> None:
    project = make_project()
    await age(project, clock)
    assert (await stored_record(project, clock))["legacy"] is True


async def test_a_seeded_new_project_is_not_old(clock: FrozenClock, tmp_path: Path) -> None:
    root = tmp_path / "seeded"
    root.mkdir()
    (root / "seed.graphql").write_text(
        'mutation { createMovie(data: {title: "Alien"}) { id } }', encoding="utf-8"
    )
    project = load_project(write_project(root, seed="seed.graphql"))
    # The seed runs after the record is made: its rows are no sign of an old project.
    assert (await stored_record(project, clock))["legacy"] is False
    assert (await stored_record(project, clock))["legacy"] is False


async def test_a_damaged_record_stops_the_start(
    make_project: Callable[..., Project], clock: FrozenClock
) -> None:
    project = make_project()
    await stored_record(project, clock)
    service = Service(project, clock)
    meta = service.store.tables.metadata.tables[META_TABLE]
    async with service.store.db.write() as conn:
        await conn.execute(update(meta).where(meta.c.key == RECORD_KEY).values(value="{}"))
    with pytest.raises(ProjectError, match=f"_bastion_meta.{RECORD_KEY}: not a project record"):
        await service.start()
    await service.stop()
