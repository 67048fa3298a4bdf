"""GraphQL over HTTP: methods, media types, status codes and error bodies (graphql-http spec)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bastion.graphql.compiled import json_sql
from bastion.graphql.execute import Executor
from bastion.store.reads import Reader
from tests.conftest import GraphQLClient

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
LIMIT = 1_000_000

CREATE = 'mutation { createMovie(data: {title: "Alien", year: 1979}) { title } }'


def media(response: httpx.Response) -> str:
    """The response's media type, without parameters."""
    return response.headers["content-type"].split(";")[0].strip()


def request_error(response: httpx.Response) -> str:
    """The message of a whole-request error body: no data, one error coded BAD_REQUEST."""
    body = response.json()
    assert set(body) == {"errors"}, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    message: str = error["message"]
    return message


async def post_raw(
    client: GraphQLClient,
    content: bytes,
    content_type: str | None = JSON,
    accept: str | None = None,
) -> httpx.Response:
    headers = {}
    if content_type is not None:
        headers["content-type"] = content_type
    if accept is not None:
        headers["accept"] = accept
    return await client.http.post("/graphql", content=content, headers=headers)


async def movie_count(client: GraphQLClient) -> int:
    count: int = (await client.data("{ moviesCount }"))["moviesCount"]
    return count


# -- success -----------------------------------------------------------------------------


async def test_post_json_answers_data_as_application_json(movies: GraphQLClient) -> None:
    await movies.data(CREATE)
    response = await movies.http.post("/graphql", json={"query": "{ movies { title year } }"})
    assert response.status_code == 200
    assert media(response) == JSON
    assert response.json() == {"data": {"movies": [{"title": "Alien", "year": 1979}]}}


async def test_post_with_variables_and_operation_name(movies: GraphQLClient) -> None:
    await movies.data(CREATE)
    document = """
        query ByTitle($title: String!) { movies(where: {title: $title}) { year } }
        query Count { moviesCount }
        mutation Make { createMovie(data: {title: "Heat"}) { id } }
    """
    response = await movies.http.post(
        "/graphql",
        json={
            "query": document,
            "variables": {"title": "Alien"},
            "operationName": "ByTitle",
            "extensions": {"persistedQuery": None},
        },
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"movies": [{"year": 1979}]}}
    assert await movie_count(movies) == 1


async def test_null_variables_and_empty_operation_name_are_absent(movies: GraphQLClient) -> None:
    response = await movies.http.post(
        "/graphql",
        json={"query": "{ moviesCount }", "variables": None, "operationName": ""},
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"moviesCount": 0}}


async def test_content_type_parameters_and_case_are_accepted(movies: GraphQLClient) -> None:
    body = json.dumps({"query": "{ moviesCount }"}).encode()
    for content_type in ("application/json; charset=utf-8", "Application/JSON"):
        response = await post_raw(movies, body, content_type)
        assert response.status_code == 200, content_type
        assert response.json() == {"data": {"moviesCount": 0}}


async def test_get_runs_a_query_from_url_parameters(movies: GraphQLClient) -> None:
    await movies.data(CREATE)
    response = await movies.http.get(
        "/graphql",
        params={
            "query": "query Q($t: String!) { movies(where: {title: $t}) { title year } }",
            "variables": json.dumps({"t": "Alien"}),
            "operationName": "Q",
        },
    )
    assert response.status_code == 200
    assert media(response) == JSON
    assert response.json() == {"data": {"movies": [{"title": "Alien", "year": 1979}]}}


async def test_get_may_pick_the_query_of_a_document_with_a_mutation(
    movies: GraphQLClient,
) -> None:
    document = "query Count { moviesCount } " + CREATE.replace("mutation", "mutation Make")
    response = await movies.http.get(
        "/graphql", params={"query": document, "operationName": "Count"}
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"moviesCount": 0}}


async def test_healthz(movies: GraphQLClient) -> None:
    response = await movies.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


# -- Accept negotiation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        ("", JSON),
        (JSON, JSON),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}; charset=utf-8", GRAPHQL_RESPONSE),
        ("*/*", JSON),
        ("application/*", JSON),
        ("text/html, */*;q=0.1", JSON),
        (f"{GRAPHQL_RESPONSE}, {JSON};q=0.9", GRAPHQL_RESPONSE),
        (f"{JSON};q=0.5, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};q=0.2, {JSON}", JSON),
        (f"{JSON};q=0, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"{JSON};q=oops, {GRAPHQL_RESPONSE};q=0.1", GRAPHQL_RESPONSE),
    ],
)
async def test_response_media_type_follows_accept(
    movies: GraphQLClient, accept: str | None, expected: str
) -> None:
    headers = {} if accept is None else {"accept": accept}
    response = await movies.http.post(
        "/graphql", json={"query": "{ moviesCount }"}, headers=headers
    )
    assert response.status_code == 200
    assert media(response) == expected
    assert response.json() == {"data": {"moviesCount": 0}}


@pytest.mark.parametrize(
    "accept", ["text/html", "application/xml, text/plain", f"{JSON};q=0", "image/*"]
)
async def test_unacceptable_accept_is_406_with_a_json_error(
    movies: GraphQLClient, accept: str
) -> None:
    response = await movies.http.post(
        "/graphql", json={"query": CREATE}, headers={"accept": accept}
    )
    assert response.status_code == 406
    assert media(response) == JSON
    assert JSON in request_error(response)
    assert await movie_count(movies) == 0


# -- documents that cannot run: 200 with application/json, 400 with graphql-response+json ---


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"query": "{ movies { title "}, "GRAPHQL_PARSE_FAILED"),
        ({"query": "{ movies { nope } }"}, "GRAPHQL_VALIDATION_FAILED"),
        ({"query": "{ __typename } { moviesCount }"}, "GRAPHQL_VALIDATION_FAILED"),
        (
            {"query": "query Q($n: Int!) { movies(first: $n) { title } }", "variables": {}},
            "BAD_USER_INPUT",
        ),
        (
            {
                "query": "query Q($n: Int!) { movies(first: $n) { title } }",
                "variables": {"n": "three"},
            },
            "BAD_USER_INPUT",
        ),
        ({"query": "query A { moviesCount } query B { moviesCount }"}, "BAD_REQUEST"),
        ({"query": "{ moviesCount }", "operationName": "Missing"}, "BAD_REQUEST"),
    ],
)
@pytest.mark.parametrize(("accept", "status"), [(JSON, 200), (GRAPHQL_RESPONSE, 400)])
async def test_request_errors_status_depends_on_the_media_type(
    movies: GraphQLClient, body: dict[str, Any], code: str, accept: str, status: int
) -> None:
    response = await movies.http.post("/graphql", json=body, headers={"accept": accept})
    assert response.status_code == status
    assert media(response) == accept
    payload = response.json()
    assert "data" not in payload
    assert payload["errors"]
    assert {e["extensions"]["code"] for e in payload["errors"]} == {code}


async def test_request_errors_over_get_follow_the_same_rules(movies: GraphQLClient) -> None:
    for accept, status in ((JSON, 200), (GRAPHQL_RESPONSE, 400)):
        response = await movies.http.get(
            "/graphql", params={"query": "{ nope }"}, headers={"accept": accept}
        )
        assert response.status_code == status
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert error["locations"] == [{"line": 1, "column": 3}]


async def test_errors_during_execution_are_200_with_either_media_type(
    movies: GraphQLClient,
) -> None:
    update = 'mutation { updateMovie(id: "000000000000000000000000", data: {year: 1}) { id } }'
    for accept in (JSON, GRAPHQL_RESPONSE):
        response = await movies.http.post(
            "/graphql", json={"query": update}, headers={"accept": accept}
        )
        assert response.status_code == 200
        body = response.json()
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        assert body["errors"][0]["path"] == ["updateMovie"]


# -- bodies that are not GraphQL requests: 400 with a JSON error ------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"{'query': '{ moviesCount }'}",
        b'{"query": "{ moviesCount }",}',
        b"NaN",
        b'{"query": "{ moviesCount }", "variables": {"n": NaN}}',
        b'{"query": "{ moviesCount }", "variables": {"n": Infinity}}',
        b'{"query": "{ moviesCount }", "variables": {"n": -Infinity}}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"query": "{ moviesCount }"} trailing',
    ],
)
@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE])
async def test_malformed_json_is_400(movies: GraphQLClient, raw: bytes, accept: str) -> None:
    response = await post_raw(movies, raw, accept=accept)
    assert response.status_code == 400
    assert media(response) == accept
    assert request_error(response) == "The request body is not valid JSON"


@pytest.mark.parametrize(
    "body", [[], [{"query": "{ moviesCount }"}], "{ moviesCount }", 1, None, True]
)
async def test_a_body_that_is_not_an_object_is_400(movies: GraphQLClient, body: Any) -> None:
    response = await post_raw(movies, json.dumps(body).encode())
    assert response.status_code == 400
    assert request_error(response) == "The request body must be a JSON object"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"query": None},
        {"query": ""},
        {"query": "   \n"},
        {"query": 1},
        {"query": ["{ moviesCount }"]},
        {"query": {"text": "{ moviesCount }"}},
        {"variables": {}},
    ],
)
async def test_a_missing_query_is_400(movies: GraphQLClient, body: dict[str, Any]) -> None:
    response = await movies.http.post("/graphql", json=body)
    assert response.status_code == 400
    assert request_error(response) == "The request has no `query` string"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"variables": '{"n": 1}'}, "`variables` must be a JSON object"),
        ({"variables": [1]}, "`variables` must be a JSON object"),
        ({"variables": 1}, "`variables` must be a JSON object"),
        ({"operationName": 1}, "`operationName` must be a string"),
        ({"operationName": ["Q"]}, "`operationName` must be a string"),
        ({"extensions": "x"}, "`extensions` must be a JSON object"),
    ],
)
@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE])
async def test_badly_typed_parameters_are_400(
    movies: GraphQLClient, extra: dict[str, Any], message: str, accept: str
) -> None:
    response = await movies.http.post(
        "/graphql", json={"query": CREATE, **extra}, headers={"accept": accept}
    )
    assert response.status_code == 400
    assert media(response) == accept
    assert request_error(response) == message
    assert await movie_count(movies) == 0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "The request has no `query` string"),
        ({"query": ""}, "The request has no `query` string"),
        ({"query": "{ moviesCount }", "variables": "{n: 1}"}, "not valid JSON"),
        ({"query": "{ moviesCount }", "variables": "NaN"}, "not valid JSON"),
        ({"query": "{ moviesCount }", "variables": "[1]"}, "`variables` must be a JSON object"),
        ({"query": "{ moviesCount }", "extensions": "{"}, "not valid JSON"),
    ],
)
async def test_bad_get_parameters_are_400(
    movies: GraphQLClient, params: dict[str, str], message: str
) -> None:
    response = await movies.http.get("/graphql", params=params)
    assert response.status_code == 400
    assert message in request_error(response)


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/graphql",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonp",
    ],
)
async def test_post_bodies_that_are_not_json_are_415(
    movies: GraphQLClient, content_type: str | None
) -> None:
    response = await post_raw(movies, json.dumps({"query": CREATE}).encode(), content_type)
    assert response.status_code == 415
    assert JSON in request_error(response)
    assert await movie_count(movies) == 0


# -- methods -------------------------------------------------------------------------------


@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE])
async def test_a_mutation_over_get_is_405_and_writes_nothing(
    movies: GraphQLClient, accept: str
) -> None:
    response = await movies.http.get(
        "/graphql", params={"query": CREATE}, headers={"accept": accept}
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert media(response) == accept
    assert "POST" in request_error(response)
    assert await movie_count(movies) == 0


async def test_a_named_mutation_over_get_is_405(movies: GraphQLClient) -> None:
    document = "query Count { moviesCount } " + CREATE.replace("mutation", "mutation Make")
    response = await movies.http.get(
        "/graphql", params={"query": document, "operationName": "Make"}
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert await movie_count(movies) == 0


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS"])
async def test_other_methods_are_405_with_a_json_error(movies: GraphQLClient, method: str) -> None:
    response = await movies.http.request(
        method, "/graphql", json={"query": CREATE}, headers={"accept": GRAPHQL_RESPONSE}
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert media(response) == GRAPHQL_RESPONSE
    assert request_error(response) == "Use GET or POST"
    assert await movie_count(movies) == 0


async def test_head_is_405_without_a_body(movies: GraphQLClient) -> None:
    response = await movies.http.head("/graphql", params={"query": "{ moviesCount }"})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.content == b""


# -- size limit ----------------------------------------------------------------------------


def padded(size: int) -> bytes:
    """A valid request body of exactly ``size`` bytes (JSON whitespace as padding)."""
    body = json.dumps({"query": "{ moviesCount }"}).encode()
    return body[:-1] + b" " * (size - len(body)) + b"}"


async def test_a_body_of_exactly_the_limit_is_read(movies: GraphQLClient) -> None:
    response = await post_raw(movies, padded(LIMIT))
    assert response.status_code == 200
    assert response.json() == {"data": {"moviesCount": 0}}


async def test_a_body_over_the_limit_is_413(movies: GraphQLClient) -> None:
    response = await post_raw(movies, padded(LIMIT + 1))
    assert response.status_code == 413
    assert "larger than" in request_error(response)


async def test_a_streamed_body_over_the_limit_is_413(movies: GraphQLClient) -> None:
    # No Content-Length: the limit must hold while the body is read, chunk by chunk.
    chunks_sent = 0

    async def stream() -> AsyncIterator[bytes]:
        nonlocal chunks_sent
        yield b'{"query": "{ moviesCount }"'
        for _ in range(100):
            chunks_sent += 1
            yield b" " * 65_536
        yield b"}"

    response = await movies.http.post("/graphql", content=stream(), headers={"content-type": JSON})
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert "larger than" in request_error(response)


async def test_a_declared_length_over_the_limit_is_413_before_reading(
    movies: GraphQLClient,
) -> None:
    response = await movies.http.post(
        "/graphql",
        content=b'{"query": "{ moviesCount }"}',
        headers={"content-type": JSON, "content-length": str(LIMIT + 1)},
    )
    assert response.status_code == 413


# -- never a 500 for bad input -------------------------------------------------------------


BAD_INPUTS: list[tuple[str, dict[str, Any]]] = [
    ("POST", {"content": b"\x00" * 10}),
    ("POST", {"content": b'{"query": "{ movies(first: -1) { title } }"}'}),
    ("POST", {"content": b'{"query": "{ movies(first: 99999999999999999999) { title } }"}'}),
    ("POST", {"content": b'{"query": "' + b"{ a " * 5000 + b'"}'}),
    ("POST", {"content": b'{"query": "\\ud800"}'}),
    ("POST", {"content": b'{"query": "{ moviesCount }", "variables": {"\\u0000": 1}}'}),
    ("POST", {"content": b'{"query": "{ moviesCount }", "variables": {"x": 1e400}}'}),
    (
        "POST",
        {"content": b'{"query": "{ moviesCount }", "variables": {"x": ' + b"9" * 5000 + b"}}"},
    ),
    ("POST", {"content": b'{"query": "{ movie(id: \\"\\") { title } }"}'}),
    ("POST", {"content": b'{"query": "{ movie(id: \\"zz\\") { title } }"}'}),
    ("POST", {"content": b'{"query": "{ movies(where: {year_in: []}) { title } }"}'}),
    ("GET", {"params": {"query": "{ moviesCount }", "variables": "null"}}),
    ("GET", {"params": {"query": "{ moviesCount }", "variables": "[" * 5_000}}),
    ("GET", {"params": {"query": "\x00"}}),
]


@pytest.mark.parametrize(("method", "kwargs"), BAD_INPUTS)
@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE])
async def test_bad_input_never_answers_500(
    movies: GraphQLClient, method: str, kwargs: dict[str, Any], accept: str
) -> None:
    headers = {"content-type": JSON, "accept": accept}
    response = await movies.http.request(method, "/graphql", headers=headers, **kwargs)
    assert response.status_code in (200, 400)
    assert media(response) == accept
    body = response.json()
    assert "Internal server error" not in json.dumps(body)
    for error in body.get("errors", []):
        assert error["extensions"]["code"] != "INTERNAL_SERVER_ERROR"


# -- unexpected exceptions -----------------------------------------------------------------


async def test_a_resolver_bug_answers_internal_server_error_without_internals(
    movies: GraphQLClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("secret detail /srv/bastion/data.db")

    # Every way of reading the list: the rows of the projectors, the JSON SQLite writes (which
    # falls back to the projectors when it fails).
    monkeypatch.setattr(Reader, "find_many", broken)
    monkeypatch.setattr(json_sql, "answer", broken)
    with caplog.at_level(logging.ERROR):
        response = await movies.http.post(
            "/graphql", json={"query": "{ movies { title } moviesCount }"}
        )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None  # movies is non-null, so the error nulls the whole data
    [error] = body["errors"]
    assert error["message"] == "Internal server error"
    assert error["path"] == ["movies"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert "secret detail" not in response.text
    assert "RuntimeError" not in response.text
    # The operator still gets the whole story in the log.
    assert "secret detail" in caplog.text
    assert "Traceback" in caplog.text


async def test_a_bug_outside_execution_is_500_without_internals(
    movies: GraphQLClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(Executor, "prepare", broken)
    with caplog.at_level(logging.ERROR):
        response = await movies.http.post(
            "/graphql", json={"query": "{ moviesCount }"}, headers={"accept": GRAPHQL_RESPONSE}
        )
    assert response.status_code == 500
    assert media(response) == GRAPHQL_RESPONSE
    assert response.json() == {
        "errors": [
            {"message": "Internal server error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
        ]
    }
    assert "secret detail" in caplog.text


# -- the document cache --------------------------------------------------------------------


async def test_a_repeated_query_is_parsed_once(
    movies: GraphQLClient, parse_calls: list[str]
) -> None:
    query = "query Count { moviesCount }"
    for _ in range(3):
        assert await movies.data(query) == {"moviesCount": 0}
    response = await movies.http.get("/graphql", params={"query": query})
    assert response.json() == {"data": {"moviesCount": 0}}
    assert parse_calls == [query]

    assert await movies.data("{ moviesCount }") == {"moviesCount": 0}
    assert parse_calls == [query, "{ moviesCount }"]


async def test_cached_documents_still_see_new_variables_and_data(
    movies: GraphQLClient, parse_calls: list[str]
) -> None:
    query = "query ($t: String!) { movies(where: {title: $t}) { title } }"
    assert await movies.data(query, {"t": "Alien"}) == {"movies": []}
    await movies.data(CREATE)
    assert await movies.data(query, {"t": "Alien"}) == {"movies": [{"title": "Alien"}]}
    assert await movies.data(query, {"t": "Heat"}) == {"movies": []}
    assert parse_calls.count(query) == 1


async def test_a_repeated_bad_query_is_not_parsed_again(
    movies: GraphQLClient, parse_calls: list[str]
) -> None:
    for _ in range(3):
        body = await movies.gql("{ movies { nope } }")
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert parse_calls == ["{ movies { nope } }"]


async def test_a_client_that_hangs_up_mid_body_is_not_an_error(
    movies: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'{"query": "{ movi', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    with caplog.at_level(logging.INFO):
        await movies.app(scope, receive, send)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert sent[0]["status"] == 400


async def test_lone_surrogates_are_refused_at_the_edge(movies: GraphQLClient) -> None:
    # Sent as JSON escapes: the decoded strings are not Unicode text.
    raw = (
        '{"query": "mutation($t: String!) { createMovie(data: {title: $t}) { id } }",'
        ' "variables": {"t": "\\ud800"}}'
    )
    response = await movies.http.post(
        "/graphql", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert (await movies.data("{ moviesCount }")) == {"moviesCount": 0}


async def test_an_infinite_float_is_bad_input(movies: GraphQLClient) -> None:
    body = await movies.gql('mutation { createMovie(data: {title: "y", rating: 1e400}) { id } }')
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await movies.data("{ moviesCount }")) == {"moviesCount": 0}


async def test_refused_documents_are_cached_without_growing(movies: GraphQLClient) -> None:
    executor = movies.app.state.service.executor
    for _ in range(3):
        body = await movies.gql("{ nope }")
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert executor.documents.hits == 2


async def test_a_repeated_body_is_answered_as_the_first_was(
    movies: GraphQLClient, parse_calls: list[str]
) -> None:
    """The same bytes, sent again, skip the parse of their JSON and document: the answers (and
    their headers) are those of the first; other bytes for the same request are read anew."""
    await movies.data(CREATE)
    bodies = [
        b'{"query": "{ movies { title } }"}',
        b'{"query": "{ movies { title } }", "variables": {}, "operationName": null}',
        b'{"query": "query A { moviesCount } query B { movies { title } }", "operationName": "B"}',
    ]
    for body in bodies:
        answers = [await post_raw(movies, body) for _ in range(3)]
        for answer in answers:
            assert answer.status_code == 200
            assert answer.json() == {"data": {"movies": [{"title": "Alien"}]}}
            assert answer.content == answers[0].content
            assert answer.headers["cache-control"] == "no-store"
            assert media(answer) == JSON
            assert int(answer.headers["content-length"]) == len(answer.content)
        ids = {answer.headers["x-request-id"] for answer in answers}
        assert len(ids) == 3
    # A document that does not validate is refused each time, with the same errors.
    refused = [await post_raw(movies, b'{"query": "{ movies { nope } }"}') for _ in range(2)]
    assert refused[0].json() == refused[1].json()
    assert refused[0].json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    # Bodies with variables are read each time: each answers for its own values.
    query = "query ($t: String!) { movies(where: {title: $t}) { title } }"
    for title, expected in (
        ("Alien", [{"title": "Alien"}]),
        ("Heat", []),
        ("Alien", [{"title": "Alien"}]),
    ):
        body = json.dumps({"query": query, "variables": {"t": title}}).encode()
        assert (await post_raw(movies, body)).json() == {"data": {"movies": expected}}
    assert parse_calls.count("{ movies { title } }") == 1
