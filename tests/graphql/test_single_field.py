"""A one-field credential mutation answered without graphql-core's executor says exactly what
graphql-core says: the same data and the same errors (message, locations, path), for every
outcome a resolver can have, and graphql-core still answers every other shape."""

from __future__ import annotations

from inspect import isawaitable
from typing import Any

import pytest
from graphql import (
    ExecutionResult,
    GraphQLArgument,
    GraphQLError,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
    execute,
    parse,
)

from bastion.graphql.single_field import SingleField, answerable

PAYLOAD = GraphQLObjectType(
    "Payload",
    {
        "token": GraphQLField(GraphQLNonNull(GraphQLString)),
        "lifetime": GraphQLField(GraphQLNonNull(GraphQLInt)),
        "note": GraphQLField(GraphQLString),
    },
)
INPUT = GraphQLInputObjectType(
    "TradeInput",
    {"token": GraphQLInputField(GraphQLString), "mode": GraphQLInputField(GraphQLString)},
)


class Refused(Exception):
    """A resolver's refusal, as the credential fields raise theirs."""


async def _trade(_root: Any, info: Any, input: dict[str, Any]) -> Any:
    assert info.field_name in ("trade", "maybe") and info.context == {"who": "ctx"}
    mode = input.get("mode")
    answers: dict[str, Any] = {
        "ok": {"token": input.get("token") or "t", "lifetime": 60, "note": None},
        "object": type("Pair", (), {"token": "t", "lifetime": 1, "note": "n"})(),
        "callable": {"token": lambda info: f"from {info.field_name}", "lifetime": 2},
        "null": None,
        "null leaf": {"token": None, "lifetime": 1},
        "null nullable leaf": {"token": "t", "lifetime": 1, "note": None},
        "bad int": {"token": "t", "lifetime": "sixty"},
        "bad nullable": {"token": "t", "lifetime": 1, "note": {"not": "a string"}},
        "error leaf": {"token": "t", "lifetime": ValueError("no lifetime")},
        "error result": Refused("returned, not raised"),
    }
    if mode == "raise":
        raise Refused("Invalid refresh token")
    if mode == "graphql error":
        raise GraphQLError("refused", extensions={"code": "INVALID_REFRESH_TOKEN"})
    return answers[mode or "ok"]


async def _unmarked(root: Any, info: Any, input: dict[str, Any]) -> Any:
    return await _trade(root, info, input)


def _schema() -> GraphQLSchema:
    args = {"input": GraphQLArgument(GraphQLNonNull(INPUT))}
    plain = GraphQLField(PAYLOAD, args=args, resolve=_unmarked)
    return GraphQLSchema(
        query=GraphQLObjectType("Query", {"hello": GraphQLField(GraphQLString)}),
        mutation=GraphQLObjectType(
            "Mutation",
            {
                "trade": GraphQLField(
                    GraphQLNonNull(PAYLOAD), args=args, resolve=answerable(_trade)
                ),
                # The same resolver, marked once: answerable here too.
                "maybe": GraphQLField(PAYLOAD, args=args, resolve=_trade),
                "plain": plain,
            },
        ),
    )


SCHEMA = _schema()
TRADE = (
    "mutation T($input: TradeInput!) { trade(input: $input) { token lifetime note __typename } }"
)
MAYBE = (
    "mutation M($input: TradeInput!) { renamed: maybe(input: $input) { token a: lifetime note } }"
)


def _operation(document: Any) -> OperationDefinitionNode:
    found = document.definitions[-1]
    assert isinstance(found, OperationDefinitionNode)
    return found


def _plain(result: ExecutionResult) -> tuple[Any, Any]:
    return result.data, [e.formatted for e in result.errors or ()]


async def _both(query: str, variables: dict[str, Any] | None) -> tuple[Any, Any]:
    document = parse(query)
    context = {"who": "ctx"}
    shape = SingleField.of(SCHEMA, _operation(document), False)
    assert shape is not None
    fast = await shape.answer(SCHEMA, _operation(document), context, variables, False)
    reference = execute(SCHEMA, document, context_value=context, variable_values=variables)
    if isawaitable(reference):
        reference = await reference
    assert isinstance(reference, ExecutionResult)
    assert _plain(fast) == _plain(reference)
    return _plain(fast)


MODES = [
    "ok",
    "object",
    "callable",
    "null",
    "null leaf",
    "null nullable leaf",
    "bad int",
    "bad nullable",
    "error leaf",
    "error result",
    "raise",
    "graphql error",
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("query", [TRADE, MAYBE], ids=["non-null", "nullable, aliased"])
async def test_every_outcome_is_answered_as_graphql_core_answers_it(query: str, mode: str) -> None:
    await _both(query, {"input": {"token": "abc", "mode": mode}})


@pytest.mark.parametrize(
    "variables",
    [
        None,
        {},
        {"input": None},
        {"input": {"token": 5}},
        {"input": {"token": "abc", "extra": 1}},
        {"input": "nope"},
    ],
    ids=["none", "empty", "null", "wrong type", "unknown field", "not an object"],
)
async def test_variables_that_do_not_fit_are_refused_as_graphql_core_refuses_them(
    variables: dict[str, Any] | None,
) -> None:
    data, errors = await _both(TRADE, variables)
    assert data is None and errors


async def test_an_inline_argument_is_read_as_graphql_core_reads_it() -> None:
    data, errors = await _both('mutation { trade(input: {token: "inline"}) { token } }', None)
    assert data == {"trade": {"token": "inline"}} and not errors


@pytest.mark.parametrize(
    ("query", "fragments"),
    [
        ("mutation { plain(input: {}) { token } }", False),  # its resolver is not marked
        ("mutation { trade(input: {}) { token } maybe(input: {}) { token } }", False),
        ("mutation { trade(input: {}) { ...F } }", True),
        ("mutation { trade(input: {}) { token @skip(if: false) } }", False),
        ("mutation { trade(input: {}) @include(if: true) { token } }", False),
        ("mutation @dummy { trade(input: {}) { token } }", False),
        ("mutation { trade(input: {}) { token token } }", False),
        ("mutation { trade(input: {}) { ... on Payload { token } } }", False),
        ("query { hello }", False),
    ],
)
def test_any_other_shape_is_left_to_graphql_core(query: str, fragments: bool) -> None:
    assert SingleField.of(SCHEMA, _operation(parse(query)), fragments) is None
