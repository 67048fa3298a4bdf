"""Writes (issue 17): refreshes, mutations and logins under load, beside what the machine allows.

- ``refreshToken`` at 8 connections. Each refresh token is good once, so the wrk script chains
  them: set-up logs in once per connection and hands each wrk thread its share of refresh
  tokens; every answer's new refresh token goes back to the thread's pool, and the next request
  takes one from it. The client does a pattern match per answer; the server does the work.
- ``createMovie`` with 50 concurrent writers, each title unique (a per-thread counter under a
  per-run prefix); non-2xx answers and GraphQL errors are counted by code from the answers.
- A login at 1 connection against one argon2id verification with the same parameters, and
  logins at 4 connections against the machine's hash-only throughput (two processes hashing,
  one per core), both reference points measured in the same rounds. The login at 1 connection
  is also given as its overhead in milliseconds (login p50 minus the verify), which the
  verify's own drift between runs moves less than the ratio. Beside it, the login ceiling: a
  bare Starlette endpoint whose every request waits for one verify on a thread
  (``bench/ceiling.py --hash``), at 1 connection too. Its p50 over the verify is the floor of
  the first ratio on this machine (HTTP, the thread's hand-offs, the cores waking), and the
  login's p50 over its p50 is Bastion's own share, like for like. Last, the login's mean
  latency over the mean of its own verifications, timed on the server's hashing thread
  (``bastion_password_hash_seconds`` on ``/metrics``, read around the run): numerator and
  denominator from the same requests in the same process, so neither the verify's drift
  between processes nor between minutes moves it.
"""

from __future__ import annotations

import json
import secrets
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher, Type

from bench.harness import (
    COUNTS_LUA,
    LOGIN_BODY,
    PASSWORD,
    Case,
    Metrics,
    Options,
    Ratio,
    Side,
    Target,
    bench_config,
    create_user,
    database,
    heading,
    load,
    lua_string,
    post_script,
    report,
    run_rounds,
    serve_ceiling,
    serve_project,
    write_project,
)

SCHEMA = "type Movie { title: String! @unique year: Int }\n"
PERMISSIONS = {"Movie": {"read": "everyone", "create": "authenticated"}}
REFRESH = (
    "mutation Refresh($input: refreshTokenInput!) "
    "{ refreshToken(input: $input) { accessToken refreshToken } }"
)
CREATE = (
    "mutation Create($title: String!) { createMovie(data: {title: $title, year: 2000}) { id } }"
)
REFRESH_CONNECTIONS, WRITERS = 8, 50
LOGIN_CEILING = "login ceiling: Starlette + one verify, 1 conn"
# Bastion's default password hashing (auth/passwords.py): argon2id, 19 MiB, 2 passes, 1 lane.
HASHER = {"time_cost": 2, "memory_cost": 19_456, "parallelism": 1, "type": Type.ID}

REFRESH_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local query = QUERY
local all_tokens = TOKENS
local per_thread = PER_THREAD
local pool = {}
function thread_setup(thread, number)
  -- wrk calls request() once on its first thread before the run to check the script: the
  -- token that call takes is never sent, so the first thread gets one spare.
  local first = number == 1 and 1 or (number - 1) * per_thread + 2
  local last = number * per_thread + 1
  local mine = {}
  for i = first, last do table.insert(mine, all_tokens[i]) end
  thread:set("initial", table.concat(mine, " "))
end
function init(args)
  for token in initial:gmatch("%S+") do table.insert(pool, token) end
end
function request()
  -- Never empty: a connection's answer refills the pool before it sends again.
  local token = table.remove(pool) or "exhausted"
  local body = '{"query":' .. query .. ',"variables":{"input":{"refreshToken":"' .. token .. '"}}}'
  return wrk.format(nil, nil, nil, body)
end
function response(status, headers, body)
  local token = body:match('"refreshToken"%s*:%s*"([^"]+)"')
  if token then table.insert(pool, token) end
  count_errors(status, body)
end
"""

CREATE_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = AUTHORIZATION
local query = QUERY
local prefix = PREFIX
local n = 0
function thread_setup(thread, number)
  thread:set("thread_number", number)
end
function request()
  n = n + 1
  local title = prefix .. "-" .. thread_number .. "-" .. n
  local body = '{"query":' .. query .. ',"variables":{"title":"' .. title .. '"}}'
  return wrk.format(nil, nil, nil, body)
end
function response(status, headers, body)
  count_errors(status, body)
end
"""


def _fill(template: str, **values: str) -> str:
    for key, value in values.items():
        template = template.replace(key, value)
    return template + COUNTS_LUA


def _with_errors(metrics: Metrics, counts: dict[str, int], non2xx: int, sockets: int) -> Metrics:
    metrics["non-2xx"] = non2xx
    metrics["socket errors"] = sockets
    for code, number in sorted(counts.items()):
        if not code.startswith("http "):  # non-2xx is counted above
            metrics[f"err {code}"] = number
    return metrics


def _refresh(target: Target) -> Metrics:
    tokens = [target.login()[1] for _ in range(REFRESH_CONNECTIONS + 1)]  # one spare
    script = _fill(
        REFRESH_LUA,
        QUERY=lua_string(json.dumps(REFRESH)),
        TOKENS="{" + ",".join(lua_string(t) for t in tokens) + "}",
        PER_THREAD=str(REFRESH_CONNECTIONS // 2),  # wrk runs 2 threads, 4 connections each
    )
    metrics, result = load(target, script, REFRESH_CONNECTIONS, strict=False)
    return _with_errors(metrics, result.counts, result.non2xx, result.socket_errors)


def _create(target: Target) -> Metrics:
    script = _fill(
        CREATE_LUA,
        QUERY=lua_string(json.dumps(CREATE)),
        AUTHORIZATION=lua_string(f"Bearer {target.state['token']}"),
        PREFIX=lua_string(f"m{secrets.token_hex(4)}"),
    )
    metrics, result = load(target, script, WRITERS, strict=False)
    return _with_errors(metrics, result.counts, result.non2xx, result.socket_errors)


def _login(connections: int, target: Target) -> Metrics:
    script = post_script(LOGIN_BODY) + COUNTS_LUA
    metrics, result = load(target, script, connections, strict=False)
    metrics["mean ms"] = result.mean
    return _with_errors(metrics, result.counts, result.non2xx, result.socket_errors)


# Bastion's histogram of its hashes' seconds (bastion.http.metrics), also served by the ceiling.
HASH_METRIC = "bastion_password_hash_seconds"
HASH_COUNT, HASH_SUM = f"{HASH_METRIC}_count", f"{HASH_METRIC}_sum"


def _hashes(target: Target) -> tuple[float, float] | None:
    """How many passwords the server hashed or verified, and their seconds; None when it does
    not time them (a baseline from before the metric)."""
    found = target.samples(HASH_COUNT, HASH_SUM)
    return (found[HASH_COUNT], found[HASH_SUM]) if len(found) == 2 else None


def _login_beside_its_hashes(target: Target) -> Metrics:
    """A login at 1 connection, with its mean latency and, where the server times its hashes
    (the login ceiling does too), the mean of the verifications it ran meanwhile."""
    before = _hashes(target)
    metrics = _login(1, target)
    after = _hashes(target)
    if before is not None and after is not None and after[0] > before[0]:
        metrics["its hash mean ms"] = (after[1] - before[1]) / (after[0] - before[0]) * 1000
    return metrics


def argon2_ms(samples: int = 40) -> float:
    """Median milliseconds of one argon2id verification at Bastion's parameters."""
    hasher = PasswordHasher(**HASHER)
    stored = hasher.hash(PASSWORD)
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        hasher.verify(stored, PASSWORD)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _hash_for(seconds: float) -> int:
    hasher = PasswordHasher(**HASHER)
    stored = hasher.hash(PASSWORD)
    done, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        hasher.verify(stored, PASSWORD)
        done += 1
    return done


def hashes_per_second(processes: int = 2, seconds: float = 5.0) -> float:
    """Verifications per second of ``processes`` processes hashing at once (one per core)."""
    with ProcessPoolExecutor(processes) as pool:
        pool.submit(_hash_for, 0.2).result()  # started and warm before the clock runs
        counts = list(pool.map(_hash_for, [seconds] * processes))
    return sum(counts) / seconds


def _machine(_target: Target) -> Metrics:
    return {"verify ms": argon2_ms(), "verify/s, 2 procs": hashes_per_second()}


def cases(side_names: list[str]) -> list[Case]:
    """Every write case, in the order of the table."""
    return [
        Case(f"refreshToken, {REFRESH_CONNECTIONS} conns", side_names, _refresh),
        Case(f"createMovie, {WRITERS} writers", side_names, _create),
        Case("argon2id alone (m=19MiB,t=2,p=1)", ["machine"], _machine),
        Case(LOGIN_CEILING, ["ceiling/hash"], _login_beside_its_hashes),
        Case("login, 1 conn", side_names, _login_beside_its_hashes),
        Case("login, 4 conns", side_names, partial(_login, 4)),
    ]


RATIOS = [
    Ratio(
        "login p50 (1 conn) / argon2id verify median",
        "login, 1 conn",
        "p50 ms",
        "argon2id alone (m=19MiB,t=2,p=1)",
        "machine",
        "verify ms",
        target="(target <= 1.15)",
    ),
    # The same two figures as a difference: the login's own time beside its hash. The ratio's
    # reference (one verify) moves by a tenth between runs on this machine; this moves less.
    Ratio(
        "login p50 (1 conn) - argon2id verify median, ms",
        "login, 1 conn",
        "p50 ms",
        "argon2id alone (m=19MiB,t=2,p=1)",
        "machine",
        "verify ms",
        target="(1.15 x verify: 0.15 x verify)",
        difference=True,
    ),
    # Like for like: the login beside the least any server takes over HTTP for one request
    # that waits for a verify on a thread (bench/ceiling.py --hash), and that least beside the
    # verify alone: how much of the target's 0.15 the machine's HTTP and thread hops take.
    Ratio(
        "login p50 (1 conn) / login ceiling p50",
        "login, 1 conn",
        "p50 ms",
        LOGIN_CEILING,
        "ceiling/hash",
        "p50 ms",
        target="(like for like)",
    ),
    Ratio(
        "login ceiling p50 / argon2id verify median",
        LOGIN_CEILING,
        "p50 ms",
        "argon2id alone (m=19MiB,t=2,p=1)",
        "machine",
        "verify ms",
        target="(the floor of the first ratio)",
        own="ceiling/hash",
    ),
    # The login beside its own hashes, timed where they ran: the first ratio's question without
    # its reference measured in another process at another moment.
    Ratio(
        "login mean (1 conn) / its hashes' mean in the server",
        "login, 1 conn",
        "mean ms",
        "login, 1 conn",
        "",
        "its hash mean ms",
        target="(the same requests)",
    ),
    Ratio(
        "login ceiling mean / its hashes' mean",
        LOGIN_CEILING,
        "mean ms",
        LOGIN_CEILING,
        "ceiling/hash",
        "its hash mean ms",
        target="(the floor of the row above)",
        own="ceiling/hash",
    ),
    Ratio(
        "logins/s (4 conns) / hash-only verify/s (2 procs)",
        "login, 4 conns",
        "req/s",
        "argon2id alone (m=19MiB,t=2,p=1)",
        "machine",
        "verify/s, 2 procs",
        target="(target >= 0.85)",
    ),
]


def run(options: Options, base: Path, sides: list[Side]) -> list[dict[str, Any]]:
    """The write suite on each database of ``options``; what :func:`report` returned for each."""
    names = [s.name for s in sides]
    results = []
    for kind, workers in [(k, w) for k in options.databases for w in options.workers]:
        with ExitStack() as stack:
            targets: dict[str, Target] = {"machine": Target("machine")}
            for side in sides:
                url = stack.enter_context(database(kind))
                config = bench_config(url, permissions=PERMISSIONS)
                root = write_project(
                    base / f"writes-{kind}-{workers}-{side.name.replace('/', '_')}", SCHEMA, config
                )
                create_user(side, root)
                target = stack.enter_context(serve_project(side, root, workers))
                target.state["token"] = target.login()[0]
                targets[side.name] = target
            selected = options.selected(cases(names))
            if any(case.name.startswith("login, ") for case in selected):
                targets["ceiling/hash"] = serve_ceiling(stack, hashing=True)
            else:  # a reference case, selected always: only wanted beside a login
                selected = [case for case in selected if case.name != LOGIN_CEILING]
            runs = run_rounds(selected, targets, options.rounds)
            results.append(
                report(heading("writes", kind, options, workers), selected, runs, names, RATIOS)
            )
    return results
