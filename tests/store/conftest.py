"""Fixtures shared by the store tests: ``started`` (a project of BASE holding data) and
``store`` (the store of a project with notes by users, synced, on a real SQLite file)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from bastion.project import Project
from bastion.store import Store, open_store
from bastion.tools.clock import FrozenClock
from tests.store.test_sync import started

SCHEMA = """
type Note {
  text: String!
  author: User
}
"""

__all__ = ["started", "store"]


@pytest.fixture
async def store(make_project: Callable[..., Project], clock: FrozenClock) -> AsyncIterator[Store]:
    """The store of a project with notes by users, synced; closed after the test."""
    project = make_project(SCHEMA)
    opened = open_store(project.model, project.database_url, clock)
    await opened.sync()
    yield opened
    await opened.close()
