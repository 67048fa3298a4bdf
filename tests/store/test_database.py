"""The database connection: the driver a URL needs, and the pool a PostgreSQL URL gets."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bastion.errors import ProjectError
from bastion.store.database import Database, PoolSettings
from tests import databases

PG = make_url("postgresql+asyncpg://bastion:secret@db.example:5432/app")


def test_a_postgresql_url_without_asyncpg_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # As if asyncpg were not installed: importing it fails.
    monkeypatch.setitem(sys.modules, "asyncpg", None)
    with pytest.raises(ProjectError) as caught:
        Database(PG)
    assert caught.value.problems == [
        "bastion.yml: database.url is a postgresql:// URL but its driver, asyncpg, is not "
        "installed: pip install 'bastion[postgres]'"
    ]


async def test_the_pool_settings_reach_the_engine() -> None:
    db = Database(PG, pool=PoolSettings(size=3, max_overflow=2, timeout=1.5))
    try:
        pool = db.engine.pool
        assert (pool.size(), pool._max_overflow, pool._timeout) == (3, 2, 1.5)  # type: ignore[attr-defined]
    finally:
        await db.close()


@pytest.mark.postgresql_only(reason="PgBouncer sits in front of PostgreSQL")
async def test_pgbouncer_transaction_mode_names_every_statement_afresh(tmp_path: Path) -> None:
    """Behind PgBouncer two clients' statements meet on one server connection: none may be
    named by a per-connection counter, nor kept in a per-connection cache."""
    url = databases.url_for_test(tmp_path)
    for mode, expected in ((False, "__asyncpg_"), (True, "__bastion_")):
        db = Database(
            url, pool=PoolSettings(size=1, max_overflow=0, pgbouncer_transaction_mode=mode)
        )
        try:
            async with db.read() as conn:
                for _ in range(2):
                    await conn.execute(text("SELECT 1"))
                names = (
                    (await conn.execute(text("SELECT name FROM pg_prepared_statements")))
                    .scalars()
                    .all()
                )
        finally:
            await db.close()
        assert names and all(name.startswith(expected) for name in names), (mode, names)
