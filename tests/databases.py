"""Which database the suite runs on, and throwaway PostgreSQL databases for its projects.

``BASTION_TEST_DATABASE=postgresql scripts/test`` runs every test that touches the database on
PostgreSQL (at ``BASTION_TEST_POSTGRES``, by default ``postgresql://root@127.0.0.1:5432``);
unset, or ``sqlite``, it runs on SQLite files in the tests' temporary folders.

Creating a PostgreSQL database is quick but dropping one waits for a checkpoint (about a second),
so each test process keeps a few databases of its own and hands them out again: a database is
emptied (its ``public`` schema dropped and made again) before it goes to the next test's project,
and all of them are dropped when the process ends. The names carry the process id, so parallel
runs (pytest-xdist workers, two checkouts) never share one.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import threading
from collections.abc import Coroutine, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any, TypeVar

import yaml
from sqlalchemy.engine import URL, make_url

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
KIND = os.environ.get("BASTION_TEST_DATABASE", SQLITE).lower()
SERVER = os.environ.get("BASTION_TEST_POSTGRES", "postgresql://root@127.0.0.1:5432").rstrip("/")

if KIND not in (SQLITE, POSTGRESQL):
    raise SystemExit(f"BASTION_TEST_DATABASE: expected sqlite or postgresql (got {KIND!r})")

T = TypeVar("T")
DEFAULT_URL = "sqlite:///.bastion/data.db"  # bastion.project.config's default


def on_postgresql() -> bool:
    """Whether this run puts the projects' data on PostgreSQL."""
    return KIND == POSTGRESQL


class _Loop:
    """An event loop on a thread of its own: the fixtures are synchronous, and a test's own
    loop may be running when a project asks for its database."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, daemon=True).start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()


class DatabasePool:
    """Throwaway PostgreSQL databases of one test process, handed out per test."""

    def __init__(self) -> None:
        self._loop = _Loop()
        self._made: list[str] = []
        self._free: list[str] = []
        self._lent: list[str] = []

    def take(self, *, lasting: bool = False) -> str:
        """The URL of an empty database, the test's until :meth:`give_back_all`; a
        ``lasting`` one (for a session's server) is kept until the process ends."""
        name = None
        while self._free and name is None:
            candidate = self._free.pop()
            if self._loop.run(self._empty(candidate)):
                name = candidate
        if name is None:
            name = f"bastion_test_{os.getpid()}_{len(self._made)}"
            # A linguistic collation (ICU's English), as most servers have, not the code-point
            # order of "C": text must sort and compare as on SQLite whatever the server's.
            self._loop.run(
                self._admin(
                    f'CREATE DATABASE "{name}" TEMPLATE template0 LOCALE_PROVIDER icu '
                    "ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
                )
            )
            # No test crashes the server: a commit need not wait for the disk (the suite's
            # thousands of commits would), and what a test reads is the same either way.
            self._loop.run(self._admin(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
            self._made.append(name)
        if not lasting:
            self._lent.append(name)
        return f"{SERVER}/{name}"

    def give_back_all(self) -> None:
        """The test is over: its databases go to the next test (emptied when taken)."""
        self._free.extend(self._lent)
        self._lent.clear()

    def drop_all(self) -> None:
        """Drop every database this process made."""
        for name in self._made:
            self._loop.run(self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._made.clear()
        self._free.clear()

    async def _admin(self, statement: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(f"{SERVER}/postgres")
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    async def _empty(self, name: str) -> bool:
        """Empty a used database; False when something still holds it (it is then left)."""
        import asyncpg

        conn = await asyncpg.connect(f"{SERVER}/{name}")
        try:
            # A connection a test leaked would make the drop wait for ever: give up instead.
            await conn.execute("SET lock_timeout = '2s'")
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        except asyncpg.PostgresError:
            return False
        finally:
            await conn.close()
        return True

    def fetch(self, url: str, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """The rows of one query on a PostgreSQL database (``$1``-style parameters)."""
        return self._loop.run(self._fetch(url, sql, params))

    async def _fetch(self, url: str, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            return [tuple(row) for row in await conn.fetch(sql, *params)]
        finally:
            await conn.close()


_pool: DatabasePool | None = None


def pool() -> DatabasePool:
    """This process's pool, made on first use."""
    global _pool
    if _pool is None:
        _pool = DatabasePool()
    return _pool


def close_pool() -> None:
    """Drop this process's databases, if it made any."""
    if _pool is not None:
        _pool.drop_all()


def forget_projects() -> None:
    """The test is over: its folders' databases are no longer theirs."""
    assigned.clear()
    _left_alone.clear()


def use_for_process(root: Path, *, lasting: bool = False) -> None:
    """On a PostgreSQL run, point the project at ``root`` (served by another process, which
    the suite's fixtures do not reach) at a throwaway database, written into its bastion.yml."""
    config_file = root / "bastion.yml"
    if not on_postgresql() or root.resolve() in _left_alone:
        return
    if not config_file.is_file():
        # Made by the command itself (serve --example): it keeps its SQLite file, at every
        # start of the test, so that what the first start wrote is there at the next.
        _left_alone.add(root.resolve())
        return
    config = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
    if config.get("database", {}).get("url", DEFAULT_URL) != DEFAULT_URL:
        return
    # The database the test's own commands (run in-process) already gave this folder.
    url = assigned.get(root.resolve()) or pool().take(lasting=lasting)
    config["database"] = {**config.get("database", {}), "url": url}
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")


# The PostgreSQL database given to each project folder that kept the default database.
assigned: dict[Path, str] = {}
_left_alone: set[Path] = set()


def url_of(root: Path) -> str:
    """The ``database.url`` the project at ``root`` runs on, as the test run chose it."""
    if root.resolve() in assigned:
        return assigned[root.resolve()]
    config = yaml.safe_load((root / "bastion.yml").read_text(encoding="utf-8")) or {}
    url = str(config.get("database", {}).get("url", DEFAULT_URL))
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        return f"sqlite:///{root.resolve() / url.removeprefix('sqlite:///')}"
    return url


def query(
    root: Path, sql: str, params: Sequence[Any] = (), *, write: bool = False
) -> list[tuple[Any, ...]]:
    """Read (or, ``write``, change) the database of the project at ``root`` as the test's own
    witness, whichever database it is on: ``sql`` uses ``?`` for its parameters."""
    url = url_of(root)
    if url.startswith("postgresql"):
        counter = iter(range(1, len(params) + 1))
        return pool().fetch(url, re.sub(r"\?", lambda _: f"${next(counter)}", sql), params)
    database = url.removeprefix("sqlite:///")
    mode = "rw" if write else "ro"
    with closing(sqlite3.connect(f"file:{database}?mode={mode}", uri=True)) as db:
        rows = [tuple(row) for row in db.execute(sql, tuple(params)).fetchall()]
        db.commit()
        return rows


_PG_SCHEMA = """
SELECT c.table_name || '.' || c.column_name,
       c.data_type || ' ' || c.is_nullable || ' ' || coalesce(c.column_default, '')
       || ' ' || coalesce(c.collation_name, '')
  FROM information_schema.columns AS c WHERE c.table_schema = 'public'
UNION ALL
SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'
UNION ALL
SELECT conrelid::regclass::text || '.' || conname, pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'public'::regnamespace
UNION ALL
SELECT table_name, 'TABLE' FROM information_schema.tables WHERE table_schema = 'public'
ORDER BY 1
"""


def schema(root: Path) -> list[tuple[str, str]]:
    """Every table, column, index and constraint of the project's database with its
    definition: what a schema change would change."""
    if url_of(root).startswith("postgresql"):
        rows = query(root, _PG_SCHEMA)
    else:
        rows = query(root, "SELECT name, coalesce(sql, '') FROM sqlite_master ORDER BY name")
    return [(str(name), str(sql)) for name, sql in rows]


def table_names(root: Path) -> set[str]:
    """The tables of the project's database."""
    if url_of(root).startswith("postgresql"):
        sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    return {str(row[0]) for row in query(root, sql)}


def columns(root: Path, table: str) -> list[str]:
    """The column names of one table, in order."""
    if url_of(root).startswith("postgresql"):
        sql = (
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND table_name = ? ORDER BY ordinal_position"
        )
        return [str(row[0]) for row in query(root, sql, (table,))]
    return [str(row[1]) for row in query(root, f'PRAGMA table_info("{table}")')]


def url_for_test(folder: Path) -> URL:
    """The async URL of a new database for a test that opens a store by hand: an SQLite file
    in ``folder``, or a throwaway PostgreSQL database on a PostgreSQL run."""
    if on_postgresql():
        return make_url(pool().take()).set(drivername="postgresql+asyncpg")
    return URL.create("sqlite+aiosqlite", database=str(folder / "data.db"))
