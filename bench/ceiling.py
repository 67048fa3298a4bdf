"""The ceiling: a bare Starlette endpoint returning constant JSON, under uvicorn as
``bastion serve`` sets it up. Run as ``python -m bench.ceiling PORT [--bastion-protocol]
[--hash]``.

Plain, it runs uvicorn's own httptools protocol: the reference the read targets name. With
``--bastion-protocol`` it runs ``bastion serve``'s (:mod:`bastion.http.server`: the head cap,
and answers written at the end of the loop's turn), so that the viewer's ratio to it is the
cost of Bastion's app alone, like for like. With ``--hash`` each request first waits for one
argon2id verification at Bastion's parameters on a thread of a pool, as a login's hash runs:
the least a login can take over HTTP on this machine (the write suite's login ceiling). Its
verifications are timed on their thread, and ``GET /metrics`` gives their count and seconds
under the names of Bastion's histogram (``bench.writes.HASH_METRIC``), so that the write suite
sets the ceiling beside its own hashes as it does a login."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import uvicorn
from argon2 import PasswordHasher
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

BODY = {"data": {"viewer": {"user": {"id": "000000000000000000000000", "email": "a@b.c"}}}}


async def constant(_request: Request) -> Response:
    return JSONResponse(BODY)


app = Starlette(routes=[Route("/graphql", constant, methods=["POST"])])


def hashing_app() -> Starlette:
    """The endpoint behind one argon2id verification (of the bench user's password) each."""
    from bench.harness import PASSWORD
    from bench.writes import HASH_COUNT, HASH_SUM, HASHER

    hasher = PasswordHasher(**HASHER)
    stored = hasher.hash(PASSWORD)
    pool = ThreadPoolExecutor(2)  # one per core, as Bastion's hashing pool
    timed = [0, 0.0]  # verifications, their seconds
    lock = threading.Lock()  # the pool's two threads may add at once

    def verify() -> None:
        start = time.perf_counter()
        hasher.verify(stored, PASSWORD)
        seconds = time.perf_counter() - start
        with lock:
            timed[0], timed[1] = timed[0] + 1, timed[1] + seconds

    async def verified(_request: Request) -> Response:
        await asyncio.get_running_loop().run_in_executor(pool, verify)
        return JSONResponse(BODY)

    async def metrics(_request: Request) -> Response:
        return PlainTextResponse(f"{HASH_COUNT} {timed[0]}\n{HASH_SUM} {timed[1]}\n")

    return Starlette(
        routes=[
            Route("/graphql", verified, methods=["POST"]),
            Route("/metrics", metrics, methods=["GET"]),
        ]
    )


if __name__ == "__main__":
    options = {}
    if "--bastion-protocol" in sys.argv[2:]:
        from bastion.http.server import uvicorn_options
        from bastion.project.config import MAX_HEADER_BYTES

        options = uvicorn_options(MAX_HEADER_BYTES)  # bastion serve's default cap
    uvicorn.run(
        hashing_app() if "--hash" in sys.argv[2:] else app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_config=None,
        access_log=False,
        server_header=False,
        **options,
    )
