"""What the GraphQL request limits cost: the authenticated ``{ viewer { user { id email } } }``
against two ``bastion serve`` processes of the same model, one with the default limits and one
with every ``graphql:`` limit turned off (``null``).

The two are measured in turns (on, off, on, off, ...) in one run, so that the machine's noise
falls on both alike; the table shows each round and the medians, and the ratio of the medians
is the figure (the target: the limits cost under 5 % of throughput). Run with
``scripts/bench limits``. Nothing here is a test.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.run import (
    EMAIL,
    LOGIN,
    SCHEMA,
    VIEWER,
    create_user,
    free_port,
    process,
    serve_command,
    wrk,
)

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
OFF = dict.fromkeys(("max_depth", "max_aliases", "max_tokens", "max_directives", "max_cost"))


def project(root: Path, graphql: dict[str, Any]) -> Path:
    """A project folder with the bench schema and these limits."""
    root.mkdir(parents=True)
    (root / "schema.graphql").write_text(SCHEMA)
    config = {
        "name": "bench",
        "app_id": "bench",
        "auth": {"access_token_lifetime": 86_400},  # no token expires during the run
        "graphql": graphql,
    }
    (root / "bastion.yml").write_text(yaml.safe_dump(config))
    return root


def login(url: str) -> str:
    """The bench user's access token, checked on the viewer query."""
    token: str = httpx.post(f"{url}/graphql", json={"query": LOGIN}).json()["data"][
        "loginEmailPassword"
    ]["accessToken"]
    me = httpx.post(
        f"{url}/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert me["data"]["viewer"]["user"]["email"] == EMAIL, me
    return token


def main() -> None:
    """Measure, print the rounds, the medians and the ratio."""
    base = Path(tempfile.mkdtemp(prefix="bastion-bench-limits-"))
    env = {**os.environ, "BASTION_SECRET": "b" * 64}
    roots = {"limits on": project(base / "on", {}), "limits off": project(base / "off", OFF)}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in roots}
    body = json.dumps({"query": VIEWER})
    with ExitStack() as stack:
        urls, tokens = {}, {}
        for name, root in roots.items():
            create_user(root, env)
            port = free_port()
            urls[name] = stack.enter_context(process(serve_command(root, port), port, env, root))
            tokens[name] = login(urls[name])
        for _ in range(ROUNDS):
            for name, url in urls.items():
                results[name].append(wrk(url, body, 32, tokens[name]))
    print(f"{'viewer query, 32 conns':22} {'round':>5} {'req/s':>10} {'p50 ms':>9} {'p99 ms':>9}")
    for name, rows in results.items():
        for number, row in enumerate(rows, 1):
            print(f"{name:22} {number:5} {row['rps']:10.1f} {row['p50']:9.2f} {row['p99']:9.2f}")
    medians = {name: statistics.median(r["rps"] for r in rows) for name, rows in results.items()}
    for name, value in medians.items():
        print(f"{name + ' median':22} {'':5} {value:10.1f}")
    lost = 1 - medians["limits on"] / medians["limits off"]
    print(f"\nthroughput lost to the limits: {lost:.1%} of the limits-off median (target < 5 %)")


if __name__ == "__main__":
    main()
