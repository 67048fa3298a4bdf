"""The ceiling: a bare Starlette endpoint returning constant JSON, under uvicorn as
``bastion serve`` sets it up. Run as ``python -m bench.ceiling PORT [--bastion-protocol]``.

Plain, it runs uvicorn's own httptools protocol: the reference the read targets name. With
``--bastion-protocol`` it runs ``bastion serve``'s (:mod:`bastion.http.server`: the head cap,
and answers written at the end of the loop's turn), so that the viewer's ratio to it is the
cost of Bastion's app alone, like for like."""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

BODY = {"data": {"viewer": {"user": {"id": "000000000000000000000000", "email": "a@b.c"}}}}


async def constant(_request: Request) -> Response:
    return JSONResponse(BODY)


app = Starlette(routes=[Route("/graphql", constant, methods=["POST"])])

if __name__ == "__main__":
    options = {}
    if "--bastion-protocol" in sys.argv[2:]:
        from bastion.http.server import uvicorn_options

        options = uvicorn_options(16384)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_config=None,
        access_log=False,
        server_header=False,
        **options,
    )
