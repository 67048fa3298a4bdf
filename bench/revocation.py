"""Revocation lag across nodes: how long a logout on one node takes to be refused elsewhere.

``scripts/bench revocation``: three ``bastion serve`` processes on one new PostgreSQL
database, two clients keeping them busy (reads, refreshes), then :data:`LOGOUTS` times: log in
on one node, have the two others read the session alive (so that they cache it), log out on
the first and, from the moment the client has the answer, ask each other node until it
refuses the token. Prints p50, p99 and max of those lags, and the background rate.
Nothing here is a test: the contract (p99 at most 100 ms) is read off the table.
"""

from __future__ import annotations

import itertools
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from bench.harness import (
    EMAIL,
    LOGIN_BODY,
    REPO,
    Options,
    Side,
    Target,
    bench_config,
    create_user,
    database,
    serve,
    write_project,
)

NODES = 3
LOGOUTS = 300
SCHEMA = "type Note { text: String! }"
OPEN = {"Note": {"read": "everyone", "create": "everyone"}}
VIEWER = "{ viewer { user { id } } }"
LOGOUT = "mutation ($t: String!) { logout(input: {refreshToken: $t}) }"
NOTES = "{ notes(first: 5) { id text } }"


def _alive(http: httpx.Client, node: Target, token: str) -> bool:
    body = http.post(
        f"{node.url}/graphql",
        json={"query": VIEWER},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()
    return "errors" not in body and body["data"]["viewer"]["user"] is not None


class _Traffic:
    """Clients reading notes as the bench user, over every node, until stopped."""

    def __init__(self, nodes: list[Target], token: str, clients: int = 2) -> None:
        self._stop = threading.Event()
        self.count = 0
        self._threads = [
            threading.Thread(target=self._run, args=(nodes[i:] + nodes[:i], token))
            for i in range(clients)
        ]

    def _run(self, nodes: list[Target], token: str) -> None:
        with httpx.Client() as http:
            for node in itertools.cycle(nodes):
                if self._stop.is_set():
                    return
                http.post(
                    f"{node.url}/graphql",
                    json={"query": NOTES},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=30,
                )
                self.count += 1

    def __enter__(self) -> _Traffic:
        self._started = time.perf_counter()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self.seconds = time.perf_counter() - self._started


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main(options: Options) -> None:
    """Measure and print the revocation lag of a three-node cluster on PostgreSQL."""
    del options  # one database, one side: PostgreSQL is what has several nodes
    base = Path(tempfile.mkdtemp(prefix="bastion-bench-revocation-"))
    side = Side("now", REPO)
    lags: list[float] = []
    with ExitStack() as stack:
        url = stack.enter_context(database("postgresql"))
        config = bench_config(url, permissions=OPEN)
        root = write_project(base / "cluster", SCHEMA, config)
        create_user(side, root)
        args = [sys.executable, "-m", "bastion", "serve", str(root), "--port", "{port}"]
        nodes = [stack.enter_context(serve(f"node{i}", args, side.env(), root)) for i in range(3)]
        busy = nodes[0].login()[0]
        with httpx.Client() as http, _Traffic(nodes, busy) as traffic:
            for round_ in range(LOGOUTS):
                here, *elsewhere = nodes[round_ % NODES :] + nodes[: round_ % NODES]
                data: Any = here.post(LOGIN_BODY)["loginEmailPassword"]
                assert all(_alive(http, node, data["accessToken"]) for node in elsewhere)
                here.post({"query": LOGOUT, "variables": {"t": data["refreshToken"]}})
                told = time.perf_counter()
                for node in elsewhere:
                    while _alive(http, node, data["accessToken"]):
                        pass
                    lags.append(time.perf_counter() - told)
    ms = [lag * 1000 for lag in lags]
    print(f"\nrevocation lag, {NODES} nodes on PostgreSQL, {LOGOUTS} logouts of {EMAIL}")
    print(f"{'checks':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'mean ms':>8} {'bg req/s':>9}")
    print(
        f"{len(ms):>8} {_percentile(ms, 0.5):>8.1f} {_percentile(ms, 0.99):>8.1f} "
        f"{max(ms):>8.1f} {statistics.mean(ms):>8.1f} {traffic.count / traffic.seconds:>9.0f}"
    )
