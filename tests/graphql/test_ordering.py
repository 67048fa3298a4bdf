"""Both paths list a response's errors in one order: the order of their places in the response."""

from __future__ import annotations

import json

from graphql import ExecutionResult, GraphQLError

from bastion.graphql.ordering import in_response_order
from tests.graphql.world import NULLING_DOCUMENT, World


def _paths(body: str) -> list[list[str | int]]:
    return [error["path"] for error in json.loads(body)["errors"]]


def test_errors_follow_the_response_not_the_loaders(world: World) -> None:
    # graphql-core alone would list r1's errors first: r0's budgets wait a round of loaders.
    query = "{ r0: people { movies { title budget } } r1: movies { title budget } }"
    compiled, reference = world.both(query, {}, world.viewers["anonymous"])
    assert compiled == reference
    paths = _paths(compiled)
    assert paths[0] == ["r0", 0, "movies", 0, "budget"]
    assert paths[-1][0] == "r1"
    assert [p[0] for p in paths] == sorted(p[0] for p in paths)


def test_deeper_errors_of_an_item_come_before_the_next_item(world: World) -> None:
    query = "{ movies(orderBy: [title_ASC]) { budget director { movies { budget } } } }"
    compiled, reference = world.both(query, {}, world.viewers["anonymous"])
    assert compiled == reference
    items = [p[1] for p in _paths(compiled)]
    assert items == sorted(items)


def test_a_null_data_carries_the_error_that_nulled_it(world: World) -> None:
    compiled, reference = world.both(NULLING_DOCUMENT, {"on": True}, world.viewers["anonymous"])
    assert compiled == reference
    body = json.loads(compiled)
    assert body["data"] is None
    assert [(e["path"], e["message"]) for e in body["errors"]] == [
        (["r1", 0, "movies"], "Not allowed to sort by Movie.budget")
    ]


def test_the_first_failing_root_in_the_document_wins(world: World) -> None:
    query = (
        "{ a: movies { title } b: people { movies(orderBy: [budget_ASC]) { id } } "
        "c: people { movies(orderBy: [budget_DESC]) { id } } }"
    )
    compiled, reference = world.both(query, {}, world.viewers["anonymous"])
    assert compiled == reference
    assert _paths(compiled) == [["b", 0, "movies"]]


def test_errors_without_a_path_come_first() -> None:
    located = GraphQLError("located", path=["a", 1, "b"])
    first = GraphQLError("first", path=["a", 0, "c"])
    general = GraphQLError("general")
    result = ExecutionResult({"a": [{"c": None}, {"b": None}]}, [located, general, first])
    assert [e.message for e in in_response_order(result).errors or ()] == [
        "general",
        "first",
        "located",
    ]
