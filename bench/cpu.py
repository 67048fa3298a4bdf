"""CPU per refresh, login and createMovie, this tree against a baseline ref, in interleaved rounds.

``scripts/bench cpu [--baseline REF] [--rounds N] [--database sqlite|postgresql|both]
[--only refresh|login|create]`` runs :mod:`bench.inprocess` in a fresh process for each side in
turns (now, ref; ref, now; ...) and prints the medians of the rounds and their ratio: the
server's own CPU per request, without sockets, HTTP parsing or a client sharing the machine's
two cores. Nothing here is a test.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

from bench.harness import Options, Side

SCRIPT = Path(__file__).resolve().with_name("inprocess.py")
# (case, its arguments): refreshes from 8 chains at once, logins one at a time, creates from
# 50 writers at once.
CASES = [
    ("refresh, 8 chains", ["refresh", "--requests", "2000", "--concurrency", "8"]),
    ("login, 1 at a time", ["login", "--requests", "60", "--concurrency", "1"]),
    ("createMovie, 50 writers", ["create", "--requests", "2000", "--concurrency", "50"]),
]


def _once(side: Side, args: list[str]) -> dict[str, float]:
    # This tree's script with the side's code first on the import path: its `bastion`, and its
    # `bench` helpers (a baseline's tree holds bench/harness.py and bench/writes.py). Run by
    # runpy, which puts no bench/ folder on the path (its limits.py would hide the library).
    run = f"import runpy; runpy.run_path({str(SCRIPT)!r}, run_name='__main__')"
    out = side.python("-c", run, *args, cwd=side.code)
    found: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return found


def run(options: Options, sides: list[Side]) -> list[dict[str, Any]]:
    """Every case on every side, in turns; the table of medians for each database."""
    results = []
    for kind in options.databases:
        cases = [c for c in CASES if not options.only or options.only in c[0]]
        runs: dict[str, dict[str, list[dict[str, float]]]] = {
            name: {s.name: [] for s in sides} for name, _ in cases
        }
        for number in range(options.rounds):
            order = sides if number % 2 == 0 else sides[::-1]
            for name, args in cases:
                for side in order:
                    print(
                        f"  round {number + 1}/{options.rounds}: {name} on {side.name}",
                        file=sys.stderr,
                    )
                    runs[name][side.name].append(_once(side, [*args, "--database", kind]))
        print(f"\ncpu on {kind}: medians of {options.rounds} interleaved rounds, in-process")
        names = [s.name for s in sides]
        columns = [*names, f"now/{names[1]}"] if len(names) > 1 else names
        print(f"{'case':24} {'metric':14}" + "".join(f" {c:>12}" for c in columns))
        table: dict[str, Any] = {}
        for name, _ in cases:
            label = name
            for metric in ("cpu_us", "loop_cpu_us", "wall_us"):
                values = [statistics.median(r[metric] for r in runs[name][n]) for n in names]
                if len(values) > 1:
                    values.append(values[0] / values[1])
                table.setdefault(name, {})[metric] = values
                cells = "".join(f" {v:>12.2f}" if v < 10 else f" {v:>12.0f}" for v in values)
                print(f"{label:24} {metric:14}{cells}")
                label = ""
        results.append({"title": f"cpu on {kind}", "cases": table, "rounds": runs})
    return results
