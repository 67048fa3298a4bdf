"""CPU of the read suite's viewer query, layer by layer, each layer called directly.

``python -m bench.layers [--database sqlite|postgresql] [--requests N] [--rounds R]`` serves
the in-process bench project (:mod:`bench.inprocess`, set up as ``bastion serve`` does: the
access log on its thread, the metrics in multiprocess files), then calls, one request at a
time, each of:

- ``app``: the ASGI app ``bastion serve`` runs (a POST /graphql as uvicorn hands it over);
- ``edge``: the generation's edge layer (head cap, request id, log line, metrics, send);
- ``route``: the ``/graphql`` route's answer, not sent (body, JSON, document, the rest);
- ``execute``: ``Executor.execute`` of the prepared document for the token's viewer;
- ``authenticate``: the authenticator on the request's ``Authorization`` header.

It prints one JSON line: the minimum over ``R`` interleaved rounds of the event loop thread's
CPU microseconds per call of each (the log thread's work is apart: see ``bench.inprocess``).
A layer's own cost is its figure less the next one's (``route`` holds ``execute`` and
``authenticate``). Nothing here is a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench import reads
from bench.harness import LOGIN_BODY, SECRET, database, write_project
from bench.inprocess import Driver, _create_user, _data, _seed, post_scope

WARMUP = 300


async def _measure(args: argparse.Namespace, root: Path) -> dict[str, float]:
    from asgi_lifespan import LifespanManager

    from bastion import create_app, load_project
    from bastion.graphql.caller import Caller

    app = create_app(load_project(root))
    async with LifespanManager(app, startup_timeout=120) as manager:
        driver = Driver(manager.app)
        login = await driver.post(json.dumps(LOGIN_BODY).encode())
        token = _data(login, "loginEmailPassword")["accessToken"]
        await _seed(driver, token)
        body = json.dumps({"query": reads.VIEWER}).encode()
        generation = app.live.current  # the layers of the generation being served
        edge, service = generation.app, generation.service
        route = edge.direct["/graphql"]
        executor, authenticate = service.executor, service.auth.authenticator.authenticate
        header = f"Bearer {token}"
        prepared = executor.prepare(reads.VIEWER)
        viewer = (await authenticate(header)).viewer
        caller = Caller("POST", "127.0.0.1", "bench", None)
        message = {"type": "http.request", "body": body, "more_body": False}

        async def receive() -> dict[str, Any]:
            return message

        async def send(_message: MutableMapping[str, Any]) -> None:
            pass

        cases: dict[str, Callable[[], Awaitable[Any]]] = {
            "app": lambda: app(post_scope(body, token), receive, send),
            "edge": lambda: edge(post_scope(body, token), receive, send),
            "route": lambda: route.answer(post_scope(body, token), receive),
            "execute": lambda: executor.execute(prepared, None, viewer, caller=caller, raw=True),
            "authenticate": lambda: authenticate(header),
        }
        best = dict.fromkeys(cases, float("inf"))
        for call in cases.values():
            for _ in range(WARMUP):
                await call()
        for _ in range(args.rounds):
            for name, call in cases.items():
                started = time.thread_time()
                for _ in range(args.requests):
                    await call()
                used = (time.thread_time() - started) / args.requests * 1e6
                best[name] = min(best[name], used)
    return {name: round(value, 1) for name, value in best.items()}


def main(argv: list[str]) -> None:
    """Measure each layer in this process; print the JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench.layers")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    os.environ.setdefault("BASTION_SECRET", SECRET)
    # As bastion serve: before bastion.http.metrics imports prometheus-client.
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
            "permissions": reads.PERMISSIONS,
        }
        root = write_project(base / "project", reads.SCHEMA, config)
        os.chdir(root)  # the SQLite url is relative to the project
        _create_user(root)
        print(json.dumps(asyncio.run(_measure(args, root))))


if __name__ == "__main__":
    main(sys.argv[1:])
