"""What the GraphQL request limits cost: the authenticated ``{ viewer { user { id email } } }``
against two ``bastion serve`` processes of the same model, one with the default limits and one
with every ``graphql:`` limit turned off (``null``).

The two are measured in turns (on, off, on, off, ...) in one run, so that the machine's noise
falls on both alike; the table shows each round and the medians, and the ratio of the medians
is the figure (the target: the limits cost under 5 % of throughput). Run with
``scripts/bench limits`` (``--rounds N``, ``--json FILE``). Nothing here is a test.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.harness import (
    EMAIL,
    REPO,
    Options,
    Side,
    Target,
    bench_config,
    create_user,
    post_script,
    serve_project,
    write_project,
    wrk,
)

SCHEMA = "type Movie { title: String! @unique year: Int }\n"
VIEWER = "{ viewer { user { id email } } }"
OFF = dict.fromkeys(("max_depth", "max_aliases", "max_tokens", "max_directives", "max_cost"))


def login(target: Target) -> str:
    """The bench user's access token, checked on the viewer query."""
    token, _ = target.login()
    me = target.post({"query": VIEWER}, token)
    assert me["viewer"]["user"]["email"] == EMAIL, me
    return token


def main(options: Options) -> None:
    """Measure, print the rounds, the medians and the ratio."""
    base = Path(tempfile.mkdtemp(prefix="bastion-bench-limits-"))
    side = Side("now", REPO)
    url = "sqlite:///.bastion/data.db"
    roots = {
        "limits on": write_project(base / "on", SCHEMA, bench_config(url)),
        "limits off": write_project(base / "off", SCHEMA, bench_config(url, graphql=OFF)),
    }
    results: dict[str, list[dict[str, float]]] = {name: [] for name in roots}
    body = {"query": VIEWER}
    with ExitStack() as stack:
        targets: dict[str, Target] = {}
        for name, root in roots.items():
            create_user(side, root)
            targets[name] = stack.enter_context(serve_project(side, root))
            targets[name].state["token"] = login(targets[name])
        for _ in range(options.rounds):
            for name, target in targets.items():
                result = wrk(target.url, post_script(body, target.state["token"]), 32)
                results[name].append({"rps": result.rps, "p50": result.p50, "p99": result.p99})
    print(f"{'viewer query, 32 conns':22} {'round':>5} {'req/s':>10} {'p50 ms':>9} {'p99 ms':>9}")
    for name, rows in results.items():
        for number, row in enumerate(rows, 1):
            print(f"{name:22} {number:5} {row['rps']:10.1f} {row['p50']:9.2f} {row['p99']:9.2f}")
    medians = {name: statistics.median(r["rps"] for r in rows) for name, rows in results.items()}
    for name, value in medians.items():
        print(f"{name + ' median':22} {'':5} {value:10.1f}")
    lost = 1 - medians["limits on"] / medians["limits off"]
    print(f"\nthroughput lost to the limits: {lost:.1%} of the limits-off median (target < 5 %)")
    if options.json_path:
        out: dict[str, Any] = {"rounds": results, "medians": medians, "lost": lost}
        options.json_path.write_text(json.dumps(out, indent=2))
