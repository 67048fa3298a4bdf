"""Three ``bastion serve`` processes on one PostgreSQL database behave as one server.

Each node is a real process with its own caches and its own port, as behind a load balancer:

- a logout on one node is refused by the two others at once (the revocation lag is measured
  over many logouts, while other clients keep the cluster busy, and printed);
- a user deactivated through one node, and a root token rotated by the CLI, are refused by
  every node;
- 20 parallel refreshes of one token spread over the three nodes have one winner, 20 rounds
  out of 20;
- the per-IP limit counts across the nodes: the cluster allows the limit, not three times it;
- nodes on separate copies of the project folder (as on separate machines) publish one JWKS
  and accept each other's tokens, since the signing keys live in the database; a key rotated
  by the CLI is listed by every node at once, and signs everywhere once it is active.

Run with ``-s`` to see the figures (``scripts/test -s tests/e2e/test_cluster.py``).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from bastion.auth.keys import ACTIVATION_DELAY, RELOAD_INTERVAL
from bastion.project import load_project
from bastion.project.service import Service
from tests.auth.conftest import private_forms
from tests.conftest import unauthenticated, write_project
from tests.e2e.conftest import FakeClock, Serve, Server
from tests.postgres_db import throwaway_database_for_processes

PASSWORD = "correct horse battery"
SECRET = "c" * 64
NODES = 3
LOGOUTS = 150
MEDIAN_BOUND = 0.1
"""What the test allows the median revocation to take to reach another node. The contract is
100 ms at the 99th percentile (measured here and printed); on a loaded CI machine the tail is
the nodes waiting for a CPU, so the test holds the median, which no cache expiry could meet
(a cache entry lives up to 1 s: without the events the median would be about 0.5 s)."""
HARD_BOUND = 2.0
"""No revocation may take longer, however loaded the machine (polling bounds a lost
notification at 0.5 s)."""
REGISTER = """mutation ($e: String!, $p: String!) {
  registerUserEmailPassword(input: {email: $e, password: $p}) { accessToken refreshToken }
}"""
LOGIN = """mutation ($e: String!, $p: String!) {
  loginEmailPassword(input: {email: $e, password: $p}) { accessToken refreshToken }
}"""
REFRESH = """mutation ($t: String!) {
  refreshToken(input: {refreshToken: $t}) { accessToken refreshToken }
}"""
LOGOUT = "mutation ($t: String!) { logout(input: {refreshToken: $t}) }"
VIEWER = "{ viewer { user { id email } } }"
CREATE = "mutation ($t: String!) { createMovie(data: {title: $t}) { id } }"
MOVIES = "{ movies(first: 5) { id title } }"

Cluster = Callable[..., list[Server]]


@pytest.fixture
def database_url() -> Iterator[str]:
    """A new PostgreSQL database for the cluster, dropped once its nodes have stopped."""
    with throwaway_database_for_processes() as url:
        yield url


@pytest.fixture
def cluster(database_url: str, serve: Serve, tmp_path: Path) -> Cluster:
    """Start three nodes of one project on the database, with these ``auth:`` settings."""

    def start(**auth: Any) -> list[Server]:
        project = write_project(
            tmp_path / "project",
            auth={"providers": {"local-userpass": {"signup": True}}, **auth},
            database={"url": database_url},
            root_tokens=["ops"],
        )
        env = {"BASTION_SECRET": SECRET}
        # One after the other: the first makes the tables and the signing key the others use.
        return [serve(cwd=project, env=env) for _ in range(NODES)]

    return start


def test_nodes_started_at_once_on_an_empty_database_all_serve(
    database_url: str, serve: Serve, tmp_path: Path
) -> None:
    # No node goes first: each finds the database empty and makes the tables and the keys.
    project = write_project(
        tmp_path / "project",
        auth={"providers": {"local-userpass": {"signup": True}}},
        database={"url": database_url},
    )
    env = {"BASTION_SECRET": SECRET}
    nodes = [serve(cwd=project, env=env, wait=False) for _ in range(NODES)]
    for node in nodes:
        node.wait_until_ready()
    with httpx.Client() as http:
        pair = _data(http, nodes[0], REGISTER, e="ann@example.com", p=PASSWORD)
        token = pair["registerUserEmailPassword"]["accessToken"]
        for index, node in enumerate(nodes):
            _data(http, node, CREATE, token, t=f"made on node {index}")
        titles = {m["title"] for m in _data(http, nodes[-1], MOVIES, token)["movies"]}
    assert titles == {f"made on node {index}" for index in range(NODES)}


def _post(http: httpx.Client, server: Server, query: str, token: str = "", **variables: Any) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    body = {"query": query, "variables": variables}
    response = http.post(f"{server.url}/graphql", json=body, headers=headers, timeout=30)
    return response.json()


def _data(http: httpx.Client, server: Server, query: str, token: str = "", **variables: Any) -> Any:
    body = _post(http, server, query, token, **variables)
    assert "errors" not in body, body
    return body["data"]


def _alive(http: httpx.Client, server: Server, token: str) -> bool:
    """Whether ``server`` takes ``token`` (a refused one is UNAUTHENTICATED)."""
    body = _post(http, server, VIEWER, token)
    if unauthenticated(body) is not None:
        return False
    assert body["data"]["viewer"]["user"] is not None, body
    return True


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


class Traffic:
    """Clients keeping the cluster busy meanwhile: logins, refreshes, reads, writes."""

    def __init__(self, nodes: list[Server], clients: int = 2) -> None:
        self._nodes = nodes
        self._stop = threading.Event()
        self._count = 0
        self._errors: list[Any] = []
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(clients)
        ]

    def __enter__(self) -> Traffic:
        self._started = time.perf_counter()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        self.seconds = time.perf_counter() - self._started

    @property
    def per_second(self) -> float:
        return self._count / self.seconds

    def _client(self, index: int) -> None:
        email = f"busy{index}@example.com"
        nodes = itertools.cycle(self._nodes)
        with httpx.Client() as http:
            pair = _data(http, next(nodes), REGISTER, e=email, p=PASSWORD)
            pair = pair["registerUserEmailPassword"]
            for step in itertools.count():
                if self._stop.is_set():
                    return
                node = next(nodes)
                if step % 20 == 0:
                    body = _post(http, node, REFRESH, t=pair["refreshToken"])
                    pair = body["data"]["refreshToken"] if "errors" not in body else pair
                elif step % 5 == 0:
                    body = _post(http, node, CREATE, pair["accessToken"], t=f"{email}-{step}")
                else:
                    body = _post(http, node, MOVIES, pair["accessToken"])
                with self._lock:
                    self._count += 1
                    if "errors" in body:
                        self._errors.append(body)

    @property
    def errors(self) -> list[Any]:
        return self._errors


def test_a_logout_on_one_node_is_refused_by_every_node_at_once(cluster: Cluster) -> None:
    nodes = cluster(throttle={"login_per_ip": "100000/minute"})
    lags: list[float] = []
    with httpx.Client() as http, Traffic(nodes) as traffic:
        _data(http, nodes[0], REGISTER, e="ann@example.com", p=PASSWORD)
        for round_ in range(LOGOUTS):
            here, *elsewhere = nodes[round_ % NODES :] + nodes[: round_ % NODES]
            pair = _data(http, here, LOGIN, e="ann@example.com", p=PASSWORD)
            pair = pair["loginEmailPassword"]
            # Every other node has read the session alive, and caches it so.
            assert all(_alive(http, node, pair["accessToken"]) for node in elsewhere)
            assert _data(http, here, LOGOUT, t=pair["refreshToken"])["logout"] is True
            told = time.perf_counter()  # the client has heard that it is logged out
            for node in elsewhere:
                while _alive(http, node, pair["accessToken"]):
                    assert time.perf_counter() - told < HARD_BOUND, "still accepted"
                lags.append(time.perf_counter() - told)
    assert traffic.errors == []
    p50, p99 = _percentile(lags, 0.5), _percentile(lags, 0.99)
    print(
        f"\nrevocation lag over {len(lags)} checks ({LOGOUTS} logouts, {NODES} nodes): "
        f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {max(lags) * 1000:.1f} ms; "
        f"mean {statistics.mean(lags) * 1000:.1f} ms; background traffic "
        f"{traffic.per_second:.0f} requests/s over the cluster"
    )
    assert p50 < MEDIAN_BOUND


def test_parallel_refreshes_over_the_nodes_have_one_winner(cluster: Cluster) -> None:
    nodes = cluster(throttle={"login_per_ip": "100000/minute"})
    with httpx.Client() as http:
        _data(http, nodes[0], REGISTER, e="ann@example.com", p=PASSWORD)
    rounds = 20
    with ThreadPoolExecutor(20) as pool:
        for _ in range(rounds):
            with httpx.Client() as http:
                pair = _data(http, nodes[0], LOGIN, e="ann@example.com", p=PASSWORD)
            token = pair["loginEmailPassword"]["refreshToken"]
            start = threading.Barrier(20)

            def refresh(i: int, token: str = token, start: threading.Barrier = start) -> Any:
                with httpx.Client() as http:
                    start.wait()
                    return _post(http, nodes[i % NODES], REFRESH, t=token)

            answers = list(pool.map(refresh, range(20)))
            won = {a["data"]["refreshToken"]["refreshToken"] for a in answers if "errors" not in a}
            # One successor: the winner's; a repeat within the reuse interval gets that same
            # pair (a second tab), never a pair of its own.
            assert len(won) == 1, answers


def test_deactivation_and_root_token_rotation_reach_every_node(
    cluster: Cluster, tmp_path: Path
) -> None:
    nodes = cluster()
    project = tmp_path / "project"
    env = {**os.environ, "BASTION_SECRET": SECRET}
    bastion = [sys.executable, "-m", "bastion"]

    def cli(*args: str) -> str:
        done = subprocess.run(
            [*bastion, *args], cwd=project, env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout.strip()

    cli("deploy")  # makes the declared root token, the nodes serving meanwhile
    root = cli("root-token", "get", "ops")
    with httpx.Client() as http:
        pair = _data(http, nodes[0], REGISTER, e="ann@example.com", p=PASSWORD)
        pair = pair["registerUserEmailPassword"]
        user = _data(http, nodes[1], VIEWER, pair["accessToken"])["viewer"]["user"]["id"]
        assert all(_alive(http, node, pair["accessToken"]) for node in nodes)
        _data(
            http, nodes[0], "mutation ($id: ID!) { deactivateUser(id: $id) { id } }", root, id=user
        )
        told = time.perf_counter()
        for node in nodes:
            while _alive(http, node, pair["accessToken"]):
                assert time.perf_counter() - told < HARD_BOUND
        # The CLI is another process again: its rotation reaches the serving ones.
        assert all("errors" not in _post(http, node, VIEWER, root) for node in nodes)
        cli("root-token", "rotate", "ops")
        told = time.perf_counter()
        for node in nodes:
            while unauthenticated(_post(http, node, VIEWER, root)) is None:
                assert time.perf_counter() - told < HARD_BOUND, "the old root token still works"


def test_the_per_ip_limit_counts_across_the_nodes(cluster: Cluster) -> None:
    nodes = cluster(throttle={"login_per_ip": "6/minute"})
    with httpx.Client() as http:
        answers = [
            _post(http, nodes[i % NODES], LOGIN, e=f"nobody{i}@example.com", p=PASSWORD)
            for i in range(12)
        ]
    codes = [a["errors"][0]["extensions"]["code"] for a in answers]
    assert "RATE_LIMITED" not in codes[:6], codes
    assert codes[6:] == ["RATE_LIMITED"] * 6, codes


def _jwks(http: httpx.Client, server: Server) -> bytes:
    response = http.get(f"{server.url}/.well-known/jwks.json", timeout=30)
    assert response.status_code == 200, response.text
    return response.content


def _kids(http: httpx.Client, server: Server) -> list[str]:
    return [key["kid"] for key in httpx.Response(200, content=_jwks(http, server)).json()["keys"]]


def _stored_private_forms(project: Path) -> list[bytes]:
    """The private parts of the project's keys, as they would look in clear (read by a process
    of the test's own, with the cluster's secret)."""

    async def read() -> list[bytes]:
        service = Service(load_project(project))
        await service.start()
        try:
            keys = service.auth.keys
            found = [keys.verifying_key(status.kid) for status in keys.statuses()]
            return [form for key in found if key is not None for form in private_forms(key)]
        finally:
            await service.stop()

    return asyncio.run(read())


def test_nodes_on_separate_folders_share_their_signing_keys(
    database_url: str, serve: Serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(tmp_path / "faketime")  # the wall clock of the nodes and the CLI
    env = {"BASTION_SECRET": SECRET, **clock.env()}
    # A copy of the project per node, as on three machines: no key folder is shared.
    folders = [
        write_project(
            tmp_path / f"machine{i}",
            auth={"providers": {"local-userpass": {"signup": True}}},
            database={"url": database_url},
        )
        for i in range(NODES)
    ]
    nodes = [serve(cwd=folder, env=env) for folder in folders]
    with httpx.Client() as http:
        documents = [_jwks(http, node) for node in nodes]
        assert documents[0] == documents[1] == documents[2], documents
        (first,) = _kids(http, nodes[0])
        pair = _data(http, nodes[0], REGISTER, e="ann@example.com", p=PASSWORD)
        token = pair["registerUserEmailPassword"]["accessToken"]
        assert jwt.get_unverified_header(token)["kid"] == first
        assert all(_alive(http, node, token) for node in nodes)

        # `bastion keys rotate` on the second machine: every node lists the key at once.
        done = subprocess.run(
            [sys.executable, "-m", "bastion", "keys", "rotate"],
            cwd=folders[1],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        published = re.search(r"Published key (\S+) ", done.stdout)
        assert published is not None, done.stdout
        new = published[1]
        told = time.perf_counter()
        lags = []
        for node in nodes:
            while new not in _kids(http, node):
                assert time.perf_counter() - told < HARD_BOUND, "the new key is not listed"
            lags.append(time.perf_counter() - told)
        documents = [_jwks(http, node) for node in nodes]
        assert documents[0] == documents[1] == documents[2], documents
        print(f"\nrotation listed by {NODES} nodes after {max(lags) * 1000:.0f} ms (slowest)")
        # Published, not signing yet: the old key signs until the new one's activation.
        pair = _data(http, nodes[2], LOGIN, e="ann@example.com", p=PASSWORD)
        assert jwt.get_unverified_header(pair["loginEmailPassword"]["accessToken"])["kid"] == first

        clock.advance(int(ACTIVATION_DELAY + RELOAD_INTERVAL))
        for node in nodes:
            signed = _data(http, node, LOGIN, e="ann@example.com", p=PASSWORD)
            access = signed["loginEmailPassword"]["accessToken"]
            assert jwt.get_unverified_header(access)["kid"] == new
            assert all(_alive(http, other, access) for other in nodes)

    # No private key lies in the database in clear: a dump of it holds none of their forms.
    monkeypatch.setenv("BASTION_SECRET", SECRET)
    forms = _stored_private_forms(folders[0])
    assert len(forms) >= 2 * 5
    dump = subprocess.run(
        ["pg_dump", "--data-only", database_url], capture_output=True, check=True
    ).stdout
    assert b"_bastion_signing_key" in dump
    for form in forms:
        assert form not in dump and form.hex().encode() not in dump
