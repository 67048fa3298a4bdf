"""The caller the HTTP edge hands the engine: method, resolved address, user agent."""

from __future__ import annotations

import subprocess
import sys

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bastion.graphql.caller import Caller
from bastion.http.caller import caller_of
from bastion.http.client_ip import ClientIP, parse_networks


async def _echo(request: Request) -> JSONResponse:
    caller = caller_of(request)
    return JSONResponse([caller.method, caller.ip, caller.user_agent])


async def _caller(
    trusted: list[str] | None, method: str = "GET", headers: dict[str, str] | None = None
) -> Caller:
    """The caller an app behind ClientIP (None: without it) builds for one request."""
    app = Starlette(routes=[Route("/", _echo, methods=["GET", "POST"])])
    asgi = ClientIP(app, parse_networks(trusted)) if trusted is not None else app
    # httpx's ASGI transport connects from 127.0.0.1.
    transport = httpx.ASGITransport(app=asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.request(method, "/", headers=headers)
    found, ip, agent = response.json()
    return Caller(method=found, ip=ip, user_agent=agent)


async def test_the_caller_has_the_method_the_address_and_the_user_agent() -> None:
    caller = await _caller([], "POST", {"User-Agent": "tab/1.0"})
    assert caller == Caller(method="POST", ip="127.0.0.1", user_agent="tab/1.0")


async def test_forwarded_for_is_read_only_from_a_trusted_proxy() -> None:
    forwarded = {"X-Forwarded-For": "203.0.113.9"}
    assert (await _caller([], headers=forwarded)).ip == "127.0.0.1"
    assert (await _caller(["127.0.0.1"], headers=forwarded)).ip == "203.0.113.9"


async def test_without_the_middleware_the_address_is_unknown() -> None:
    assert (await _caller(None, headers={"X-Forwarded-For": "203.0.113.9"})).ip is None


def test_the_floors_below_http_load_without_starlette() -> None:
    # The import-linter contract sees Bastion's imports; this also catches a library that
    # would pull Starlette in behind them.
    modules = ["bastion.auth", "bastion.graphql.auth.contract", "bastion.project.service"]
    code = f"import sys, {', '.join(modules)}; print('starlette' in sys.modules)"
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert found.strip() == "False"
