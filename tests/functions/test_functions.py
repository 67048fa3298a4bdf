"""Functions: resolvers that extend Query and Mutation, and hooks before and after writes.

Each test writes a real project folder with handler modules next to bastion.yml and serves it
in-process; the handlers are real Python imported from that folder.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bastion import load_project
from bastion.errors import ProjectError
from tests import databases
from tests.conftest import GraphQLClient, write_project

SCHEMA = """
type Movie {
  title: String! @unique
  year: Int
  createdAt: DateTime!
}

type Log {
  text: String!
}
"""
# Movies are open to everyone; logs only to root (no rules), so only functions write them.
RULES = {"Movie": {op: "everyone" for op in ("read", "create", "update", "delete")}}

HANDLERS = """
import asyncio

from bastion.functions.runtime import FunctionError


def hello(event):
    viewer = event.context.viewer
    return f"hello {event.data['name']} from {viewer.kind}"


async def add_logged_movie(event):
    api = event.context.api
    made = await api.request(
        "mutation($t: String!) { createMovie(data: {title: $t}) { id title } }",
        {"t": event.data["title"]},
    )
    await api.request('mutation { createLog(data: {text: "added"}) { id } }')
    if event.data.get("fail"):
        raise FunctionError("changed my mind")
    return made["createMovie"]["id"]


def my_root_token(event):
    return event.context.root_token


def crash(event):
    raise RuntimeError("secret internals")


def leave(event):
    import sys

    sys.exit(3)


async def cancel(event):
    raise asyncio.CancelledError("not a real cancellation")


def shout(event):
    data = dict(event.data)
    data["title"] = data["title"].upper()
    return data


def no_sequels(event):
    if event.data.get("title", "").endswith(" 2"):
        raise FunctionError("No sequels, please")


def bad_data(event):
    return {"title": 42}


async def log_after(event):
    await asyncio.sleep(0)
    await event.context.api.request(
        "mutation($t: String!) { createLog(data: {text: $t}) { id } }",
        {"t": f"{event.operation} {event.type_name} {event.node['title']} {event.id}"},
    )


def crash_after(event):
    raise ValueError("late")


async def recurse(event):
    await event.context.api.request(
        'mutation { createMovie(data: {title: "again"}) { id } }'
    )


def log_lines(event):
    return None


async def isolated_too_late(event):
    api = event.context.api
    await api.request('mutation { createLog(data: {text: "shared"}) { id } }')
    await api.request('mutation { createLog(data: {text: "isolated"}) { id } }', isolated=True)


async def isolated_first(event):
    api = event.context.api
    await api.request('mutation { createLog(data: {text: "kept"}) { id } }', isolated=True)
    await api.request('mutation { createLog(data: {text: "undone"}) { id } }')
    raise FunctionError("refused")
"""


def project_with(root: Path, functions: dict[str, Any], **config: Any) -> Path:
    """A project folder with the handler module `handlers.py` and these functions."""
    write_project(root, SCHEMA, permissions=RULES, functions=functions, **config)
    (root / "handlers.py").write_text(HANDLERS, encoding="utf-8")
    return root


@pytest.fixture
def serve(tmp_path: Path, client_for: Callable[..., Any]) -> Callable[..., Any]:
    folders = iter(range(100))

    async def start(functions: dict[str, Any], **config: Any) -> GraphQLClient:
        root = project_with(tmp_path / f"p{next(folders)}", functions, **config)
        client: GraphQLClient = await client_for(load_project(root))
        return client

    return start


def root_headers(client: GraphQLClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.app.state.service.functions.root_token}"}


async def titles(client: GraphQLClient) -> list[str]:
    data = await client.data("{ movies(orderBy: [title_ASC]) { title } }")
    return [m["title"] for m in data["movies"]]


async def logs(client: GraphQLClient) -> list[str]:
    body = await client.gql("{ logs { text } }", headers=root_headers(client))
    return [entry["text"] for entry in body["data"]["logs"]]


# -- resolvers ------------------------------------------------------------------------------


async def test_a_resolver_extends_query(serve: Callable[..., Any]) -> None:
    client = await serve(
        {
            "hello": {
                "handler": "handlers:hello",
                "schema": "extend type Query { hello(name: String!): String! }",
            }
        }
    )
    data = await client.data('{ hello(name: "ann") }')
    assert data == {"hello": "hello ann from anonymous"}


async def test_a_mutation_resolver_writes_through_api_in_the_request_transaction(
    serve: Callable[..., Any],
) -> None:
    client = await serve(
        {
            "addLoggedMovie": {
                "handler": "handlers:add_logged_movie",
                "schema": "extend type Mutation { addLoggedMovie(title: String!, "
                "fail: Boolean): ID! }",
            }
        }
    )
    data = await client.data('mutation { addLoggedMovie(title: "Alien") }')
    assert isinstance(data["addLoggedMovie"], str)
    assert await titles(client) == ["Alien"]
    assert await logs(client) == ["added"]
    # The handler refuses after writing through api: the whole request is undone.
    body = await client.gql('mutation { addLoggedMovie(title: "Brazil", fail: true) }')
    assert body["data"] is None
    assert body["errors"][0]["message"] == "changed my mind"
    assert body["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "function": "addLoggedMovie",
    }
    assert await titles(client) == ["Alien"]
    assert await logs(client) == ["added"]


async def test_an_isolated_api_request_outlives_the_refusal(serve: Callable[..., Any]) -> None:
    sdl = "extend type Mutation {{ {}: Boolean }}"
    client = await serve(
        {
            "first": {"handler": "handlers:isolated_first", "schema": sdl.format("first")},
            "late": {"handler": "handlers:isolated_too_late", "schema": sdl.format("late")},
        }
    )
    body = await client.gql("mutation { first }")
    assert body["errors"][0]["message"] == "refused"
    assert await logs(client) == ["kept"]
    body = await client.gql("mutation { late }")
    if databases.on_postgresql():
        # PostgreSQL runs the isolated request beside the request's own transaction.
        assert body == {"data": {"late": None}}
        assert sorted(await logs(client)) == ["isolated", "kept", "shared"]
        return
    # On SQLite an isolated request after the request's own writes would wait for their
    # lock: it is refused at once instead, and nothing of the request is written.
    assert body["errors"][0]["extensions"]["code"] == "FUNCTION_FAILED"
    assert await logs(client) == ["kept"]


async def test_the_root_token_of_functions_is_a_real_root_token(serve: Callable[..., Any]) -> None:
    client = await serve(
        {
            "token": {
                "handler": "handlers:my_root_token",
                "schema": "extend type Query { token: String! }",
            }
        },
        root_tokens=["ci"],
    )
    token = (await client.data("{ token }"))["token"]
    body = await client.gql("{ viewer { isRoot } }", headers={"Authorization": f"Bearer {token}"})
    assert body["data"] == {"viewer": {"isRoot": True}}
    # It is Bastion's own: not listed with the project's root tokens, not revoked by deploy.
    tokens = client.app.state.service.auth.root_tokens
    assert [t.name for t in await tokens.list()] == []
    await tokens.deploy(["ci"])
    body = await client.gql("{ viewer { isRoot } }", headers={"Authorization": f"Bearer {token}"})
    assert body["data"] == {"viewer": {"isRoot": True}}


async def test_a_crashing_handler_is_an_error_naming_it(
    serve: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    client = await serve(
        {"boom": {"handler": "handlers:crash", "schema": "extend type Query { boom: Int }"}}
    )
    with caplog.at_level(logging.ERROR, logger="bastion.functions"):
        body = await client.gql("{ boom }")
    assert body["errors"][0]["message"] == "Function 'boom' failed"
    assert body["errors"][0]["extensions"] == {"code": "FUNCTION_FAILED", "function": "boom"}
    assert "secret internals" not in str(body)
    assert "secret internals" in caplog.text and "Traceback" in caplog.text
    # The server goes on.
    assert await titles(client) == []


@pytest.mark.parametrize("handler", ["leave", "cancel"])
async def test_a_handler_exiting_or_cancelling_itself_is_an_error_naming_it(
    serve: Callable[..., Any], caplog: pytest.LogCaptureFixture, handler: str
) -> None:
    client = await serve(
        {"quit": {"handler": f"handlers:{handler}", "schema": "extend type Query { quit: Int }"}}
    )
    with caplog.at_level(logging.ERROR, logger="bastion.functions"):
        response = await client.http.post("/graphql", json={"query": "{ quit }"})
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"] == {
        "code": "FUNCTION_FAILED",
        "function": "quit",
    }
    assert "function quit failed" in caplog.text and "Traceback" in caplog.text
    assert await titles(client) == []


# -- hooks ----------------------------------------------------------------------------------


async def test_a_before_hook_changes_the_input(serve: Callable[..., Any]) -> None:
    client = await serve(
        {"shout": {"handler": "handlers:shout", "hook": "before", "operation": "Movie.create"}}
    )
    data = await client.data('mutation { createMovie(data: {title: "alien"}) { title } }')
    assert data == {"createMovie": {"title": "ALIEN"}}


async def test_a_before_hook_refusing_a_create_leaves_nothing_written(
    serve: Callable[..., Any],
) -> None:
    client = await serve(
        {
            "noSequels": {
                "handler": "handlers:no_sequels",
                "hook": "before",
                "operation": "Movie.create",
            },
            "logIt": {
                "handler": "handlers:log_after",
                "hook": "after",
                "operation": "Movie.create",
            },
        }
    )
    body = await client.gql(
        'mutation { a: createMovie(data: {title: "Alien"}) { id } '
        'b: createMovie(data: {title: "Alien 2"}) { id } }'
    )
    assert body["data"] is None
    assert body["errors"][0]["message"] == "No sequels, please"
    assert body["errors"][0]["path"] == ["b"]
    # Neither movie of the document, and no after hook ran.
    assert await titles(client) == []
    assert await logs(client) == []


async def test_before_hooks_of_update_and_delete_can_refuse(serve: Callable[..., Any]) -> None:
    client = await serve(
        {
            "noSequelRenames": {
                "handler": "handlers:no_sequels",
                "hook": "before",
                "operation": "Movie.update",
            },
            "keepAll": {"handler": "handlers:crash", "hook": "before", "operation": "Movie.delete"},
        }
    )
    made = await client.data('mutation { createMovie(data: {title: "Alien"}) { id } }')
    movie = made["createMovie"]["id"]
    body = await client.gql(
        'mutation($id: ID!) { updateMovie(id: $id, data: {title: "Alien 2"}) { id } }',
        {"id": movie},
    )
    assert body["errors"][0]["message"] == "No sequels, please"
    body = await client.gql("mutation($id: ID!) { deleteMovie(id: $id) { id } }", {"id": movie})
    assert body["errors"][0]["extensions"]["code"] == "FUNCTION_FAILED"
    assert await titles(client) == ["Alien"]


async def test_a_before_hook_returning_data_of_the_wrong_shape_is_refused(
    serve: Callable[..., Any],
) -> None:
    client = await serve(
        {"bad": {"handler": "handlers:bad_data", "hook": "before", "operation": "Movie.create"}}
    )
    body = await client.gql('mutation { createMovie(data: {title: "Alien"}) { id } }')
    assert body["errors"][0]["message"].startswith("Function 'bad' returned data that does not fit")
    assert "title" in body["errors"][0]["message"]
    assert await titles(client) == []


async def test_after_hooks_run_after_the_commit(serve: Callable[..., Any]) -> None:
    client = await serve(
        {
            "logCreate": {
                "handler": "handlers:log_after",
                "hook": "after",
                "operation": "Movie.create",
            },
            "logDelete": {
                "handler": "handlers:log_after",
                "hook": "after",
                "operation": "Movie.delete",
            },
        }
    )
    made = await client.data('mutation { createMovie(data: {title: "Alien"}) { id } }')
    movie = made["createMovie"]["id"]
    await client.data("mutation($id: ID!) { deleteMovie(id: $id) { id } }", {"id": movie})
    assert await logs(client) == [f"create Movie Alien {movie}", f"delete Movie Alien {movie}"]


async def test_a_failing_after_hook_reports_but_keeps_the_write(
    serve: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    client = await serve(
        {"late": {"handler": "handlers:crash_after", "hook": "after", "operation": "Movie.create"}}
    )
    with caplog.at_level(logging.ERROR, logger="bastion.functions"):
        body = await client.gql('mutation { createMovie(data: {title: "Alien"}) { title } }')
    assert body["data"] == {"createMovie": {"title": "Alien"}}
    assert body["errors"] == [
        {
            "message": "Function 'late' failed after the write was committed",
            "extensions": {"code": "FUNCTION_FAILED", "function": "late"},
        }
    ]
    assert "ValueError: late" in caplog.text
    assert await titles(client) == ["Alien"]


async def test_a_hook_writing_its_own_type_stops_and_writes_nothing(
    serve: Callable[..., Any],
) -> None:
    client = await serve(
        {"loop": {"handler": "handlers:recurse", "hook": "before", "operation": "Movie.create"}}
    )
    body = await client.gql('mutation { createMovie(data: {title: "Alien"}) { id } }')
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "FUNCTION_FAILED", "function": "loop"}
    assert await titles(client) == []


# -- bad projects ---------------------------------------------------------------------------


def problems_of(root: Path, functions: dict[str, Any], module: str | None = None) -> str:
    project_with(root, functions)
    if module is not None:
        (root / "handlers.py").write_text(module, encoding="utf-8")
    with pytest.raises(ProjectError) as raised:
        load_project(root)
    return str(raised.value)


@pytest.mark.parametrize(
    ("functions", "module", "expected"),
    [
        (
            {"f": {"handler": "nowhere:f", "schema": "extend type Query { f: Int }"}},
            None,
            "functions.f.handler: no module 'nowhere'",
        ),
        (
            {"f": {"handler": "handlers:missing", "schema": "extend type Query { f: Int }"}},
            None,
            "module 'handlers' has no function 'missing'",
        ),
        (
            {"f": {"handler": "handlers:f", "schema": "extend type Query { f: Int }"}},
            "import not_a_real_package\n",
            "cannot import module 'handlers': ModuleNotFoundError: "
            "No module named 'not_a_real_package' (handlers.py:1)",
        ),
        (
            {"f": {"handler": "handlers:f", "schema": "extend type Query { f: Int }"}},
            "def f(event):\n    return (\n",
            "cannot import module 'handlers': SyntaxError",
        ),
        (
            {"f": {"handler": "handlers:f", "schema": "extend type Query { f: Int }"}},
            "raise SystemExit(3)\n",
            "cannot import module 'handlers': SystemExit: 3",
        ),
        (
            {"f": {"handler": "handlers:log_lines", "hook": "before", "operation": "Film.create"}},
            None,
            "functions.f.operation: no type 'Film' in the model",
        ),
        (
            {"f": {"handler": "handlers", "schema": "extend type Query { f: Int }"}},
            None,
            "functions.f.handler: expected module:function",
        ),
        (
            {"f": {"handler": "handlers:hello", "hook": "before"}},
            None,
            "a function needs schema (a resolver), both hook and operation (a hook), or callable",
        ),
        (
            {"f": {"handler": "handlers:hello", "hook": "during", "operation": "Movie.create"}},
            None,
            "functions.f.hook",
        ),
        (
            {"f": {"handler": "handlers:hello", "hook": "before", "operation": "Movie.upsert"}},
            None,
            "expected Type.create|update|delete",
        ),
    ],
)
def test_bad_functions_stop_the_project_with_a_clear_message(
    tmp_path: Path, functions: dict[str, Any], module: str | None, expected: str
) -> None:
    assert expected in problems_of(tmp_path / "p", functions, module)


@pytest.mark.parametrize(
    ("sdl", "expected"),
    [
        ("extend type Query { f: Nope }", "Unknown type 'Nope'"),
        ("extend type Query { f: Int, g: Int }", "adds exactly one field"),
        ("extend type Movie { f: Int }", "only `extend type Query` or `extend type Mutation`"),
        ("extend type Mutation { createMovie: Int }", "Mutation.createMovie exists already"),
        ("extend type Query { f: Int", "Syntax Error"),
    ],
)
async def test_bad_resolver_schemas_stop_the_start(
    tmp_path: Path, client_for: Callable[..., Any], sdl: str, expected: str
) -> None:
    root = project_with(tmp_path / "p", {"f": {"handler": "handlers:hello", "schema": sdl}})
    with pytest.raises(ProjectError) as raised:
        await client_for(load_project(root))
    assert "functions.f.schema" in str(raised.value)
    assert expected in str(raised.value)


def test_handlers_of_two_projects_do_not_mix(tmp_path: Path) -> None:
    first = project_with(
        tmp_path / "a", {"f": {"handler": "handlers:f", "schema": "extend type Query { f: Int }"}}
    )
    second = project_with(
        tmp_path / "b", {"f": {"handler": "handlers:f", "schema": "extend type Query { f: Int }"}}
    )
    (first / "handlers.py").write_text("def f(event):\n    return 1\n", encoding="utf-8")
    (second / "handlers.py").write_text(
        textwrap.dedent(
            """
            from .helpers import two

            def f(event):
                return two()
            """
        ),
        encoding="utf-8",
    )
    (second / "helpers.py").write_text("def two():\n    return 2\n", encoding="utf-8")
    a, b = load_project(first), load_project(second)
    assert a.functions["f"].handler(None) == 1
    assert b.functions["f"].handler(None) == 2
    # Loading again reads the edited module.
    (first / "handlers.py").write_text("def f(event):\n    return 10\n", encoding="utf-8")
    assert load_project(first).functions["f"].handler(None) == 10


def test_serve_and_deploy_stop_on_a_handler_that_does_not_import(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from bastion.cli import main

    root = project_with(
        tmp_path / "p", {"f": {"handler": "handlers:f", "schema": "extend type Query { f: Int }"}}
    )
    (root / "handlers.py").write_text("import not_a_real_package\n", encoding="utf-8")
    for command in ("serve", "deploy"):
        result = CliRunner().invoke(main, [command, str(root)])
        assert result.exit_code == 1, command
        assert "functions.f.handler: cannot import module 'handlers'" in result.output
        assert "No module named 'not_a_real_package'" in result.output
        assert "Traceback" not in result.output
    assert not (root / ".bastion" / "data.db").exists()  # deploy stopped before the database
