"""A serving app takes up each ``bastion deploy`` without a restart (in-process; the cluster
and the workers are in tests/e2e/test_live_deploy.py).

- the deploy records the schema and the API's sections of ``bastion.yml``, nothing else;
- the app answers the new field once the record is read, while a request that began before
  keeps the project it began with;
- a record this folder cannot build (a function whose module it lacks) is logged, and the
  project before is served on.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import weakref
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from bastion import create_app
from bastion.project import load_project
from bastion.project.deployed import META_KEY, DeployedSource, project_from, source_of
from bastion.store.auth.meta import MetaRows
from bastion.store.auth.tables import META_TABLE
from bastion.tools.clock import FrozenClock
from tests.cli.test_deploy import adeploy
from tests.conftest import STARTUP_TIMEOUT, GraphQLClient, open_permissions, write_project
from tests.store.test_sync import serving

V1 = "type Note { text: String! }"
V2 = "type Note { text: String!  color: String }"


async def _catch_up(client: GraphQLClient) -> bool:
    """Have the app read the record now, as its poll (or a deploy's event) would; whether
    it served a new one."""
    taken: bool = await client.app.state.deploys.catch_up()
    return taken


def test_the_record_holds_the_schema_and_the_api_sections_only(tmp_path: Path) -> None:
    root = write_project(
        tmp_path / "p",
        V1,
        functions={"hello": {"handler": "h:hello", "schema": "extend type Query { hi: Int }"}},
        http={"max_body_bytes": 2048},
    )
    (root / "h.py").write_text("def hello(event):\n    return 1\n", encoding="utf-8")
    source = source_of(load_project(root))
    assert source.schema == V1
    assert set(source.sections) == {"permissions", "functions"}
    assert DeployedSource.from_text(source.to_text()) == source
    # Another folder (another machine) builds it with its own file for the rest.
    other = write_project(tmp_path / "other", "type Old { x: Int }", http={"max_body_bytes": 4096})
    (other / "h.py").write_text("def hello(event):\n    return 2\n", encoding="utf-8")
    built = project_from(other, source)
    assert set(built.model.types) >= {"Note"} and "Old" not in built.model.types
    assert built.config.http.max_body_bytes == 4096
    assert set(built.functions) == {"hello"}


async def test_a_deploy_is_served_without_a_restart(tmp_path: Path) -> None:
    project = load_project(write_project(tmp_path / "p", V1))
    async with serving(project) as client:
        first = client.app.state.service
        assert "errors" in await client.gql("{ notes { color } }")
        write_project(project.root, V2)
        result = await adeploy(project)
        assert result.exit_code == 0, result.output
        await _catch_up(client)  # unless the app's own poll was first
        assert not await _catch_up(client)  # read once, served once
        assert await client.data("{ notes { color } }") == {"notes": []}
        assert client.app.state.service is not first
        made = await client.data('mutation { createNote(data: {text: "a", color: "red"}) { id } }')
        assert made["createNote"]["id"]


async def test_a_record_this_folder_cannot_build_keeps_the_project_served(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project = load_project(write_project(tmp_path / "p", V1))
    caplog.set_level(logging.ERROR, logger="bastion")
    async with serving(project) as client:
        # What a deploy from a folder with a function module this one lacks records.
        functions = {"hi": {"handler": "gone:hi", "schema": "extend type Query { hi: Int }"}}
        source = DeployedSource(V1, {"permissions": open_permissions(V1), "functions": functions})
        service = client.app.state.service
        async with service.store.db.write() as conn:
            meta = MetaRows(service.store.tables.metadata.tables[META_TABLE])
            await meta.put(conn, META_KEY, source.to_text())
        assert not await _catch_up(client)
        assert "cannot be served here" in caplog.text and "gone" in caplog.text
        assert client.app.state.service is service
        assert await client.data("{ notes { text } }") == {"notes": []}


async def test_a_settled_heap_lets_a_replaced_project_go(tmp_path: Path) -> None:
    # `bastion serve` freezes what its start built out of the collector's full passes; the
    # project a deploy replaces must still be freed, not kept frozen.
    project = load_project(write_project(tmp_path / "p", V1))
    app = create_app(project, clock=FrozenClock(), settle_heap=True)
    retired = asyncio.Event()
    app.live.on_retired.append(retired.set)
    try:
        async with (
            LifespanManager(app, startup_timeout=STARTUP_TIMEOUT) as manager,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app), base_url="http://testserver"
            ) as http,
        ):
            client = GraphQLClient(http, app)
            assert gc.get_freeze_count() > 0
            first = weakref.ref(app.state.service)
            write_project(project.root, V2)
            assert (await adeploy(project)).exit_code == 0
            await _catch_up(client)
            await asyncio.wait_for(retired.wait(), 30)
            assert first() is None  # thawed and collected
            assert gc.get_freeze_count() > 0  # what serves now, frozen again
            assert await client.data("{ notes { color } }") == {"notes": []}
    finally:
        gc.unfreeze()  # the other tests of this process collect as usual
