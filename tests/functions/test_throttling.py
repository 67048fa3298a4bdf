"""Credential functions are throttled like the built-in logins: per client IP and per account."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bastion import load_project
from bastion.errors import ProjectError
from bastion.functions.settings import FunctionConfig
from bastion.tools.clock import FrozenClock
from tests.conftest import GraphQLClient, write_project

# A PIN check with no counter of its own: Bastion's throttle is all that guards it.
HANDLERS = """
from bastion.functions.runtime import FunctionError


def check_pin(event):
    if event.data["pin"] != "4321":
        raise FunctionError("Wrong PIN")
    return True


def send_code(event):
    return True
"""
PIN = "mutation ($u: String!, $p: String!) { checkPin(username: $u, pin: $p) }"


def functions(throttle_by: Any = "default") -> dict[str, Any]:
    check: dict[str, Any] = {
        "handler": "pins:check_pin",
        "credential": True,
        "schema": "extend type Mutation { checkPin(username: String!, pin: String!): Boolean! }",
    }
    if throttle_by != "default":
        check["throttle_by"] = throttle_by
    return {
        "checkPin": check,
        "sendCode": {
            "handler": "pins:send_code",
            "credential": True,
            "schema": "extend type Mutation { sendCode(username: String!): Boolean! }",
        },
    }


def project(tmp_path: Path, throttle: dict[str, Any] | None = None, **config: Any) -> Path:
    root = write_project(
        tmp_path / "pins",
        "type Note { text: String! }",
        functions=config.pop("functions", functions()),
        auth={"throttle": throttle or {}},
        **config,
    )
    (root / "pins.py").write_text(HANDLERS, encoding="utf-8")
    return root


async def pin(client: GraphQLClient, user: str, value: str) -> str:
    """The answer's error code, or "OK"."""
    body = await client.gql(PIN, {"u": user, "p": value})
    return body["errors"][0]["extensions"]["code"] if "errors" in body else "OK"


async def test_wrong_pins_delay_then_lock_the_account(
    tmp_path: Path, client_for: Callable[..., Any], clock: FrozenClock
) -> None:
    client = await client_for(load_project(project(tmp_path)))
    for _ in range(5):
        assert await pin(client, "ada", "0000") == "BAD_USER_INPUT"
    # From the fifth failure each attempt waits, the right PIN too.
    body = await client.gql(PIN, {"u": "ada", "p": "4321"})
    assert body["errors"][0]["extensions"] == {
        "code": "RATE_LIMITED",
        "retryAfter": 1,
        "function": "checkPin",
    }
    for _ in range(5):
        clock.advance(seconds=600)
        assert await pin(client, "ada", "0000") == "BAD_USER_INPUT"
    # Ten failures: locked, and the right PIN gets what a locked login gets.
    clock.advance(seconds=30)
    assert await pin(client, "ada", "4321") == "INVALID_CREDENTIALS"
    # Other accounts, spelled however, are their own; ADA is ada.
    assert await pin(client, "bob", "4321") == "OK"
    assert await pin(client, " ADA ", "4321") == "INVALID_CREDENTIALS"
    clock.advance(seconds=61)
    assert await pin(client, "ada", "4321") == "OK"


async def test_a_success_forgets_the_failures_but_another_function_does_not(
    tmp_path: Path, client_for: Callable[..., Any], clock: FrozenClock
) -> None:
    client = await client_for(load_project(project(tmp_path)))
    for _ in range(4):
        assert await pin(client, "ada", "0000") == "BAD_USER_INPUT"
    # sendCode(username) answers without error, but its account is its own: checkPin's
    # failures stay (a code request must not reset a code check).
    await client.data('mutation { sendCode(username: "ada") }')
    assert await pin(client, "ada", "0000") == "BAD_USER_INPUT"
    assert await pin(client, "ada", "4321") == "RATE_LIMITED"
    clock.advance(seconds=2)
    assert await pin(client, "ada", "4321") == "OK"
    for _ in range(5):
        assert await pin(client, "ada", "0000") == "BAD_USER_INPUT"


async def test_attempts_per_client_ip_count_every_account(
    tmp_path: Path, client_for: Callable[..., Any]
) -> None:
    client = await client_for(load_project(project(tmp_path, {"login_per_ip": "3/minute"})))
    answers = [await pin(client, f"user{n}", "0000") for n in range(4)]
    assert answers == ["BAD_USER_INPUT"] * 3 + ["RATE_LIMITED"]


async def test_throttle_by_null_counts_per_ip_only(
    tmp_path: Path, client_for: Callable[..., Any]
) -> None:
    root = project(tmp_path, functions=functions(throttle_by=None))
    client = await client_for(load_project(root))
    assert [await pin(client, "ada", "0000") for _ in range(12)] == ["BAD_USER_INPUT"] * 12
    assert await pin(client, "ada", "4321") == "OK"


async def test_a_credential_function_cannot_follow_a_data_mutation(
    tmp_path: Path, client_for: Callable[..., Any]
) -> None:
    client = await client_for(load_project(project(tmp_path)))
    body = await client.gql(
        'mutation { createNote(data: {text: "x"}) { id } checkPin(username: "a", pin: "4321") }'
    )
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_throttle_by_must_name_an_argument(
    tmp_path: Path, client_for: Callable[..., Any]
) -> None:
    with pytest.raises(ProjectError) as refused:
        await client_for(load_project(project(tmp_path, functions=functions(throttle_by="email"))))
    assert refused.value.problems == [
        "bastion.yml: functions.checkPin.throttle_by: Mutation.checkPin has no argument "
        "'email' (its arguments: username, pin)"
    ]


def test_throttle_by_is_for_credential_resolvers_only() -> None:
    with pytest.raises(ValidationError, match="throttle_by is for resolvers with credential"):
        FunctionConfig.model_validate(
            {"handler": "m:f", "schema": "extend type Query { f: Int }", "throttle_by": "email"}
        )
