"""The in-process cap on request heads (the second line behind ``bastion serve``'s uvicorn)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bastion.project import Project

QUERY = {"query": "{ moviesCount }"}
TOO_LARGE = {
    "errors": [
        {
            "message": "The request line and headers are larger than 16384 bytes",
            "extensions": {"code": "HEADERS_TOO_LARGE"},
        }
    ]
}


async def test_a_head_over_the_limit_is_431_before_any_route(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    client = await client_for(make_project())
    ok = await client.http.post("/graphql", json=QUERY, headers={"x-pad": "a" * 15_000})
    assert ok.json() == {"data": {"moviesCount": 0}}
    for headers in (
        {"x-pad": "a" * 17_000},
        {"authorization": "Bearer " + "a" * 17_000},
        {f"x-{n}": "a" * 1000 for n in range(17)},  # many small headers add up
    ):
        response = await client.http.post("/graphql", json=QUERY, headers=headers)
        assert response.status_code == 431
        assert response.json() == TOO_LARGE
    # Every route, not only GraphQL.
    response = await client.http.get("/healthz", headers={"x-pad": "a" * 17_000})
    assert response.status_code == 431


async def test_the_limit_is_set_in_bastion_yml(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    client = await client_for(make_project(http={"max_header_bytes": 65_536}))
    response = await client.http.post("/graphql", json=QUERY, headers={"x-pad": "a" * 60_000})
    assert response.json() == {"data": {"moviesCount": 0}}
    response = await client.http.post("/graphql", json=QUERY, headers={"x-pad": "a" * 66_000})
    assert response.status_code == 431


async def test_an_authorization_longer_than_any_token_is_refused_unread(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    client = await client_for(make_project())
    response = await client.http.post(
        "/graphql",
        json={"query": "{ viewer { user { id } } }"},
        headers={"authorization": "Bearer " + "a" * 9000},
    )
    assert response.json() == {
        "errors": [
            {
                "message": "The access token is not valid",
                "extensions": {"code": "UNAUTHENTICATED", "reason": "ACCESS_TOKEN_INVALID"},
            }
        ]
    }
