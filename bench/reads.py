"""Reads (issue 16): lists with relations, the viewer query, and how cost grows.

The project: ``Movie.director: Person``, ``Person.agency: Agency``, ``Agency.city: City``, each
read open to everyone; 1000 movies by 250 directors in 25 agencies in 5 cities, created through
GraphQL by the bench user. The cases:

- ``{ movies(first: 100) { title year director { name } } }``, authenticated, 32 connections:
  requests/s, p50, p99 and the server's CPU per list item;
- the same with ``first: 1000`` at 1 connection (latency);
- relation depth 1, 2, 3 (director; director.agency; director.agency.city) by N = 10, 100,
  1000 items at 8 connections: requests/s and CPU per item;
- ``{ viewer { user { id email } } }`` at 32 connections, against the bare Starlette ceiling
  measured in the same rounds (the target's reference: uvicorn's own protocol), and against
  the same endpoint on ``bastion serve``'s protocol (like for like: what Bastion's app costs).
"""

from __future__ import annotations

from contextlib import ExitStack
from functools import partial
from math import nan
from pathlib import Path
from typing import Any

from bench.harness import (
    Case,
    Metrics,
    Options,
    Ratio,
    Runs,
    Side,
    Target,
    bench_config,
    create_user,
    database,
    heading,
    load,
    medians,
    post_script,
    report,
    run_rounds,
    serve_ceiling,
    serve_project,
    write_project,
)

SCHEMA = """\
type Movie { title: String! @unique year: Int director: Person }
type Person { name: String! @unique movies: [Movie!]! agency: Agency }
type Agency { name: String! @unique people: [Person!]! city: City }
type City { name: String! @unique agencies: [Agency!]! }
"""
PERMISSIONS = {
    name: {"read": "everyone", "create": "authenticated"}
    for name in ("Movie", "Person", "Agency", "City")
}
CITIES, AGENCIES, PEOPLE, MOVIES = 5, 5, 10, 4  # per parent: 5 * 5 * 10 * 4 = 1000 movies
VIEWER = "{ viewer { user { id email } } }"
SEED = "mutation Seed($city: CityCreateInput!) { createCity(data: $city) { id } }"
# The selection under `director` at each relation depth.
DIRECTOR = {
    1: "director { name }",
    2: "director { name agency { name } }",
    3: "director { name agency { name city { name } } }",
}


def movies(first: int, depth: int = 1) -> str:
    """The list query: ``first`` movies with ``depth`` levels of relations."""
    return f"{{ movies(first: {first}) {{ title year {DIRECTOR[depth]} }} }}"


def city(c: int) -> dict[str, Any]:
    """The seed of city ``c``: its agencies, their people and their movies."""

    def person(a: int, p: int) -> dict[str, Any]:
        name = f"Director {c}-{a}-{p}"
        films = [
            {"title": f"Movie {c}-{a}-{p}-{m}", "year": 1950 + (a * PEOPLE + p + m) % 70}
            for m in range(MOVIES)
        ]
        return {"name": name, "movies": {"create": films}}

    agencies = [
        {"name": f"Agency {c}-{a}", "people": {"create": [person(a, p) for p in range(PEOPLE)]}}
        for a in range(AGENCIES)
    ]
    return {"name": f"City {c}", "agencies": {"create": agencies}}


def prepare(target: Target) -> None:
    """Log in, seed the movies, and check every query answers what it should."""
    token, _refresh = target.login()
    target.state["token"] = token
    for c in range(CITIES):
        target.post({"query": SEED, "variables": {"city": city(c)}}, token)
    viewer = target.post({"query": VIEWER}, token)
    assert viewer["viewer"]["user"]["email"], viewer
    for depth in DIRECTOR:
        found = target.post({"query": movies(1000, depth)}, token)["movies"]
        assert len(found) == 1000, len(found)
        leaf = found[-1]["director"]
        for key in ("agency", "city")[: depth - 1]:
            leaf = leaf[key]
        assert leaf["name"], found[-1]


def _grid_name(depth: int, first: int) -> str:
    return f"depth {depth}, N = {first}, 8 conns"


def _measure(query: str, connections: int, items: int, target: Target) -> Metrics:
    script = post_script({"query": query}, target.state.get("token"))
    metrics, _ = load(target, script, connections, items)
    return metrics


def cases(side_names: list[str]) -> list[Case]:
    """Every read case, in the order of the table."""
    found = [
        Case(
            "movies(first: 100) + director, 32 conns",
            side_names,
            partial(_measure, movies(100), 32, 100),
        ),
        Case(
            "movies(first: 1000) + director, 1 conn",
            side_names,
            partial(_measure, movies(1000), 1, 1000),
        ),
    ]
    for depth in DIRECTOR:
        for first in (10, 100, 1000):
            found.append(
                Case(
                    _grid_name(depth, first),
                    side_names,
                    partial(_measure, movies(first, depth), 8, first),
                    in_table=False,
                )
            )
    found.append(
        Case("ceiling: bare Starlette, 32 conns", ["ceiling"], partial(_measure, VIEWER, 32, 1))
    )
    found.append(
        Case(
            "ceiling on Bastion's protocol, 32 conns",
            ["ceiling/bastion"],
            partial(_measure, VIEWER, 32, 1),
        )
    )
    found.append(
        Case("viewer { user { id email } }, 32 conns", side_names, partial(_measure, VIEWER, 32, 1))
    )
    return found


RATIOS = [
    Ratio(
        "viewer / ceiling req/s",
        "viewer { user { id email } }, 32 conns",
        "req/s",
        "ceiling: bare Starlette, 32 conns",
        "ceiling",
        "req/s",
        target="(target >= 0.5)",
    ),
    Ratio(
        "viewer / ceiling on Bastion's protocol req/s",
        "viewer { user { id email } }, 32 conns",
        "req/s",
        "ceiling on Bastion's protocol, 32 conns",
        "ceiling/bastion",
        "req/s",
        target="(like for like)",
    ),
]


def print_grid(runs: Runs, side_names: list[str]) -> None:
    """The depth-by-N cases as a grid: req/s and server CPU µs per item, medians."""
    sizes = (10, 100, 1000)
    print("\ndepth x N, 8 conns: req/s and server CPU µs/item (medians)")
    print(f"{'':24}" + "".join(f" {'N = ' + str(n):>22}" for n in sizes))
    for depth in DIRECTOR:
        for side in side_names:
            cells = []
            for first in sizes:
                found = medians(runs.get(_grid_name(depth, first), {}).get(side, []))
                rps, per_item = found.get("req/s", nan), found.get("cpu µs/item", nan)
                cells.append(f"{rps:9.1f} /{per_item:7.1f} µs")
            print(f"{f'depth {depth}, {side}':24}" + "".join(f" {c:>22}" for c in cells))


def run(options: Options, base: Path, sides: list[Side]) -> list[dict[str, Any]]:
    """The read suite on each database of ``options``; what :func:`report` returned for each."""
    names = [s.name for s in sides]
    results = []
    for kind, workers in [(k, w) for k in options.databases for w in options.workers]:
        with ExitStack() as stack:
            targets: dict[str, Target] = {
                "ceiling": serve_ceiling(stack),
                "ceiling/bastion": serve_ceiling(stack, bastion_protocol=True),
            }
            for side in sides:
                url = stack.enter_context(database(kind))
                config = bench_config(url, permissions=PERMISSIONS)
                root = write_project(
                    base / f"reads-{kind}-{workers}-{side.name.replace('/', '_')}", SCHEMA, config
                )
                create_user(side, root)
                targets[side.name] = stack.enter_context(serve_project(side, root, workers))
                prepare(targets[side.name])
            selected = options.selected(cases(names))
            runs = run_rounds(selected, targets, options.rounds)
            results.append(
                report(heading("reads", kind, options, workers), selected, runs, names, RATIOS)
            )
            if any(not case.in_table for case in selected):
                print_grid(runs, names)
    return results
