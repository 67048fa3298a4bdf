"""The ``functions:`` entries: resolvers, hooks and callable functions, and what each may have."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bastion.functions.settings import FunctionConfig

RESOLVER = {"handler": "m:f", "schema": "extend type Query { f: Int }"}
HOOK = {"handler": "m:f", "hook": "before", "operation": "Movie.create"}
CALLABLE = {"handler": "m:f", "callable": True}


@pytest.mark.parametrize(
    "entry",
    [
        RESOLVER,
        {**RESOLVER, "credential": True, "throttle_by": "email"},
        HOOK,
        CALLABLE,
        {**CALLABLE, "run_as": "caller"},
        {**CALLABLE, "run_as": "system"},
    ],
)
def test_the_three_kinds(entry: dict[str, Any]) -> None:
    FunctionConfig.model_validate(entry)


def test_a_callable_function_runs_as_its_caller_unless_system() -> None:
    assert FunctionConfig.model_validate(CALLABLE).runs_as_caller
    assert FunctionConfig.model_validate({**CALLABLE, "run_as": "caller"}).runs_as_caller
    assert not FunctionConfig.model_validate({**CALLABLE, "run_as": "system"}).runs_as_caller
    assert not FunctionConfig.model_validate(RESOLVER).runs_as_caller
    assert not FunctionConfig.model_validate(HOOK).runs_as_caller


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({**CALLABLE, "schema": "extend type Query { f: Int }"}, "not several"),
        ({**CALLABLE, "hook": "before", "operation": "Movie.create"}, "not several"),
        ({**CALLABLE, "operation": "Movie.create"}, "not several"),
        ({**CALLABLE, "credential": True}, "credential: true is for resolvers, not callable"),
        ({**CALLABLE, "throttle_by": "email"}, "throttle_by is for resolvers with credential"),
        ({**RESOLVER, "run_as": "system"}, "run_as is for callable functions"),
        ({**HOOK, "run_as": "caller"}, "run_as is for callable functions"),
        ({**CALLABLE, "callable": False}, "or callable: true"),
        ({**CALLABLE, "run_as": "root"}, "run_as"),
        ({**CALLABLE, "callable": "yes"}, "callable"),
        ({"handler": "m:f"}, "a function needs schema (a resolver), both hook and operation"),
        ({**RESOLVER, "hook": "after", "operation": "Movie.create"}, "not both"),
    ],
)
def test_combinations_that_do_not_fit_are_refused(entry: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as raised:
        FunctionConfig.model_validate(entry)
    assert expected in str(raised.value)


def test_a_function_bastion_calls_itself_has_no_other_kind() -> None:
    for kind in ("reset_password", "confirm_user"):
        assert FunctionConfig.model_validate({"handler": "m:f", "auth": kind}).auth == kind
        for other in (RESOLVER, HOOK, CALLABLE):
            with pytest.raises(ValidationError, match="called by Bastion itself"):
                FunctionConfig.model_validate({**other, "auth": kind})
    with pytest.raises(ValidationError):
        FunctionConfig.model_validate({"handler": "m:f", "auth": "anything"})
