"""CPU per credential request, measured in one process: the ASGI app called directly.

``python -m bench.inprocess refresh|login|viewer|movies|create [--database sqlite|postgresql]
[--requests N] [--concurrency C] [--first N] [--profile FILE]`` serves a fresh bench project
in-process (no socket, no HTTP parser, no client beside it), sends ``refreshToken`` (C chains,
each handing its answer's refresh token to its next request), ``loginEmailPassword``, the
read suite's ``viewer`` and ``movies(first: N)`` queries (on its seeded project, with a token),
or the write suite's ``createMovie`` (C writers at once, 50 unless given, each title unique, with
a token) straight to the ASGI app, and prints one JSON line: CPU microseconds per request of the
whole process (``time.process_time``: the hashing threads included) and of the event loop's
thread alone (``time.thread_time``), and wall microseconds. The create case adds the statements
one ``createMovie`` runs (counted over its warm-up: SQLAlchemy's statements and commits, the
writer's savepoints apart). ``--profile`` writes a cProfile of the measured
requests. ``--served`` sets the process up as ``bastion serve`` does: the access log at INFO on
its thread (stderr) and the metrics in prometheus-client's multiprocess files.
``--hash-stand-in MS`` makes each password check a wait of MS milliseconds instead of a hash
(see :func:`stand_in_for_hashing`).

Two shared cores make wrk runs noisy; this counts only the server's own work. It is what
:mod:`bench.cpu` runs in turns for this tree and a baseline ref. Nothing here is a test.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench import reads
from bench.harness import LOGIN_BODY, SECRET, database, write_project
from bench.writes import CREATE, PERMISSIONS, REFRESH, SCHEMA

WARMUP = 200
Answer = tuple[int, bytes]


def post_scope(body: bytes, token: str | None = None) -> dict[str, Any]:
    """The ASGI scope a server hands the app for a POST /graphql of ``body`` (with ``token``
    as its bearer)."""
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"user-agent", b"bench"),
    ]
    if token is not None:
        headers.append((b"authorization", b"Bearer " + token.encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


class Driver:
    """Calls an ASGI app as a server would for one POST /graphql."""

    def __init__(self, app: Any) -> None:
        self._app = app

    async def post(self, body: bytes, token: str | None = None) -> Answer:
        """POST ``body`` (with ``token`` as its bearer); the status and the response body."""
        scope = post_scope(body, token)
        done = asyncio.Event()
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    done.set()

        await self._app(scope, receive, send)
        return status, b"".join(chunks)


def _refresh_body(token: str) -> bytes:
    return json.dumps({"query": REFRESH, "variables": {"input": {"refreshToken": token}}}).encode()


def _data(answer: Answer, field: str) -> dict[str, Any]:
    status, body = answer
    parsed = json.loads(body)
    if status != 200 or "errors" in parsed:
        raise RuntimeError(f"{field}: {status} {body[:300]!r}")
    data: dict[str, Any] = parsed["data"][field]
    return data


async def _refreshes(driver: Driver, tokens: list[str], count: int) -> None:
    """``count`` refreshes spread over ``len(tokens)`` chains running at once."""

    async def chain(token: str, n: int) -> None:
        for _ in range(n):
            token = _data(await driver.post(_refresh_body(token)), "refreshToken")["refreshToken"]

    share = count // len(tokens)
    await asyncio.gather(*(chain(t, share) for t in tokens))


async def _logins(driver: Driver, count: int, concurrency: int) -> None:
    body = json.dumps(LOGIN_BODY).encode()

    async def one(n: int) -> None:
        for _ in range(n):
            _data(await driver.post(body), "loginEmailPassword")

    await asyncio.gather(*(one(count // concurrency) for _ in range(concurrency)))


async def _reads(driver: Driver, body: bytes, token: str, count: int, concurrency: int) -> None:
    async def one(n: int) -> None:
        for _ in range(n):
            status, answer = await driver.post(body, token)
            if status != 200 or b'"errors"' in answer:
                raise RuntimeError(f"read: {status} {answer[:300]!r}")

    await asyncio.gather(*(one(count // concurrency) for _ in range(concurrency)))


async def _creates(driver: Driver, token: str, prefix: str, count: int, concurrency: int) -> None:
    """``count`` createMovie mutations from ``concurrency`` writers at once, titles unique."""

    async def one(writer: int, n: int) -> None:
        for i in range(n):
            variables = {"title": f"{prefix}-{writer}-{i}"}
            body = json.dumps({"query": CREATE, "variables": variables}).encode()
            _data(await driver.post(body, token), "createMovie")

    await asyncio.gather(*(one(w, count // concurrency) for w in range(concurrency)))


async def _seed(driver: Driver, token: str) -> None:
    for c in range(reads.CITIES):
        seed = {"query": reads.SEED, "variables": {"city": reads.city(c)}}
        _data(await driver.post(json.dumps(seed).encode(), token), "createCity")


async def _measure(args: argparse.Namespace, root: Path) -> dict[str, float]:
    from asgi_lifespan import LifespanManager

    from bastion import create_app, load_project

    app = create_app(load_project(root))
    async with LifespanManager(app, startup_timeout=120) as manager:
        driver = Driver(manager.app)
        login = json.dumps(LOGIN_BODY).encode()
        extra: dict[str, float] = {}
        if args.case == "create":
            token = _data(await driver.post(login), "loginEmailPassword")["accessToken"]
            from bastion.store.counting import statements

            with statements() as seen:
                await _creates(driver, token, "warm", WARMUP, args.concurrency)
            extra["statements"] = len(seen) / WARMUP
            extra["commits"] = seen.count("COMMIT") / WARMUP

            async def work() -> None:
                await _creates(driver, token, "run", args.requests, args.concurrency)
        elif args.case == "refresh":
            tokens = [
                _data(await driver.post(login), "loginEmailPassword")["refreshToken"]
                for _ in range(args.concurrency)
            ]
            await _refreshes(driver, tokens, WARMUP)
            tokens = [
                _data(await driver.post(login), "loginEmailPassword")["refreshToken"]
                for _ in range(args.concurrency)
            ]

            async def work() -> None:
                await _refreshes(driver, tokens, args.requests)
        elif args.case == "login":
            await _logins(driver, 10, args.concurrency)

            async def work() -> None:
                await _logins(driver, args.requests, args.concurrency)
        else:
            token = _data(await driver.post(login), "loginEmailPassword")["accessToken"]
            await _seed(driver, token)
            query = reads.VIEWER if args.case == "viewer" else reads.movies(args.first)
            body = json.dumps({"query": query}).encode()
            await _reads(driver, body, token, WARMUP, args.concurrency)

            async def work() -> None:
                await _reads(driver, body, token, args.requests, args.concurrency)

        profiler = cProfile.Profile(time.thread_time) if args.profile else None
        cpu, loop_cpu, wall = time.process_time(), time.thread_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        await work()
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)
        cpu = time.process_time() - cpu
        loop_cpu = time.thread_time() - loop_cpu
        wall = time.perf_counter() - wall
        writer = getattr(app.state.service.store.db, "writer", None)
        turns = writer.turns / writer.commits if writer is not None and writer.commits else 0.0
    n = args.requests
    return {
        "cpu_us": cpu / n * 1e6,
        "loop_cpu_us": loop_cpu / n * 1e6,
        "wall_us": wall / n * 1e6,
        "turns_per_commit": turns,  # SQLite's group commit (over the whole run)
        **extra,
    }


def _create_user(root: Path) -> None:
    import subprocess

    from bench.harness import EMAIL, PASSWORD

    subprocess.run(
        [
            *(sys.executable, "-m", "bastion", "users", "create", "--email", EMAIL),
            *("--password-stdin", "--project", str(root)),
        ],
        input=PASSWORD + "\n",
        text=True,
        cwd=root,
        check=True,
        capture_output=True,
    )


def stand_in_for_hashing(seconds: float) -> None:
    """Make each password check of this process wait ``seconds`` (in its thread, as the hash
    runs) and answer what the real check answered for the same inputs the first time.

    A login's own work on the event loop costs about twice as much after the loop waited for
    a ~20 ms hash as it does back to back (this machine's cores slow down while idle), and an
    argon2id hash also evicts the caches. With a wait of the hash's length in its place, the
    loop CPU per login shows the first apart from the second; with 0 it shows the work hot.
    """
    from bastion.auth.passwords import Passwords

    checked: dict[tuple[str | None, str], bool] = {}
    real = Passwords._verify

    def waiting(self: Passwords, stored: str | None, password: str) -> bool:
        key = (stored, password)
        if key not in checked:
            checked[key] = real(self, stored, password)
        time.sleep(seconds)
        return checked[key]

    Passwords._verify = waiting  # type: ignore[method-assign]


def main(argv: list[str]) -> None:
    """Measure one case in this process; print the JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess")
    parser.add_argument("case", choices=["refresh", "login", "viewer", "movies", "create"])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, help="8, or 50 for create")
    parser.add_argument("--first", type=int, default=100, help="items of the movies case")
    parser.add_argument("--profile", metavar="FILE")
    parser.add_argument("--served", action="store_true", help="log and count as serve does")
    parser.add_argument(
        "--hash-stand-in",
        type=float,
        metavar="MS",
        help="logins: each password check waits MS milliseconds instead of hashing",
    )
    args = parser.parse_args(argv)
    if args.hash_stand_in is not None:
        stand_in_for_hashing(args.hash_stand_in / 1000)
    if args.concurrency is None:
        args.concurrency = 50 if args.case == "create" else 8
    os.environ.setdefault("BASTION_SECRET", SECRET)
    listener = None
    if args.served:
        # Before bastion.http.metrics imports prometheus-client (see prepare_metrics_dir).
        from bastion.cli.metrics_dir import prepare_metrics_dir
        from bastion.cli.workers import server_logging

        prepare_metrics_dir()
        listener = server_logging()
    with ExitStack() as stack:
        if listener is not None:
            stack.callback(listener.stop)  # the lines still kept are written at the end
        url = stack.enter_context(database(args.database))
        base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bastion-cpu-")))
        config: dict[str, Any] = {
            "database": {"url": url},
            "auth": {"access_token_lifetime": 86_400, "throttle": {"enabled": False}},
        }
        schema = SCHEMA
        if args.case in ("viewer", "movies"):
            schema, config["permissions"] = reads.SCHEMA, reads.PERMISSIONS
        elif args.case == "create":
            config["permissions"] = PERMISSIONS
        root = write_project(base / "project", schema, config)
        os.chdir(root)  # the SQLite url is relative to the project
        _create_user(root)
        print(json.dumps(asyncio.run(_measure(args, root))))


if __name__ == "__main__":
    main(sys.argv[1:])
