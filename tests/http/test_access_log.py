"""One access log line per request: method, path, status and milliseconds, no query string."""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx
import pytest

from bastion.http.access_log import AccessLog
from bastion.http.graphql_http import GraphQLEndpoint
from tests.conftest import GraphQLClient

LINE = re.compile(r"^(?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) \d+\.\dms$")


@pytest.fixture
def access(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="bastion.access")
    return caplog


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, int]]:
    """(method, path, status) of each access log line; every line must have the format."""
    found = []
    for record in caplog.records:
        if record.name != "bastion.access":
            continue
        match = LINE.match(record.getMessage())
        assert match, record.getMessage()
        found.append((match["method"], match["path"], int(match["status"])))
    return found


async def test_one_line_per_request(
    movies: GraphQLClient, access: pytest.LogCaptureFixture
) -> None:
    access.clear()
    await movies.http.post("/graphql", json={"query": "{ moviesCount }"})
    await movies.http.get("/graphql", params={"query": "{ moviesCount }"})
    await movies.http.get("/healthz")
    await movies.http.post("/graphql", content=b"{", headers={"content-type": "text/plain"})
    await movies.http.put("/graphql")
    await movies.http.get("/nowhere")
    assert lines(access) == [
        ("POST", "/graphql", 200),
        ("GET", "/graphql", 200),
        ("GET", "/healthz", 200),
        ("POST", "/graphql", 415),
        ("PUT", "/graphql", 405),
        ("GET", "/nowhere", 404),
    ]


async def test_the_query_string_is_not_logged(
    movies: GraphQLClient, access: pytest.LogCaptureFixture
) -> None:
    access.clear()
    response = await movies.http.get(
        "/graphql",
        params={
            "query": "query Q($e: String) { movies(where: {title: $e}) { title } }",
            "variables": '{"e": "ada.lovelace@example.com"}',
        },
    )
    assert response.status_code == 200
    assert lines(access) == [("GET", "/graphql", 200)]
    assert "lovelace" not in access.text
    assert "?" not in access.text
    assert "movies" not in access.text


async def test_a_failing_request_is_logged_with_its_status(
    movies: GraphQLClient, access: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(GraphQLEndpoint, "_read", broken)
    access.clear()
    response = await movies.http.post("/graphql", json={"query": "{ moviesCount }"})
    assert response.status_code == 500
    assert lines(access) == [("POST", "/graphql", 500)]


async def test_a_crash_before_any_response_is_logged_as_500(
    access: pytest.LogCaptureFixture,
) -> None:
    async def crashing_app(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    transport = httpx.ASGITransport(app=AccessLog(crashing_app))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        with pytest.raises(RuntimeError):
            await client.delete("/anything?token=secret")
    assert lines(access) == [("DELETE", "/anything", 500)]
    assert "secret" not in access.text
