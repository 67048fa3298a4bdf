"""Callable functions at their own floor: lookup, the event, and whom ``api`` runs as.

The HTTP face (bodies, EJSON, status codes) is tried in tests/http/stitch/test_functions.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bastion import load_project
from bastion.auth.viewer import Viewer, ViewerKind
from bastion.functions.callable import FunctionNotFound, call, callable_function
from bastion.functions.runtime import FUNCTIONS_TOKEN, FunctionError, FunctionFailed
from tests.conftest import write_project

HANDLERS = """
from bastion.functions.runtime import FunctionError


def describe(event):
    event.arguments.append("changed by the handler")
    return {
        "arguments": event.arguments,
        "data": event.data,
        "viewer": event.context.viewer,
        "api_viewer": event.context.api._viewer,
        "type_name": event.type_name,
        "operation": event.operation,
    }


def refuse(event):
    raise FunctionError("no")


def crash(event):
    raise KeyError("internals")


def hello(event):
    return "hello"
"""

FUNCTIONS = {
    "describe": {"handler": "handlers:describe", "callable": True},
    "describeAsSystem": {"handler": "handlers:describe", "callable": True, "run_as": "system"},
    "refuse": {"handler": "handlers:refuse", "callable": True},
    "crash": {"handler": "handlers:crash", "callable": True},
    "hello": {"handler": "handlers:hello", "schema": "extend type Query { hello: String }"},
}
ANN = Viewer(ViewerKind.USER, user_id="a" * 24, session_id="b" * 24)


@pytest.fixture
async def runtime(tmp_path: Path, client_for: Callable[..., Any]) -> Any:
    root = write_project(tmp_path / "p", "type Note { text: String! }", functions=FUNCTIONS)
    (root / "handlers.py").write_text(HANDLERS, encoding="utf-8")
    client = await client_for(load_project(root))
    return client.app.state.service.functions


async def test_a_callable_function_gets_its_arguments_and_caller(runtime: Any) -> None:
    arguments = [1, "two"]
    result = await call(runtime, callable_function(runtime, "describe"), arguments, ANN)
    assert result["arguments"] == [1, "two", "changed by the handler"]
    assert arguments == [1, "two"]  # the handler has a list of its own
    assert result["data"] == {}
    assert result["viewer"] == ANN
    assert result["type_name"] is None and result["operation"] is None


async def test_api_runs_as_the_caller_or_as_the_functions_root(runtime: Any) -> None:
    as_caller = await call(runtime, callable_function(runtime, "describe"), [], ANN)
    assert as_caller["api_viewer"] == ANN
    function = callable_function(runtime, "describeAsSystem")
    as_system = await call(runtime, function, [], ANN)
    assert as_system["viewer"] == ANN  # who asks does not change
    assert as_system["api_viewer"] == Viewer(ViewerKind.ROOT, token_name=FUNCTIONS_TOKEN)


async def test_missing_and_not_callable_are_the_same_error(runtime: Any) -> None:
    for name in ("nope", "hello"):
        with pytest.raises(FunctionNotFound) as raised:
            callable_function(runtime, name)
        assert raised.value.message == f"function not found: {name!r}"
    with pytest.raises(FunctionNotFound) as raised:
        callable_function(runtime, "x" * 10_000)
    assert raised.value.message == f"function not found: '{'x' * 64}...'"


async def test_refusals_pass_and_crashes_are_function_failed(runtime: Any) -> None:
    with pytest.raises(FunctionError, match=r"^no$"):
        await call(runtime, callable_function(runtime, "refuse"), [], ANN)
    with pytest.raises(FunctionFailed, match=r"^Function 'crash' failed$"):
        await call(runtime, callable_function(runtime, "crash"), [], ANN)
