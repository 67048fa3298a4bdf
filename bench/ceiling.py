"""The ceiling: a bare Starlette endpoint returning constant JSON, under the same uvicorn
settings as ``bastion serve``. Run as ``python -m bench.ceiling PORT``."""

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
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_config=None,
        access_log=False,
        server_header=False,
    )
