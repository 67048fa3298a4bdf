"""The store of an empty model at a fixed time, on the run's database (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bastion.model import parse_model
from bastion.store import Store, open_store
from bastion.tools.clock import FrozenClock
from tests import databases

NOW = datetime(2030, 1, 1, tzinfo=UTC)
"""The store's time."""


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """The store, synced (the auth tables made), closed at the end."""
    opened = open_store(parse_model(""), databases.url_for_test(tmp_path), FrozenClock(NOW))
    await opened.sync()
    yield opened
    await opened.close()
