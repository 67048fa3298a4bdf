"""``bastion deploy`` on a live cluster: every node serves the new project without a restart.

- Three ``bastion serve`` processes on one PostgreSQL database, under client traffic: a deploy
  that adds a type and a field is answered by every node within a bound, no request of the
  traffic fails meanwhile, and a request that was under way on a node when it changed ends
  with its answer (a function resolver held open by the test itself, released only once the
  node serves the new field).
- A deploy that changes the type of a column the traffic reads (PostgreSQL's cached plans
  of the old table are refused once): no request fails either.
- ``bastion serve --workers 2`` (on the suite's database): both workers take up a deploy.

Run with ``-s`` to see the figures.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import open_permissions, write_project
from tests.e2e.conftest import Serve, Server
from tests.postgres_db import throwaway_database_for_processes

SECRET = "d" * 64
NODES = 3
DEADLINE = 10.0
"""How long a node may take to serve a deploy here (on a loaded machine): the test's bound,
far above what it measures (printed)."""
V1 = "type Note { text: String!  size: Int }"
V2 = V1.replace("}", " color: String }") + "\ntype Tag { name: String! }"
V3 = V2.replace("size: Int", "size: Float")
HANDLERS = """
import asyncio
import os


async def hold(event):
    # Held open until the test writes a byte to its socket: a request under way, for as long
    # as the test needs, without a sleep.
    reader, writer = await asyncio.open_connection("127.0.0.1", int(os.environ["HOLD_PORT"]))
    await reader.read(1)
    writer.close()
    return "released"
"""
FUNCTIONS = {"hold": {"handler": "handlers:hold", "schema": "extend type Query { hold: String }"}}
NOTES = "{ notes(first: 3) { id text size } }"
CREATE = "mutation ($t: String!) { createNote(data: {text: $t, size: 1}) { id } }"


def _deploy(project: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bastion", "deploy", *args],
        cwd=project,
        env={**os.environ, "BASTION_SECRET": SECRET},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _redeploy(project: Path, schema: str, *args: str) -> str:
    """Write ``schema`` (and rules opening its types) into the folder, then deploy it."""
    (project / "schema.graphql").write_text(schema, encoding="utf-8")
    config_file = project / "bastion.yml"
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    config["permissions"] = open_permissions(schema)
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    return _deploy(project, *args)


def _post(http: httpx.Client, server: Server, query: str, **variables: Any) -> Any:
    response = http.post(
        f"{server.url}/graphql", json={"query": query, "variables": variables}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()


def _serves(http: httpx.Client, server: Server, query: str) -> bool:
    """Whether ``server`` answers ``query`` (a field it does not know is a validation error)."""
    return "errors" not in _post(http, server, query)


class Traffic:
    """Clients reading and writing notes over the nodes; every failed answer is kept."""

    def __init__(self, nodes: list[Server], clients: int = 3) -> None:
        self._nodes = nodes
        self._stop = threading.Event()
        self.count = 0
        self.errors: list[Any] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, args=(i,)) for i in range(clients)]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _client(self, index: int) -> None:
        nodes = itertools.cycle(self._nodes[index % len(self._nodes) :] + self._nodes)
        with httpx.Client() as http:
            for step in itertools.count():
                if self._stop.is_set():
                    return
                node = next(nodes)
                try:
                    if step % 4 == 0:
                        body = _post(http, node, CREATE, t=f"c{index}-{step}")
                    else:
                        body = _post(http, node, NOTES)
                except (AssertionError, httpx.HTTPError) as error:
                    body = {"errors": [repr(error)]}
                with self._lock:
                    self.count += 1
                    if "errors" in body:
                        self.errors.append(body)


class Hold:
    """A request to ``{ hold }`` under way on a node until :meth:`release`."""

    def __init__(self, server: Server, listener: socket.socket) -> None:
        self.answer: Any = None
        self._thread = threading.Thread(target=self._ask, args=(server,))
        self._thread.start()
        listener.settimeout(DEADLINE)
        self._conn, _ = listener.accept()  # the resolver runs: the request is under way

    def _ask(self, server: Server) -> None:
        with httpx.Client() as http:
            self.answer = _post(http, server, "{ hold }")

    def release(self) -> Any:
        self._conn.sendall(b"x")
        self._conn.close()
        self._thread.join(timeout=30)
        return self.answer


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """The socket the ``hold`` resolver connects to."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        yield sock


def _wait_all(http: httpx.Client, nodes: list[Server], query: str, since: float) -> list[float]:
    """How long after ``since`` each node took to answer ``query`` (one after the other:
    each figure bounds that node's lag)."""
    lags = []
    for node in nodes:
        while not _serves(http, node, query):
            assert time.perf_counter() - since < DEADLINE, f"{node.url} still serves the old"
        lags.append(time.perf_counter() - since)
    return lags


def test_a_deploy_reaches_every_node_under_traffic(
    serve: Serve, tmp_path: Path, listener: socket.socket
) -> None:
    with throwaway_database_for_processes() as url:
        project = write_project(
            tmp_path / "project", V1, database={"url": url}, functions=FUNCTIONS
        )
        (project / "handlers.py").write_text(HANDLERS, encoding="utf-8")
        _deploy(project)
        env = {"BASTION_SECRET": SECRET, "HOLD_PORT": str(listener.getsockname()[1])}
        nodes = [serve(cwd=project, env=env) for _ in range(NODES)]
        try:
            with httpx.Client() as http, Traffic(nodes) as traffic:
                held = Hold(nodes[0], listener)
                out = _redeploy(project, V2)
                told = time.perf_counter()  # the deploy has committed
                assert "add field Note.color" in out and "add type Tag" in out, out
                lags = _wait_all(http, nodes, "{ notes { color } tags { name } }", told)
                # Node 0 serves the new project; the request it began before still runs.
                assert held.release() == {"data": {"hold": "released"}}
                before = traffic.count
                out = _redeploy(project, V3, "--force")
                told = time.perf_counter()
                assert "Note.size" in out, out
                changed = _wait_all(http, nodes, "{ notes { size } }", told)
                # Traffic on each node with the new type, its old plans gone.
                deadline = time.monotonic() + DEADLINE
                while traffic.count < before + 60 and time.monotonic() < deadline:
                    _post(http, nodes[0], "{ __typename }")
            assert traffic.errors == [], traffic.errors[:3]
        finally:
            logs = [node.stop() for node in nodes]
    assert all("now serving the deployed project" in log for log in logs)
    print(
        f"\ndeploy reached {NODES} nodes in {', '.join(f'{s * 1000:.0f}' for s in lags)} ms "
        f"(a field and a type added) and {', '.join(f'{s * 1000:.0f}' for s in changed)} ms "
        f"(a column's type changed); {traffic.count} requests of traffic meanwhile, none failed"
    )


def test_both_workers_take_up_a_deploy(serve: Serve, tmp_path: Path) -> None:
    project = write_project(tmp_path / "project", V1)
    server = serve(str(project), "--workers", "2", cwd=tmp_path, env={"BASTION_SECRET": SECRET})
    with httpx.Client() as http:
        assert not _serves(http, server, "{ notes { color } }")
        _redeploy(project, V2)

        def taken() -> bool:
            return server.log().count("now serving the deployed project") == 2

        assert server.wait_for(taken, DEADLINE), server.log()
        for _ in range(20):  # new connections, whichever worker takes each
            with httpx.Client() as fresh:
                assert _serves(fresh, server, "{ notes { color } tags { name } }")
