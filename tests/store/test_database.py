"""The database connection: the driver a URL needs, and the pool a PostgreSQL URL gets."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bastion.errors import ProjectError
from bastion.project import load_project
from bastion.store.database import Database, PoolSettings
from tests import databases
from tests.conftest import write_project

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


class CuttableProxy:
    """A TCP proxy to the PostgreSQL server that the test can cut and restore: the network
    between the app and its database failing, without stopping a shared server."""

    def __init__(self, host: str, port: int) -> None:
        self._upstream = (host, port)
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self.cut = False

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def sever(self) -> None:
        """Drop every open connection and refuse new ones."""
        self.cut = True
        for writer in self._links:
            writer.transport.abort()
        self._links.clear()

    async def close(self) -> None:
        self.sever()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        self._links |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.mark.postgresql_only(reason="a database server the network can fail to reach")
async def test_a_database_lost_while_serving_is_503_and_comes_back_by_itself(
    tmp_path: Path, client_for: Callable[..., Any]
) -> None:
    direct = make_url(databases.pool().take())
    proxy = CuttableProxy(direct.host or "127.0.0.1", direct.port or 5432)
    port = await proxy.start()
    try:
        url = direct.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
        client = await client_for(
            load_project(write_project(tmp_path / "app", database={"url": url}))
        )
        strict = {"accept": "application/graphql-response+json"}
        await client.data('mutation { createMovie(data: {title: "Alien"}) { id } }')

        proxy.sever()
        for query in ("{ moviesCount }", 'mutation { createMovie(data: {title: "Heat"}) { id } }'):
            answer = await client.http.post("/graphql", json={"query": query}, headers=strict)
            assert answer.status_code == 503, answer.text
            assert answer.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
            assert int(answer.headers["retry-after"]) >= 1

        proxy.cut = False  # the network is back: no restart, the next requests are served
        assert await client.data("{ moviesCount }") == {"moviesCount": 1}
        await client.data('mutation { createMovie(data: {title: "Heat"}) { id } }')
        assert await client.data("{ moviesCount }") == {"moviesCount": 2}
    finally:
        await proxy.close()
