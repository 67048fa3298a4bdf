"""Request bodies are UTF-8 JSON: any other encoding is refused, never guessed."""

from __future__ import annotations

import json

import pytest

from tests.conftest import GraphQLClient

QUERY = json.dumps({"query": "{ movies { title } }"})
NOT_UTF8 = "The request body must be UTF-8 text, without a byte order mark"


NOT_JSON = "The request body is not valid JSON"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (QUERY.encode("utf-16"), NOT_UTF8),  # with its BOM, as Windows tools write it
        (QUERY.encode("utf-32"), NOT_UTF8),
        (QUERY.encode("utf-8-sig"), NOT_UTF8),
        (QUERY.encode("latin-1")[:-1] + b'\xe9"}', NOT_UTF8),
        # No BOM: valid UTF-8 (with NULs), so not JSON; json.loads on bytes would guess it.
        (QUERY.encode("utf-16-le"), NOT_JSON),
    ],
    ids=["utf-16", "utf-32", "utf-8-bom", "latin-1", "utf-16-le"],
)
async def test_bodies_in_other_encodings_are_refused(
    movies: GraphQLClient, raw: bytes, message: str
) -> None:
    response = await movies.http.post(
        "/graphql", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "message": message,
        "extensions": {"code": "BAD_REQUEST"},
    }
    # The Stitch routes read bodies the same way.
    stitch = "/api/client/v2.0/app/test-app/auth/providers/local-userpass/login"
    response = await movies.http.post(
        stitch, content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


async def test_a_charset_other_than_utf8_is_refused(movies: GraphQLClient) -> None:
    response = await movies.http.post(
        "/graphql", content=QUERY, headers={"content-type": "application/json; charset=utf-16"}
    )
    assert response.status_code == 415
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    for charset in ("utf-8", "UTF-8", '"utf-8"'):
        response = await movies.http.post(
            "/graphql",
            content=QUERY,
            headers={"content-type": f"application/json; charset={charset}"},
        )
        assert response.json() == {"data": {"movies": []}}, charset
