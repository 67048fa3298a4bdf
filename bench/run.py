"""Benchmarks of real ``bastion serve`` processes, driven by wrk from another process.

``scripts/bench [reads|writes|limits|revocation|cpu|all] [--baseline REF] [--rounds N]
[--database sqlite|postgresql|both] [--workers 1,2] [--only TEXT] [--json FILE]``

- ``reads`` (issue 16): lists with relations, depth and size, the viewer query against the bare
  Starlette ceiling; see :mod:`bench.reads`.
- ``writes`` (issue 17): refreshes, mutations, logins against argon2id alone; see
  :mod:`bench.writes`.
- ``limits``: the GraphQL request limits on against off; see :mod:`bench.limits`.
- ``revocation``: how late a logout is refused by the other nodes of a three-node cluster on
  PostgreSQL (p50, p99, max); see :mod:`bench.revocation`.
- ``cpu`` (issue 17): the server's CPU per refresh and per login, in-process; see
  :mod:`bench.cpu`.
- ``all`` (the default): reads, then writes.

``--workers 1,2`` measures each database with ``bastion serve --workers 1``, then ``2`` (the
server's CPU time counts every worker process).

``--baseline REF`` serves the same project with the code of a git ref (checked out into a
temporary worktree, run with this venv) beside this tree's, so that every row shows "now", the
ref and their ratio. Each case runs on each side in turns, ``--rounds`` times (4 by default),
and the table shows the medians: these machines are shared and noisy, so ratios of interleaved
medians matter more than absolutes. Keep the count even: the sides take turns at going first,
and so do the cases (a round runs them forwards, the next backwards); an odd count lets one go
first more often, so that a drift of the machine during the run (they are seconds long and the
machine's speed moves by several percent over minutes, and slows as a round goes on) weighs on
one side, or on a case against its reference, more than the other. ``BENCH_DURATION`` (default
``10s``) is the length of each wrk run. Nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench import reads, writes
from bench.harness import Options, sides


def parse(argv: list[str]) -> tuple[str, Options]:
    """The suite and the options of a command line."""
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "suite",
        nargs="?",
        default="all",
        choices=["reads", "writes", "limits", "revocation", "cpu", "all"],
    )
    parser.add_argument("--baseline", metavar="REF", help="a git ref to measure beside this tree")
    parser.add_argument(
        "--rounds", type=int, default=4, help="interleaved rounds, best even (default 4)"
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument(
        "--only", metavar="TEXT", help="only the cases whose name holds TEXT (or A|B: either)"
    )
    parser.add_argument(
        "--workers",
        default="1",
        metavar="N[,N...]",
        help="serve with these numbers of worker processes, each in turn (default 1)",
    )
    parser.add_argument("--json", metavar="FILE", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    databases = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    workers = [int(n) for n in args.workers.split(",")]
    if args.baseline and args.rounds % 2:
        print(
            f"note: {args.rounds} rounds let one side go first more often than the other; "
            "an even count balances them",
            file=sys.stderr,
        )
    options = Options(args.baseline, args.rounds, databases, args.json, args.only, workers)
    return args.suite, options


def main(argv: list[str]) -> None:
    """Run the suites asked for; print their tables, and write the JSON when asked."""
    suite, options = parse(argv)
    if suite == "revocation":
        from bench import revocation

        revocation.main(options)
        return
    if suite == "limits":
        from bench import limits

        limits.main(options)
        return
    if suite == "cpu":
        from bench import cpu

        with ExitStack() as stack:
            results = cpu.run(options, sides(options.baseline, stack))
        if options.json_path:
            options.json_path.write_text(json.dumps(results, indent=2, ensure_ascii=False))
        return
    base = Path(tempfile.mkdtemp(prefix="bastion-bench-"))
    results: list[dict[str, Any]] = []
    with ExitStack() as stack:
        measured = sides(options.baseline, stack)
        if suite in ("reads", "all"):
            results += reads.run(options, base, measured)
        if suite in ("writes", "all"):
            results += writes.run(options, base, measured)
    if options.json_path:
        options.json_path.write_text(json.dumps(results, indent=2, ensure_ascii=False))
        print(f"\nwrote {options.json_path}")


if __name__ == "__main__":
    main(sys.argv[1:])
