"""The edge layer: the head cap, the client's address and the access log line, in one."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from bastion.http.client_ip import found_ip, parse_networks
from bastion.http.edge import Edge

LIMIT = 4096


def recording_app(seen: list[Scope]) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app


async def request(app: Any, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=("10.0.0.2", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get("/path?secret=1", **kwargs)


@pytest.fixture
def access(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="bastion.access")
    return caplog


def access_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bastion.access"]


async def test_a_request_gets_its_address_and_one_line(access: pytest.LogCaptureFixture) -> None:
    seen: list[Scope] = []
    edge = Edge(recording_app(seen), LIMIT, parse_networks(["10.0.0.0/8"]))
    response = await request(edge, headers={"x-forwarded-for": "203.0.113.9"})
    assert response.status_code == 204
    assert found_ip(seen[0]) == "203.0.113.9"  # through the trusted proxy
    [line] = access_lines(access)
    assert line.startswith("GET /path 204 ") and line.endswith("ms")
    assert "secret" not in access.text


async def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    seen: list[Scope] = []
    await request(Edge(recording_app(seen), LIMIT, []), headers={"x-forwarded-for": "1.2.3.4"})
    assert found_ip(seen[0]) == "10.0.0.2"


async def test_a_head_over_the_limit_is_431_and_logged_and_the_app_never_runs(
    access: pytest.LogCaptureFixture,
) -> None:
    seen: list[Scope] = []
    response = await request(Edge(recording_app(seen), LIMIT, []), headers={"x-pad": "a" * LIMIT})
    assert response.status_code == 431
    assert response.json()["errors"][0]["extensions"]["code"] == "HEADERS_TOO_LARGE"
    assert seen == []
    assert access_lines(access)[0].startswith("GET /path 431 ")


async def test_a_crash_is_logged_as_500(access: pytest.LogCaptureFixture) -> None:
    async def crashing(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await request(Edge(crashing, LIMIT, []))
    assert access_lines(access)[0].startswith("GET /path 500 ")


async def test_each_request_has_an_id_answered_and_logged(
    access: pytest.LogCaptureFixture,
) -> None:
    edge = Edge(recording_app([]), LIMIT, [])
    kept = await request(edge, headers={"x-request-id": "proxy-42"})
    made = await request(edge, headers={"x-request-id": "no spaces allowed"})
    fresh = await request(edge)
    assert kept.headers["x-request-id"] == "proxy-42"
    assert made.headers["x-request-id"] not in ("no spaces allowed", fresh.headers["x-request-id"])
    ids = [r.request_id for r in access.records if r.name == "bastion.access"]  # type: ignore[attr-defined]
    assert ids == ["proxy-42", made.headers["x-request-id"], fresh.headers["x-request-id"]]


async def test_a_crash_in_a_route_is_answered_500_with_its_request_id(
    access: pytest.LogCaptureFixture,
) -> None:
    """Starlette's error layer sits inside the edge: its 500 carries the request's id."""

    async def crashing(_request: Request) -> Response:
        raise RuntimeError("boom")

    app = Edge(Starlette(routes=[Route("/path", crashing)]), LIMIT, [])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/path", headers={"x-request-id": "crash-1"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "crash-1"
    assert access_lines(access)[0].startswith("GET /path 500 ")
