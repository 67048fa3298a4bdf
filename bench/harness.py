"""The plumbing every suite shares: servers, databases, baselines, wrk, rounds and the table.

A suite is a list of :class:`Case` s, each measured on one or more :class:`Target` s (the code
of now, the code of a baseline ref, or a reference point such as the bare Starlette ceiling).
:func:`run_rounds` measures every case on every target in turns, round after round, so that the
machine's noise (two shared cores) falls on all of them alike; the table shows the medians of
the rounds and the ratio now/baseline. Nothing here is a test.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parent.parent
DURATION = os.environ.get("BENCH_DURATION", "10s")
SECRET = "b" * 64
METRICS_TOKEN = "bench-metrics-" + "m" * 32  # the bench servers' /metrics token
EMAIL, PASSWORD = "bench@example.com", "correct horse battery"
# The login as clients send it: the credentials as variables (a password written into the
# query text is parsed anew each time and kept in no cache: bastion.graphql.literal_secrets).
LOGIN = (
    "mutation Login($input: loginEmailPasswordInput!) "
    "{ loginEmailPassword(input: $input) { accessToken refreshToken } }"
)
LOGIN_BODY = {"query": LOGIN, "variables": {"input": {"email": EMAIL, "password": PASSWORD}}}
POSTGRES = "postgresql://root@127.0.0.1:5432"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

Metrics = dict[str, float]


# -- the code under test --------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """One version of Bastion's code: ``now`` (this tree) or a baseline checked out from a ref."""

    name: str
    code: Path

    def env(self) -> dict[str, str]:
        """The environment of this side's processes: its code first on the import path."""
        return {
            **os.environ,
            "BASTION_SECRET": SECRET,
            "BASTION_METRICS_TOKEN": METRICS_TOKEN,
            "PYTHONPATH": str(self.code),
        }

    def python(self, *args: str, stdin: str | None = None, cwd: Path | None = None) -> str:
        """Run ``python ARGS`` with this side's code; its standard output."""
        done = subprocess.run(
            [sys.executable, *args],
            input=stdin,
            text=True,
            env=self.env(),
            cwd=cwd,
            capture_output=True,
        )
        if done.returncode:
            raise RuntimeError(f"{self.name}: python {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout


@contextmanager
def baseline(ref: str) -> Iterator[Side]:
    """The code of ``ref`` in a temporary git worktree, removed afterwards."""
    where = Path(tempfile.mkdtemp(prefix="bastion-bench-ref-")) / "tree"
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(where), ref],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    try:
        side = Side(ref, where)
        found = side.python("-c", "import bastion; print(bastion.__file__)", cwd=where.parent)
        # The venv's editable install must not win over PYTHONPATH, or both columns are "now".
        assert found.strip().startswith(str(where)), f"{ref} imports bastion from {found}"
        yield side
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(where)], cwd=REPO, capture_output=True
        )
        shutil.rmtree(where.parent, ignore_errors=True)


def sides(ref: str | None, stack: ExitStack) -> list[Side]:
    """``now``, and the baseline of ``ref`` when one is asked for."""
    found = [Side("now", REPO)]
    if ref:
        found.append(stack.enter_context(baseline(ref)))
    return found


# -- databases and projects -----------------------------------------------------------------


async def _postgres(statement: str) -> None:
    import asyncpg  # only needed for --database postgresql; scripts/bench installs it

    conn = await asyncpg.connect(f"{POSTGRES}/postgres")
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def database(kind: str) -> Iterator[str]:
    """The ``database.url`` of a new, empty database of ``kind``; a PostgreSQL one is dropped
    afterwards."""
    if kind == "sqlite":
        yield "sqlite:///.bastion/data.db"
        return
    name = f"bastion_bench_{secrets.token_hex(4)}"
    asyncio.run(_postgres(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        asyncio.run(_postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def write_project(root: Path, schema: str, config: dict[str, Any]) -> Path:
    """A project folder: ``schema.graphql`` and ``bastion.yml``."""
    root.mkdir(parents=True)
    (root / "schema.graphql").write_text(schema)
    (root / "bastion.yml").write_text(
        yaml.safe_dump({"name": "bench", "app_id": "bench", **config})
    )
    return root


def bench_config(url: str, **extra: Any) -> dict[str, Any]:
    """The bench project's ``bastion.yml``: ``url``'s database, long-lived tokens, no
    throttling (this measures what a request costs, not how fast one address may try)."""
    return {
        "database": {"url": url},
        "auth": {"access_token_lifetime": 86_400, "throttle": {"enabled": False}},
        **extra,
    }


def create_user(side: Side, root: Path) -> None:
    """The bench user (EMAIL, PASSWORD) in the project at ``root``, made by the side's CLI."""
    side.python(
        *("-m", "bastion", "users", "create", "--email", EMAIL),
        *("--password-stdin", "--project", str(root)),
        stdin=PASSWORD + "\n",
        cwd=root,
    )


# -- servers --------------------------------------------------------------------------------


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Target:
    """A running server (or a reference point) that cases are measured on."""

    name: str
    url: str = ""
    pid: int = 0
    # What set-up found out and the cases need: tokens, counters.
    state: dict[str, Any] = field(default_factory=dict)

    def post(self, body: dict[str, Any], token: str | None = None) -> Any:
        """POST a GraphQL body; the JSON answer, which must have no errors."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = httpx.post(f"{self.url}/graphql", json=body, headers=headers, timeout=60).json()
        assert "errors" not in answer, f"{self.name}: {answer}"
        return answer["data"]

    def samples(self, *names: str) -> dict[str, float]:
        """The values of the unlabelled samples ``names`` on the server's ``/metrics``, read in
        one scrape; a name it has not (a baseline from before the metric) is left out."""
        answer = httpx.get(
            f"{self.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        )
        answer.raise_for_status()
        return {
            found.name: float(found.value)
            for family in text_string_to_metric_families(answer.text)
            for found in family.samples
            if found.name in names and not found.labels
        }

    def login(self) -> tuple[str, str]:
        """A new session of the bench user: (access token, refresh token)."""
        data = self.post(LOGIN_BODY)["loginEmailPassword"]
        return data["accessToken"], data["refreshToken"]


@contextmanager
def serve(name: str, args: list[str], env: dict[str, str], cwd: Path) -> Iterator[Target]:
    """Start a server process on a free port (``{port}`` in ``args``), wait until it answers
    GraphQL, stop it afterwards. Its output goes to ``server.log`` in ``cwd``."""
    port = free_port()
    log_path = cwd / "server.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [a.format(port=port) for a in args], env=env, cwd=cwd, stdout=log, stderr=log
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited:\n{log_path.read_text()[-3000:]}")
            try:
                httpx.post(f"{url}/graphql", json={"query": "{__typename}"}, timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield Target(name, url, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def serve_project(side: Side, root: Path, workers: int = 1) -> Iterator[Target]:
    """``bastion serve`` of the project at ``root`` with ``side``'s code, in ``workers``
    processes (the flag is left out for one, so that older baselines run too)."""
    args = [sys.executable, "-m", "bastion", "serve", str(root), "--port", "{port}"]
    if workers > 1:
        args += ["--workers", str(workers)]
    return serve(side.name, args, side.env(), root)


def serve_ceiling(
    stack: ExitStack, bastion_protocol: bool = False, hashing: bool = False
) -> Target:
    """The bare Starlette endpoint of ``bench/ceiling.py``, named ``ceiling``; on ``bastion
    serve``'s uvicorn protocol (this tree's), named ``ceiling/bastion``, with
    ``bastion_protocol``; behind one argon2id verification per request, named
    ``ceiling/hash``, with ``hashing``."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [sys.executable, "-m", "bench.ceiling", "{port}"]
    if bastion_protocol:
        args.append("--bastion-protocol")
    if hashing:
        args.append("--hash")
    name = "ceiling/hash" if hashing else "ceiling/bastion" if bastion_protocol else "ceiling"
    workdir = Path(tempfile.mkdtemp(prefix="bastion-bench-ceiling-"))
    return stack.enter_context(serve(name, args, env, workdir))


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process and its live children (``--workers``) have used so
    far (Linux ``/proc/PID/stat``)."""
    total = 0.0
    for each in (pid, *_children(pid)):
        try:
            text = Path(f"/proc/{each}/stat").read_text()
        except FileNotFoundError:
            continue  # ended meanwhile
        # The command name (field 2) may hold spaces; utime and stime are fields 14 and 15.
        fields = text[text.rindex(")") + 2 :].split()
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


# -- wrk ------------------------------------------------------------------------------------


def lua_string(value: str) -> str:
    """A Lua string literal (JSON's escapes are Lua's for what we write)."""
    return json.dumps(value)


def post_script(body: dict[str, Any], token: str | None = None) -> str:
    """A wrk script sending one constant POST to /graphql."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    lines = ["wrk.method = 'POST'", f"wrk.body = {lua_string(json.dumps(body))}"]
    lines += [f"wrk.headers[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items()]
    return "\n".join(lines) + "\n"


# Appended to scripts that count what they see: each thread's ``counts`` table, merged and
# printed by ``done`` as one JSON line that :func:`wrk` reads. A script without a ``response``
# of its own gets one that counts errors (reading every answer costs wrk some CPU: the read
# suite checks its answers once before measuring instead).
COUNTS_LUA = """
counts = {}
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  if thread_setup then thread_setup(thread, #threads) end
end
function count(key)
  counts[key] = (counts[key] or 0) + 1
end
function count_errors(status, body)
  if status < 200 or status > 299 then count("http " .. status) end
  if body:find('"errors"', 1, true) then
    local seen = false
    for code in body:gmatch('"code"%s*:%s*"([%w_]+)"') do count(code); seen = true end
    if not seen then count("error without code") end
  end
end
if not response then
  function response(status, headers, body) count_errors(status, body) end
end
function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    for key, value in pairs(thread:get("counts")) do merged[key] = (merged[key] or 0) + value end
  end
  local parts = {}
  for key, value in pairs(merged) do
    table.insert(parts, string.format("%q:%d", key, value))
  end
  io.write("BENCH_COUNTS {" .. table.concat(parts, ",") .. "}\\n")
end
"""


@dataclass
class WrkResult:
    """What one wrk run measured."""

    rps: float
    mean: float
    p50: float
    p99: float
    requests: int
    non2xx: int
    socket_errors: int
    counts: dict[str, int]


_MS_PER_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}  # wrk's units of a duration


def _duration_ms(out: str, line: str) -> float:
    """The duration in ms that ``line`` (a pattern: value and unit as its two groups) finds."""
    match = re.search(line, out, re.M)
    assert match, out
    return float(match[1]) * _MS_PER_UNIT[match[2]]


def _ms(out: str, pct: str) -> float:
    return _duration_ms(out, rf"^\s*{pct}%\s+([\d.]+)(us|ms|s)\s*$")


def _mean_ms(out: str) -> float:
    return _duration_ms(out, r"^\s*Latency\s+([\d.]+)(us|ms|s)\s")


def wrk(
    url: str, script: str, connections: int, duration: str = DURATION, path: str = "/graphql"
) -> WrkResult:
    """Run wrk with a Lua script; requests/s, p50/p99 in ms, counts of errors."""
    threads = min(2, connections)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script)
    try:
        out = subprocess.run(
            [
                *("wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}"),
                *("--timeout", "30s", "--latency", "-s", lua.name, f"{url}{path}"),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(lua.name)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    requests = re.search(r"(\d+) requests in", out)
    assert rps and requests, out
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    counts = re.search(r"^BENCH_COUNTS (.*)$", out, re.M)
    return WrkResult(
        rps=float(rps[1]),
        mean=_mean_ms(out),
        p50=_ms(out, "50"),
        p99=_ms(out, "99"),
        requests=int(requests[1]),
        non2xx=int(non2xx[1]) if non2xx else 0,
        socket_errors=sum(int(n) for n in sockets.groups()) if sockets else 0,
        counts=json.loads(counts[1]) if counts else {},
    )


def load(
    target: Target, script: str, connections: int, items: int = 1, strict: bool = True
) -> tuple[Metrics, WrkResult]:
    """wrk against ``target`` with the server's CPU time read around it.

    ``cpu_us`` is server CPU (user + system, all threads) per request, ``cpu_us_item`` the
    same divided by ``items`` (the list items a request returns). ``strict`` refuses any
    non-2xx answer or socket error (a read benchmark measuring errors measures nothing).
    """
    before = cpu_seconds(target.pid) if target.pid else 0.0
    result = wrk(target.url, script, connections)
    used = cpu_seconds(target.pid) - before if target.pid else 0.0
    if strict and (result.non2xx or result.socket_errors):
        raise RuntimeError(f"{target.name}: wrk saw errors: {result}")
    metrics = {"req/s": result.rps, "p50 ms": result.p50, "p99 ms": result.p99}
    if target.pid and result.requests:
        metrics["cpu µs/req"] = used / result.requests * 1e6
        if items > 1:
            metrics["cpu µs/item"] = used / (result.requests * items) * 1e6
    return metrics, result


# -- rounds and the table -------------------------------------------------------------------


@dataclass
class Case:
    """One measurement, taken on each of ``targets`` in every round."""

    name: str
    targets: list[str]
    measure: Callable[[Target], Metrics]
    # False for cases a suite prints its own way (the read suite's depth-by-N grid).
    in_table: bool = True


@dataclass
class Ratio:
    """A figure derived in each round from two cases' metrics: ``case.metric`` of a side over
    (or, with ``inverse``, under) ``reference_case.reference_metric`` of ``reference``; with
    ``difference``, the one minus the other (an overhead in the metric's own unit). With
    ``own``, ``case`` is measured on that target, not on a side: a ratio of two reference
    points, the same in every side's column. An empty ``reference`` is the side itself: two
    metrics of one side's cases."""

    name: str
    case: str
    metric: str
    reference_case: str
    reference: str
    reference_metric: str
    target: str = ""
    inverse: bool = False
    difference: bool = False
    own: str = ""


Runs = dict[str, dict[str, list[Metrics]]]  # case -> target -> one Metrics per round


def run_rounds(cases: list[Case], targets: dict[str, Target], rounds: int) -> Runs:
    """Every case on every one of its targets, in turns, ``rounds`` times.

    The order of the cases and of each case's targets alternates from round to round (now,
    ref; ref, now; ...), so that no case and no target always runs right after another: on
    this machine a round slows as it goes on, so a fixed order would favour whatever runs
    first. An even number of rounds balances it.
    """
    runs: Runs = {case.name: {t: [] for t in case.targets} for case in cases}
    for number in range(rounds):
        for case in cases if number % 2 == 0 else cases[::-1]:
            order = case.targets if number % 2 == 0 else case.targets[::-1]
            for name in order:
                print(f"  round {number + 1}/{rounds}: {case.name} on {name}", file=sys.stderr)
                runs[case.name][name].append(case.measure(targets[name]))
    return runs


def median(values: list[float]) -> float:
    """The median, or NaN for none."""
    return statistics.median(values) if values else float("nan")


def medians(runs: list[Metrics]) -> Metrics:
    """The median of each metric over the rounds."""
    keys = dict.fromkeys(k for run in runs for k in run)
    return {k: median([run[k] for run in runs if k in run]) for k in keys}


def ratios(runs: Runs, ratio: Ratio, side: str) -> list[float]:
    """``ratio`` for ``side`` in each round (the reference measured in that same round)."""
    mine = runs.get(ratio.case, {}).get(ratio.own or side, [])
    theirs = runs.get(ratio.reference_case, {}).get(ratio.reference or side, [])
    found = []
    for own, ref in zip(mine, theirs, strict=False):
        a, b = own.get(ratio.metric), ref.get(ratio.reference_metric)
        if a and b:
            found.append(a - b if ratio.difference else b / a if ratio.inverse else a / b)
    return found


def _number(value: float) -> str:
    value = float(value)  # the median of counts is an int
    if value != value:  # NaN
        return "-"
    if value.is_integer() or abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.2f}"


def report(
    title: str,
    cases: list[Case],
    runs: Runs,
    side_names: list[str],
    derived: list[Ratio],
) -> dict[str, Any]:
    """Print the table of medians (and ratio now/baseline) and the derived ratios; return all
    of it, each round included, for ``--json``."""
    print(f"\n{title}")
    columns = [*side_names, f"now/{side_names[1]}"] if len(side_names) > 1 else side_names
    print(f"{'case':42} {'metric':26}" + "".join(f" {c:>12}" for c in columns))
    out: dict[str, Any] = {"title": title, "cases": {}, "ratios": {}}
    for case in cases:
        found = {t: medians(runs[case.name][t]) for t in case.targets}
        out["cases"][case.name] = {
            t: {"rounds": runs[case.name][t], "median": found[t]} for t in case.targets
        }
        if not case.in_table:
            continue
        label = case.name
        keys = dict.fromkeys(k for m in found.values() for k in m)
        for key in keys:
            if case.targets[0] not in side_names:
                # A reference point (the ceiling, the hasher): one value, in the first column.
                values = [found[case.targets[0]].get(key, float("nan"))]
            else:
                values = [found.get(s, {}).get(key, float("nan")) for s in side_names]
                if len(side_names) > 1:
                    values.append(values[0] / values[1] if values[1] else float("nan"))
            print(f"{label:42} {key:26}" + "".join(f" {_number(v):>12}" for v in values))
            label = ""
    if derived:
        print()
        for ratio in derived:
            values = [median(ratios(runs, ratio, s)) for s in side_names]
            out["ratios"][ratio.name] = dict(zip(side_names, values, strict=True))
            text = "".join(f" {_number(v):>12}" for v in values)
            print(f"{ratio.name:69}{text}   {ratio.target}")
    return out


@dataclass
class Options:
    """The command line every suite takes."""

    baseline: str | None
    rounds: int
    databases: list[str]
    json_path: Path | None
    only: str | None
    workers: list[int] = field(default_factory=lambda: [1])

    def selected(self, cases: list[Case]) -> list[Case]:
        """The cases whose name contains ``--only`` (one of its ``|``-separated texts; all
        cases without it)."""
        if not self.only:
            return cases
        texts = self.only.split("|")
        return [c for c in cases if any(t in c.name for t in texts) or c.targets[0] not in ("now",)]


def heading(suite: str, database_kind: str, options: Options, workers: int = 1) -> str:
    """The line above a table: what, where, in how many processes, how long, how many rounds."""
    ref = f", baseline {options.baseline}" if options.baseline else ""
    processes = f", {workers} workers" if workers > 1 else ", 1 worker"
    return (
        f"{suite} on {database_kind}{processes}: medians of {options.rounds} interleaved "
        f"rounds of {DURATION} each{ref}"
    )
