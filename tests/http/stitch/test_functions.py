"""``POST .../functions/call``: callable functions as the SDKs call them, in canonical EJSON.

Each test serves a real project folder with a handler module in-process and posts the bodies
realm-web and the Stitch SDKs send (tests/e2e/test_sdks.py drives the real SDKs).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bastion import load_project
from tests.conftest import write_project
from tests.http.stitch.conftest import APP, BASE, PASSWORD, PROVIDERS, RULES, SCHEMA, bearer
from tests.http.stitch.test_routes import assert_stitch_error

CALL = f"{BASE}/app/{APP}/functions/call"

HANDLERS = """
import asyncio

from bastion.functions.runtime import FunctionError


def echo(event):
    return {
        "arguments": event.arguments,
        "types": [type(a).__name__ for a in event.arguments],
        "data": event.data,
        "viewer": event.context.viewer.user_id,
        "function": event.function,
    }


def add(event):
    return sum(event.arguments)


def refuse(event):
    raise FunctionError("not today, " + event.arguments[0])


def crash(event):
    raise RuntimeError("secret internals")


def odd_value(event):
    return {"numbers": {1, 2}}


def huge_number(event):
    return 2 ** 70


async def notes(event):
    data = await event.context.api.request("{ notes(orderBy: [text_ASC]) { text } }")
    return [note["text"] for note in data["notes"]]


async def note(event):
    made = await event.context.api.request(
        "mutation ($t: String!, $o: ID!) "
        "{ createNote(data: {text: $t, owner: {connect: {id: $o}}}) { text } }",
        {"t": event.arguments[0], "o": event.context.viewer.user_id},
    )
    return made["createNote"]["text"]


def hello(event):
    return "hello"


def iso_dates(event):
    return [date.isoformat() for date in event.arguments]


def nothing(event):
    return None
"""

FUNCTIONS = {
    "echo": {"handler": "handlers:echo", "callable": True},
    "add": {"handler": "handlers:add", "callable": True},
    "refuse": {"handler": "handlers:refuse", "callable": True},
    "crash": {"handler": "handlers:crash", "callable": True},
    "oddValue": {"handler": "handlers:odd_value", "callable": True},
    "hugeNumber": {"handler": "handlers:huge_number", "callable": True},
    "nothing": {"handler": "handlers:nothing", "callable": True},
    "isoDates": {"handler": "handlers:iso_dates", "callable": True},
    "readNotes": {"handler": "handlers:notes", "callable": True},
    "readNotesAsCaller": {"handler": "handlers:notes", "callable": True, "run_as": "caller"},
    "readNotesAsSystem": {"handler": "handlers:notes", "callable": True, "run_as": "system"},
    "writeNote": {"handler": "handlers:note", "callable": True},
    # Not callable: a resolver and a hook must look exactly like missing functions.
    "hello": {"handler": "handlers:hello", "schema": "extend type Query { hello: String }"},
    "stamp": {"handler": "handlers:hello", "hook": "after", "operation": "Note.create"},
}


@dataclass
class Calls:
    """A client of one project's function route, and its users' tokens."""

    http: httpx.AsyncClient
    app: Any

    async def user(self, email: str = "ann@example.com") -> dict[str, Any]:
        """Register ``email`` and log it in (local-userpass); the login body."""
        register = await self.http.post(
            f"{BASE}/app/{APP}/auth/providers/local-userpass/register",
            json={"email": email, "password": PASSWORD},
        )
        assert register.status_code == 201, register.text
        login = await self.http.post(
            f"{BASE}/app/{APP}/auth/providers/local-userpass/login",
            json={"username": email, "password": PASSWORD},
        )
        assert login.status_code == 200, login.text
        body: dict[str, Any] = login.json()
        return body

    async def call(
        self, token: str | None, name: str, *arguments: Any, **extra: Any
    ) -> httpx.Response:
        """POST a call as the SDKs do: the whole body in canonical Extended JSON."""
        body = {"name": name, "arguments": list(arguments), **extra}
        return await self.post(token, json.dumps(body).encode())

    async def post(self, token: str | None, content: bytes) -> httpx.Response:
        """POST ``content`` as the body of a call."""
        headers = {"Content-Type": "application/json", **(bearer(token) if token else {})}
        return await self.http.post(CALL, content=content, headers=headers)

    def root(self) -> dict[str, str]:
        """The functions' root token, as a header."""
        return bearer(self.app.state.service.functions.root_token)


@pytest.fixture
def calls_for(tmp_path: Path, client_for: Callable[..., Any]) -> Callable[..., Any]:
    """Serve a project with the handlers above and ``FUNCTIONS`` (or the given ones)."""
    folders = iter(range(100))

    async def start(functions: dict[str, Any] | None = None, **config: Any) -> Calls:
        root = tmp_path / f"p{next(folders)}"
        write_project(
            root,
            SCHEMA,
            permissions=RULES,
            auth={"providers": PROVIDERS},
            functions=functions or FUNCTIONS,
            **config,
        )
        (root / "handlers.py").write_text(HANDLERS, encoding="utf-8")
        client = await client_for(load_project(root))
        return Calls(client.http, client.app)

    return start


@pytest.fixture
async def calls(calls_for: Callable[..., Any]) -> Calls:
    """The project with every function above."""
    started: Calls = await calls_for()
    return started


def assert_value(response: httpx.Response, expected: Any) -> None:
    """A 200 whose body is ``expected``, as canonical Extended JSON, never cached."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == expected


def i32(value: int) -> dict[str, str]:
    return {"$numberInt": str(value)}


# -- calling ----------------------------------------------------------------------------------


async def test_a_call_answers_the_value_in_canonical_ejson(calls: Calls) -> None:
    ann = await calls.user()
    response = await calls.call(ann["access_token"], "add", i32(1), {"$numberDouble": "2.5"})
    assert_value(response, {"$numberDouble": "3.5"})
    # Relaxed (plain JSON) numbers are read too; the answer is canonical all the same.
    assert_value(await calls.call(ann["access_token"], "add", 1, 2), i32(3))
    assert_value(await calls.call(ann["access_token"], "nothing"), None)
    # Without arguments (a hand-written call), the handler gets an empty list.
    bare = await calls.post(ann["access_token"], b'{"name": "add"}')
    assert_value(bare, i32(0))


async def test_the_handler_gets_the_arguments_and_the_caller(calls: Calls) -> None:
    ann = await calls.user()
    response = await calls.call(ann["access_token"], "echo", "x", i32(2))
    assert_value(
        response,
        {
            "arguments": ["x", i32(2)],
            "types": ["str", "int"],
            "data": {},
            "viewer": ann["user_id"],
            "function": "echo",
        },
    )


EJSON_ARGUMENTS = [
    i32(-7),
    {"$numberLong": "9007199254740993"},
    {"$numberDouble": "-0.5"},
    {"$numberDouble": "NaN"},
    {"$numberDecimal": "1.10"},
    {"$oid": "5f1d7c3a9b1e8a0012345678"},
    {"$date": {"$numberLong": "1577836800123"}},
    {"deep": {"list": [i32(1), "two", None, True, [{"$numberLong": "3"}]], "empty": {}}},
    [],
    "héllo ☃ 😀 e\u0301 中文",
]


async def test_ejson_types_arrive_as_bson_values_and_come_back_unchanged(calls: Calls) -> None:
    ann = await calls.user()
    response = await calls.call(ann["access_token"], "echo", *EJSON_ARGUMENTS)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["types"] == [
        "int",
        "Int64",
        "float",
        "float",
        "Decimal128",
        "ObjectId",
        "datetime",
        "dict",
        "list",
        "str",
    ]
    assert body["arguments"] == EJSON_ARGUMENTS


async def test_dates_arrive_as_aware_utc_datetimes(calls: Calls) -> None:
    ann = await calls.user()
    date = {"$date": {"$numberLong": "1577836800123"}}
    response = await calls.call(ann["access_token"], "isoDates", date)
    assert_value(response, ["2020-01-01T00:00:00.123000+00:00"])


# -- the caller's rules, or the system's --------------------------------------------------------


async def test_api_requests_run_as_the_caller_under_their_rules(calls: Calls) -> None:
    ann, bob = await calls.user(), await calls.user("bob@example.com")
    create = (
        "mutation ($o: ID!) { createNote(data: {text: $t, owner: {connect: {id: $o}}}) { id } }"
    )
    create = create.replace("($o: ID!)", "($o: ID!, $t: String!)")
    for text in ("ann's", "ann's too"):
        made = await calls.http.post(
            "/graphql",
            json={"query": create, "variables": {"o": ann["user_id"], "t": text}},
            headers=bearer(ann["access_token"]),
        )
        assert "errors" not in made.json(), made.json()
    # Notes are readable by their owner only: inside the function too.
    for name in ("readNotes", "readNotesAsCaller"):
        assert_value(await calls.call(ann["access_token"], name), ["ann's", "ann's too"])
        assert_value(await calls.call(bob["access_token"], name), [])
    # run_as: system runs the function's documents as the functions' root.
    assert_value(await calls.call(bob["access_token"], "readNotesAsSystem"), ["ann's", "ann's too"])


async def test_writes_through_api_are_the_callers_own(calls: Calls) -> None:
    ann = await calls.user()
    assert_value(
        await calls.call(ann["access_token"], "writeNote", "from a function"), "from a function"
    )
    # Written as Ann: she reads it back through GraphQL (notes are their owner's only).
    query = {"query": "{ notes { text owner { id } } }"}
    body = await calls.http.post("/graphql", json=query, headers=bearer(ann["access_token"]))
    assert body.json()["data"]["notes"] == [
        {"text": "from a function", "owner": {"id": ann["user_id"]}}
    ]


async def test_callable_functions_are_not_in_the_graphql_schema(calls: Calls) -> None:
    query = "{ __schema { queryType { fields { name } } mutationType { fields { name } } } }"
    response = await calls.http.post("/graphql", json={"query": query}, headers=calls.root())
    schema = response.json()["data"]["__schema"]
    names = {f["name"] for root in schema.values() for f in root["fields"]}
    assert "hello" in names  # the resolver is
    assert not names & set(FUNCTIONS) - {"hello", "stamp"}


# -- errors -------------------------------------------------------------------------------------


async def test_unknown_and_not_callable_functions_answer_alike(calls: Calls) -> None:
    ann = await calls.user()
    answers = {}
    for name in ("nope", "hello", "stamp"):
        response = await calls.call(ann["access_token"], name)
        assert_stitch_error(response, 404, "FunctionNotFound")
        answers[name] = response.json()
    assert answers["nope"]["error"] == "function not found: 'nope'"
    # Only the name differs: a resolver or a hook is indistinguishable from nothing.
    assert answers["hello"] == {**answers["nope"], "error": "function not found: 'hello'"}
    assert answers["stamp"] == {**answers["nope"], "error": "function not found: 'stamp'"}


async def test_a_function_error_is_a_function_execution_error_with_its_message(
    calls: Calls,
) -> None:
    ann = await calls.user()
    response = await calls.call(ann["access_token"], "refuse", "Ann")
    assert_stitch_error(response, 400, "FunctionExecutionError")
    assert response.json()["error"] == "not today, Ann"


async def test_a_crash_names_the_function_and_logs_the_traceback(
    calls: Calls, caplog: pytest.LogCaptureFixture
) -> None:
    ann = await calls.user()
    with caplog.at_level(logging.ERROR, logger="bastion.functions"):
        response = await calls.call(ann["access_token"], "crash")
    assert_stitch_error(response, 400, "FunctionExecutionError")
    assert response.json()["error"] == "Function 'crash' failed"
    assert "secret internals" not in response.text
    assert "secret internals" in caplog.text and "Traceback" in caplog.text
    # The server goes on.
    assert_value(await calls.call(ann["access_token"], "add", 1), i32(1))


@pytest.mark.parametrize("name", ["oddValue", "hugeNumber"])
async def test_a_value_ejson_cannot_encode_names_the_function(
    calls: Calls, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    ann = await calls.user()
    with caplog.at_level(logging.ERROR, logger="bastion.functions"):
        response = await calls.call(ann["access_token"], name)
    assert_stitch_error(response, 400, "FunctionExecutionError")
    assert response.json()["error"] == (
        f"Function {name!r} returned a value that Extended JSON cannot encode"
    )
    assert f"function {name} returned a value" in caplog.text and "Traceback" in caplog.text


@pytest.mark.parametrize(
    "content",
    [
        b"{",
        b"[1]",
        b'"add"',
        b"NaN",
        b"",
        b'{"arguments": []}',
        b'{"name": 5, "arguments": []}',
        b'{"name": "", "arguments": []}',
        b'{"name": "add", "arguments": {"a": 1}}',
        b'{"name": "add", "arguments": "1, 2"}',
        b'{"name": "echo", "arguments": [{"$oid": "zz"}]}',
        b'{"name": "echo", "arguments": [{"$numberInt": "one"}]}',
        b'{"name": "echo", "arguments": [{"$numberLong": "99999999999999999999"}]}',
        b'{"name": "echo", "arguments": [99999999999999999999]}',
        b'{"name": "echo", "arguments": [{"$date": "yesterday"}]}',
        b'{"name": "echo", "arguments": ["\\ud800"]}',
        b'{"name": "echo", "arguments": [NaN]}',
        "\ufeff{}".encode(),
    ],
)
async def test_malformed_calls_are_invalid_parameter(calls: Calls, content: bytes) -> None:
    ann = await calls.user()
    response = await calls.post(ann["access_token"], content)
    assert_stitch_error(response, 400, "InvalidParameter")


async def test_the_body_is_limited_before_it_is_parsed(calls_for: Callable[..., Any]) -> None:
    calls = await calls_for(http={"max_body_bytes": 4096})
    ann = await calls.user()
    big = await calls.call(ann["access_token"], "add", *([1] * 2000))
    assert_stitch_error(big, 413, "BadRequest")
    assert_value(await calls.call(ann["access_token"], "add", *([1] * 100)), i32(100))


async def test_a_service_is_not_supported(calls: Calls) -> None:
    ann = await calls.user()
    # What user.mongoClient("mongodb-atlas").db("d").collection("c").find() sends.
    find = {"database": "d", "collection": "c", "query": {}}
    response = await calls.call(ann["access_token"], "find", find, service="mongodb-atlas")
    assert_stitch_error(response, 400, "ServicesNotSupported")
    assert "services are not supported" in response.json()["error"]
    # Also for the name of a callable function: it does not run.
    response = await calls.call(ann["access_token"], "add", 1, service="mongodb-atlas")
    assert_stitch_error(response, 400, "ServicesNotSupported")


async def test_the_streaming_variant_is_not_supported(calls: Calls) -> None:
    ann = await calls.user()
    for params in (
        {"baas_request": "eyJuYW1lIjoiYWRkIiwiYXJndW1lbnRzIjpbXX0="},
        {"stitch_request": "eyJuYW1lIjoiYWRkIiwiYXJndW1lbnRzIjpbXX0=", "stitch_at": "x"},
    ):
        response = await calls.http.get(
            CALL,
            params=params,
            headers={"Accept": "text/event-stream", **bearer(ann["access_token"])},
        )
        assert_stitch_error(response, 501, "FunctionStreamingNotSupported")


async def test_another_app_id_is_not_found(calls: Calls) -> None:
    ann = await calls.user()
    response = await calls.http.post(
        f"{BASE}/app/other-app/functions/call",
        json={"name": "add", "arguments": []},
        headers=bearer(ann["access_token"]),
    )
    assert_stitch_error(response, 404, "AppNotFound")


# -- who may call -------------------------------------------------------------------------------


async def test_no_or_a_bad_token_is_invalid_session(calls: Calls) -> None:
    assert_stitch_error(await calls.call(None, "add", 1), 401, "InvalidSession")
    assert_stitch_error(await calls.call("not.a.token", "add", 1), 401, "InvalidSession")
    # A root token has no user: it is not an SDK user's access token.
    response = await calls.http.post(
        CALL, json={"name": "add", "arguments": []}, headers=calls.root()
    )
    assert_stitch_error(response, 401, "InvalidSession")
    # Before the body is read: a caller without a token learns nothing about its call.
    assert_stitch_error(await calls.post(None, b"{"), 401, "InvalidSession")


async def test_an_expired_token_is_invalid_session_until_refreshed(
    calls: Calls, clock: Any
) -> None:
    ann = await calls.user()
    clock.advance(1800 + 31)
    assert_stitch_error(await calls.call(ann["access_token"], "add", 1), 401, "InvalidSession")
    fresh = await calls.http.post(f"{BASE}/auth/session", headers=bearer(ann["refresh_token"]))
    assert fresh.status_code == 201
    assert_value(await calls.call(fresh.json()["access_token"], "add", 1), i32(1))


async def test_a_logged_out_users_call_is_invalid_session(calls: Calls) -> None:
    ann = await calls.user()
    logout = await calls.http.delete(f"{BASE}/auth/session", headers=bearer(ann["refresh_token"]))
    assert logout.status_code == 204
    assert_stitch_error(await calls.call(ann["access_token"], "add", 1), 401, "InvalidSession")


async def test_a_deactivated_users_call_is_invalid_session(calls: Calls) -> None:
    ann = await calls.user()
    assert_value(await calls.call(ann["access_token"], "add", 1), i32(1))
    deactivated = await calls.http.post(
        "/graphql",
        json={
            "query": "mutation ($id: ID!) { deactivateUser(id: $id) { id } }",
            "variables": {"id": ann["user_id"]},
        },
        headers=calls.root(),
    )
    assert "errors" not in deactivated.json(), deactivated.json()
    assert_stitch_error(await calls.call(ann["access_token"], "add", 1), 401, "InvalidSession")
    refresh = await calls.http.post(f"{BASE}/auth/session", headers=bearer(ann["refresh_token"]))
    assert_stitch_error(refresh, 401, "InvalidSession")
